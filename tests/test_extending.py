"""docs/extending.md's worked examples, run: one new file and one registry line per part.

The package is copied, the page's `# file:` blocks are written and its `# registry:` lines added,
and nothing else is touched; then a run trains, resumes and samples with the three new GAN parts,
`cxrgan evaluate` reports the new metric, and the new command runs.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny import TINY_ARGS

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "extending.md"
BLOCK = re.compile(r"```python\n# (file|registry): (\S+)\n(.*?)```", re.S)
# A registry's table of entries, or the tuple of command names in cli/main.py.
TABLE = re.compile(r"Registry\([^{]*\{(?P<entries>[^}]*)\}|COMMANDS = \((?P<names>[^)]*)\)")


def blocks() -> list[tuple[str, str, str]]:
    return BLOCK.findall(PAGE.read_text())


def add_registry_line(path: Path, line: str) -> None:
    """`line` after the last entry of the file's table, as the page says to add it."""
    text = path.read_text()
    table = TABLE.search(text)
    assert table, f"{path} has no registry table"
    end = table.end("entries") if table["entries"] is not None else table.end("names")
    last = text.rindex("\n", 0, end)  # where the last entry's line ends
    path.write_text(text[:last] + "\n" + line.rstrip("\n") + text[last:])


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> Path:
    """A copy of src/ with the page's five parts added."""
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


def test_the_page_adds_five_files_and_five_registry_lines():
    kinds = [(kind, rel) for kind, rel, _ in blocks()]
    assert [k for k, _ in kinds] == ["file", "registry"] * 5
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
        "src/cxrgan/cli/main.py",
        "src/cxrgan/losses/__init__.py",
        "src/cxrgan/metrics/registry.py",
        "src/cxrgan/models/__init__.py",
    ]
    assert sorted(added) == [
        "src/cxrgan/augment/noise.py",
        "src/cxrgan/cli/contrast.py",
        "src/cxrgan/losses/lsgan.py",
        "src/cxrgan/metrics/contrast.py",
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


def _folder(path: Path, images: np.ndarray) -> Path:
    path.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(path / f"{i:03d}.png")
    return path


def _contrast(images: np.ndarray) -> np.ndarray:
    """Per-image std of uint8 (N, H, W) in [0, 1], written here independently of the page."""
    return (images / 255.0).reshape(len(images), -1).std(axis=1, ddof=1)


def _flattened(images: np.ndarray) -> np.ndarray:
    """Gray levels pulled halfway to mid-gray: less contrast."""
    return np.round(images.astype(np.float64) / 2 + 64).astype(np.uint8)


def test_the_new_metric_is_evaluated_overall_and_per_class(extended, tmp_path):
    rng = np.random.default_rng(0)
    real = {c: rng.integers(0, 256, (12, 32, 32), dtype=np.uint8) for c in ("NORMAL", "PNEU")}
    fake = {c: _flattened(rng.integers(0, 256, (10, 32, 32), dtype=np.uint8)) for c in real}
    for c in real:
        _folder(tmp_path / "real" / c, real[c])
        _folder(tmp_path / "fake" / c, fake[c])
    out = _cxrgan(extended, "evaluate", "--real", str(tmp_path / "real"), "--fake",
                  str(tmp_path / "fake"), "--json", str(tmp_path / "e.json"),
                  "--memorisation-png", str(tmp_path / "m.png"), "--no-progress")  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "e.json").read_text())
    ratio = result["metrics"]["contrast_ratio"]
    expected = _contrast(np.concatenate(list(fake.values()))).mean() / _contrast(
        np.concatenate(list(real.values()))
    ).mean()
    assert ratio == pytest.approx(expected, rel=1e-9) and ratio < 0.6  # flattened: about half
    assert list(result["metrics"])[-3:] == ["contrast_ratio", "n_real", "n_fake"]
    assert result["about"]["contrast_ratio"]["better"] == "~1"
    for c in real:
        got = result["per_class"][c]["metrics"]["contrast_ratio"]
        want = _contrast(fake[c]).mean() / _contrast(real[c]).mean()
        assert got == pytest.approx(want, rel=1e-9)
    rows = [line.split() for line in out.stdout.splitlines() if line.startswith("contrast")]
    assert len(rows) == 2 and rows[0][2] == "~1"  # the metrics table and the per-class table


def test_the_new_command_prints_a_folders_contrast(extended, tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (5, 16, 16), dtype=np.uint8)
    folder = _folder(tmp_path / "images", images)
    out = _cxrgan(extended, "contrast", str(folder), "--image-size", "16", "--no-progress")
    assert out.returncode == 0, out.stderr
    head, value = out.stdout.strip().rsplit(" ", 1)
    assert head == "5 images at 16 px: mean contrast"
    assert float(value) == pytest.approx(_contrast(images).mean(), rel=1e-5)
    assert "contrast" in _cxrgan(extended, "--help").stdout
    missing = _cxrgan(extended, "contrast", str(tmp_path / "missing"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("cxrgan contrast: error: data folder not found")
    assert len(missing.stderr.strip().splitlines()) == 1
