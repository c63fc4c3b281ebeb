"""`cxrgan diagnose` and `cxrgan report` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cxrgan.cli.main import main


def test_diagnose_text(make_run: Callable[..., Path], capsys: pytest.CaptureFixture) -> None:
    run = make_run("over", kind="d_overpowers_g", epochs=5)
    assert main(["diagnose", str(run)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Diagnosis: D overpowers G [d_overpowers_g]")
    assert "--g-lr ×5 (from 2e-4 to 1e-3)" in out


def test_diagnose_json_and_window(
    make_run: Callable[..., Path], capsys: pytest.CaptureFixture
) -> None:
    run = make_run("weak", kind="d_too_weak", epochs=5)
    assert main(["diagnose", str(run), "--json", "--window", "20"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["state"] == "d_too_weak"
    assert data["evidence"]["records"] == 20
    assert "\n" not in data["hint"]


def test_diagnose_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["diagnose", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrgan diagnose: error:") and "not a run directory" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["diagnose", str(tmp_path), "--window", "0"])
    assert exc.value.code == 2


def test_report_run_and_sweep(
    run_dir: Path, sweep_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")
    assert (run_dir / "report.html").is_file()
    assert main(["report", str(sweep_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(sweep_dir / "report.html")


def test_report_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["diagnose", "report"])
def test_help_describes_every_option(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "RUN" in out
    if command == "diagnose":
        assert "--window N" in out and "--json" in out and "d_overpowers_g" in out
