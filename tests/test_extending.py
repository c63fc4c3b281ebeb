"""docs/extending.md's worked example, run: one new file and one registry line per part.

The package is copied, the page's `# file:` blocks are written and its `# registry:` lines added,
and nothing else is touched; then a run trains, resumes and samples with the three new parts.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny import TINY_ARGS

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "extending.md"
BLOCK = re.compile(r"```python\n# (file|registry): (\S+)\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str, str]]:
    return BLOCK.findall(PAGE.read_text())


def add_registry_line(path: Path, line: str) -> None:
    text = path.read_text()
    brace = text.index("{", text.index("Registry("))
    path.write_text(text[: brace + 1] + "\n" + line.rstrip("\n") + text[brace + 1 :])


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> Path:
    """A copy of src/ with the page's three parts added."""
    root = tmp_path_factory.mktemp("extended")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for kind, rel, body in blocks():
        target = root / rel
        if kind == "file":
            assert not target.exists(), f"{rel} would overwrite an existing file"
            target.write_text(body)
        else:
            add_registry_line(target, body)
    return root


def test_the_page_adds_three_files_and_three_registry_lines():
    kinds = [(kind, rel) for kind, rel, _ in blocks()]
    assert [k for k, _ in kinds] == ["file", "registry"] * 3
    assert all(len(body.strip().splitlines()) == 1 for k, _, body in blocks() if k == "registry")


def test_only_the_registries_change(extended):
    changed, added = [], []

    def walk(cmp: filecmp.dircmp, rel: Path) -> None:
        changed.extend(str(rel / f) for f in cmp.diff_files)
        added.extend(str(rel / f) for f in cmp.right_only if f != "__pycache__")
        for name, sub in cmp.subdirs.items():
            walk(sub, rel / name)

    walk(filecmp.dircmp(REPO / "src" / "cxrgan", extended / "src" / "cxrgan",
                        ignore=["__pycache__"]), Path("src/cxrgan"))  # fmt: skip
    assert sorted(changed) == [
        "src/cxrgan/augment/__init__.py",
        "src/cxrgan/losses/__init__.py",
        "src/cxrgan/models/__init__.py",
    ]
    assert sorted(added) == [
        "src/cxrgan/augment/noise.py",
        "src/cxrgan/losses/lsgan.py",
        "src/cxrgan/models/mlp.py",
    ]


def _cxrgan(extended: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(extended / "src")}
    return subprocess.run([sys.executable, "-m", "cxrgan", *args], env=env, cwd=extended,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_new_parts_train_resume_and_generate(extended):
    run = extended / "run"
    parts = ["--model", "mlp", "--loss", "lsgan", "--augment", "noise"]
    budget = ["--demo-images", "48", "--steps-per-epoch", "3", "--log-every", "1"]
    out = _cxrgan(extended, "train", *TINY_ARGS, *parts, *budget, "--epochs", "1",
                  "--out", str(run))  # fmt: skip
    assert out.returncode == 0, out.stderr
    help_text = _cxrgan(extended, "train", "--help").stdout
    assert "mlp" in help_text and "lsgan" in help_text and "noise" in help_text

    out = _cxrgan(extended, "train", "--resume", str(run), "--epochs", "2")
    assert out.returncode == 0, out.stderr
    out = _cxrgan(extended, "generate", str(run), "--n", "4", "--out", str(extended / "gen"))
    assert out.returncode == 0, out.stderr
    assert len(list((extended / "gen").glob("*.png"))) == 4
    assert (run / "samples" / "epoch_0002.png").is_file()
