"""Fault injection, bad input: settings that are not finite numbers, non-finite numbers in the
JSON files a run writes, and file names that would forge a log line (docs/reliability.md).

Each bad setting is refused in one line with exit status 2 before anything is written; every
JSON file stays strict JSON (RFC 8259: no NaN or Infinity literals); a name is printed with its
control characters escaped.
"""

from __future__ import annotations

import pytest
from tiny import TINY_ARGS

from cxrgan.cli.main import main
from cxrgan.config import SETTINGS

TINY = [*TINY_ARGS, "--no-cache", "--log-every", "1"]
FLOATS = [s for s in SETTINGS if s.kind is float]


def _refused(capsys, argv: list[str]) -> str:
    """The one line on stderr of a command that exits 2."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


# ------------------------------------------------------------------------------------------------
# Settings: finite numbers in their declared ranges, checked before anything is written


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_rate_is_one_line_and_leaves_no_run_folder(tmp_path, capsys, value):
    run = tmp_path / "run"
    err = _refused(capsys, ["train", *TINY, f"--g-lr={value}", "--out", str(run)])
    assert err == f"cxrgan train: error: --g-lr must be a finite number, got {value}"
    toml = tmp_path / "c.toml"
    toml.write_text(f"g_lr = {value}\n")
    err = _refused(capsys, ["train", *TINY, "--config", str(toml), "--out", str(run)])
    assert err == f"cxrgan train: error: {toml}: g_lr must be a finite number, got {value}"
    assert not run.exists()


@pytest.mark.parametrize("s", FLOATS, ids=lambda s: s.name)
def test_every_float_option_refuses_nan_and_infinity(tmp_path, capsys, s):
    for value in ("nan", "inf"):
        err = _refused(capsys, ["train", s.flag, value, "--out", str(tmp_path / "r")])
        assert err.endswith(f"{s.flag} must be a finite number, got {value}")
    assert not (tmp_path / "r").exists()


def test_a_non_finite_rate_on_resume_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*argv, "--out", str(run)]) == 0
    before = {p: p.read_bytes() for p in (run / "config.json", run / "metrics.jsonl")}
    capsys.readouterr()
    err = _refused(capsys, ["train", "--resume", str(run), "--epochs", "2", "--g-lr", "nan"])
    assert err.endswith("--g-lr must be a finite number, got nan")
    assert {p: p.read_bytes() for p in before} == before
