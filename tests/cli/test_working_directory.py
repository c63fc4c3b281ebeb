"""No command drops files where the user stands: every output goes where an option said (--out,
--json, --sheet, --memorisation-png) or into the run, and without such a path it is not
written. Each command that writes files runs here from an empty working directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny import TINY_ARGS

from cxrgan.cli.main import main

CLASSES = {"NORMAL": 8, "PNEUMONIA": 8}
UTILITY_FAST = ["--image-size", "16", "--seeds", "1", "--epochs", "1", "--bootstrap", "100",
                "--no-progress", "--no-cache"]  # fmt: skip


def _classes(root: Path, seed: int) -> Path:
    """root/<class>/NN.png: 32 px noise, a class a little brighter than the one before."""
    rng = np.random.default_rng(seed)
    for k, (name, n) in enumerate(CLASSES.items()):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = np.clip(rng.normal(80 + 40 * k, 30, (32, 32)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(root / name / f"{i:02d}.png")
    return root


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, and the decode cache kept out of ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def _ok(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_commands_write_only_where_told(here: Path, tmp_path: Path, capsys) -> None:
    real, fake, test = (_classes(tmp_path / name, seed) for seed, name in
                        enumerate(("real", "fake", "test")))  # fmt: skip
    run = tmp_path / "run"
    _ok(["train", *TINY_ARGS, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1",
         "--out", str(run)], capsys)  # fmt: skip

    out = _ok(["data", "inspect", str(real), "--workers", "1", "--no-progress"], capsys)
    assert "contact sheet not written (--sheet PNG writes one)" in out
    _ok(["data", "prepare", str(real), "--image-size", "32", "--workers", "1", "--no-progress"],
        capsys)  # fmt: skip
    out = _ok(["evaluate", "--real", str(real), "--fake", str(fake), "--n", "16",
               "--no-progress"], capsys)  # fmt: skip
    assert "closest generated/training pairs: not saved (--memorisation-png FILE)" in out
    out = _ok(["evaluate", "--real", str(real), "--fake", str(run), "--n", "16",
               "--no-progress"], capsys)  # fmt: skip
    assert f"closest generated/training pairs: {run / 'memorisation.png'}" in out
    assert (run / "memorisation.png").is_file()
    out = _ok(["utility", "--train", str(real), "--test", str(test), "--synthetic", str(fake),
               *UTILITY_FAST], capsys)  # fmt: skip
    assert "utility.json and utility.png not written (--out DIR writes them)" in out
    assert "TSTR" in out  # the summary is printed all the same

    _ok(["generate", str(run), "--n", "2", "--grid", "--out", str(tmp_path / "gen")], capsys)
    _ok(["diagnose", str(run)], capsys)
    _ok(["diagnose", str(run), "--json"], capsys)
    _ok(["report", str(run)], capsys)
    _ok(["export", str(run), "--out", str(tmp_path / "bundle")], capsys)
    _ok(["turing", "make", "--real", str(real), "--fake", str(run), "--n", "4", "--out",
         str(tmp_path / "study")], capsys)  # fmt: skip
    assert list(here.iterdir()) == []


def test_help_says_where_files_go(capsys) -> None:
    """Each option that names an output says what happens without it."""
    expected = {
        ("data", "inspect"): "nothing is written where you stand",
        ("evaluate",): "for a folder, not saved",
        ("utility",): "for a --synthetic folder, not written",
    }
    for words, says in expected.items():
        with pytest.raises(SystemExit):
            main([*words, "--help"])
        assert says in " ".join(capsys.readouterr().out.split())
