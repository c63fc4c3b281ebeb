"""cxrgan as a user installs it: `python -m build` makes an sdist and, from it, a wheel; the wheel
goes into a fresh virtual environment and runs from a folder outside the checkout.

The fresh environment reuses this interpreter's packages (torch among them) through a .pth
file, and pip installs the wheel alone from the file (--no-index --no-deps), so nothing is
downloaded. The checkout's src/ is not on its path (no PYTHONPATH, and the .pth adds
directories without running their own .pth files, so an editable install stays inert there):
whatever the run needs has to be in the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image
from tiny import TINY_ARGS

import cxrgan

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "cxrgan"
VERSION = cxrgan.__version__
# Beside the package, what the sdist carries for a user who builds or cites it.
SDIST_EXTRAS = ("LICENSE", "CITATION.cff", "README.md", "pyproject.toml", "configs/demo.toml",
                "examples/quickstart.ipynb", "examples/api_example.py")  # fmt: skip


def _package_files() -> set[str]:
    """Every file of src/cxrgan, as a path from src/ (what a wheel holds under its root)."""
    return {
        p.relative_to(PACKAGE.parent).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _checkout_status() -> str | None:
    """`git status` of the checkout (None outside a git checkout, e.g. an unpacked sdist)."""
    if not (REPO / ".git").exists():
        return None
    done = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from it, as `python -m build` makes them (with the
    installed setuptools instead of an isolated download: the dev extra has both)."""
    out = tmp_path_factory.mktemp("dist")
    before = _checkout_status()
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                           str(REPO)], cwd=out, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert _checkout_status() == before, "building changed the checkout"
    return out


def test_wheel_and_sdist_carry_the_package_licence_and_citation(dist: Path) -> None:
    wheel = dist / f"cxrgan-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"cxrgan-{VERSION}.dist-info/METADATA").decode()
        licence = z.read(f"cxrgan-{VERSION}.dist-info/licenses/LICENSE").decode()
    info = {n for n in names if n.startswith(f"cxrgan-{VERSION}.dist-info/")}
    assert names - info == _package_files()  # every file of the package, and nothing else
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
    assert "Copyright (c) 2026 the cxrgan authors" in licence
    assert licence == (REPO / "LICENSE").read_text()

    with tarfile.open(dist / f"cxrgan-{VERSION}.tar.gz") as tar:
        root = f"cxrgan-{VERSION}/"
        held = {m.name.removeprefix(root) for m in tar.getmembers() if m.isfile()}
    assert {f"src/{p}" for p in _package_files()} <= held
    assert set(SDIST_EXTRAS) <= held


def _fresh_venv(root: Path, wheel: Path) -> Path:
    """A venv with the wheel installed and this interpreter's site-packages reachable."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    # This interpreter's site-packages (its venv's, and the system's for --system-site-packages,
    # where a CUDA torch may live); not the checkout's src/ that an editable install added.
    host = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    Path(purelib, "_host_packages.pth").write_text("\n".join(host) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
           "--quiet", "--no-index", "--no-deps", "--ignore-installed", str(wheel)]  # fmt: skip
    done = subprocess.run(pip, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return venv


def _runner(venv: Path, cwd: Path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               XDG_CACHE_HOME=str(cwd.parent / "cache"), OMP_NUM_THREADS="2")  # fmt: skip

    def run(*argv: str) -> str:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    return run


def test_installed_wheel_trains_generates_and_reports_outside_the_checkout(
    dist: Path, tmp_path: Path
) -> None:
    venv = _fresh_venv(tmp_path, dist / f"cxrgan-{VERSION}-py3-none-any.whl")
    work = tmp_path / "work"  # where the user stands: it must stay empty
    work.mkdir()
    run = _runner(venv, work)
    run_dir, images, bundle = tmp_path / "run", tmp_path / "images", tmp_path / "bundle"

    assert run("cxrgan", "--version").strip() == f"cxrgan {VERSION}"
    where = run("python", "-c", "import cxrgan; print(cxrgan.__file__)").strip()
    assert Path(where).is_relative_to(venv), f"cxrgan imported from {where}, not the wheel"
    run("cxrgan", "train", "--demo-images", "32", "--epochs", "1", *TINY_ARGS, "--out",
        str(run_dir))  # fmt: skip
    config = json.loads((run_dir / "config.json").read_text())
    assert config["cxrgan_version"] == VERSION and config["stopped"]["reason"] == "completed"
    assert (run_dir / "checkpoints" / "last.safetensors").is_file()

    run("cxrgan", "generate", str(run_dir), "--n", "3", "--out", str(images), "--grid")
    written = sorted(p.name for p in images.iterdir())
    assert written == ["grid.png", "manifest.csv", *(f"sample_0000{i}.png" for i in range(3))]
    with Image.open(images / "sample_00000.png") as png:
        assert png.size == (32, 32) and png.mode == "L"

    printed = run("cxrgan", "report", str(run_dir))
    report = run_dir / "report.html"
    assert str(report) in printed
    page = report.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page  # the CSS is inlined
    assert "Samples across epochs" in page and "data:image/png;base64," in page

    run("cxrgan", "export", str(run_dir), "--out", str(bundle))  # reads its own source files
    assert {"generator.py", "verify.py", "load.py", "README.md"} <= {
        p.name for p in bundle.iterdir()
    }
    assert list(work.iterdir()) == []


def test_citation_names_this_version_and_the_data_it_is_tested_on() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text("utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == VERSION and cff["license"] == "MIT"
    refs = {r["type"]: r for r in cff["references"]}
    assert refs["dataset"]["doi"] == "10.17632/rscbjbr9sj.2"
    assert refs["dataset"]["license"] == "CC-BY-4.0"
    article = refs["article"]
    assert article["doi"] == "10.1016/j.cell.2018.02.010" and article["journal"] == "Cell"
    assert (article["volume"], article["issue"], article["start"], article["end"]) == (
        172, 5, 1122, 1131)  # fmt: skip
