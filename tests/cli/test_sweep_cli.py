"""`cxrgan sweep` on the command line: help, user errors, continuing and comparing (no training)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from cxrgan.cli.main import build_parser, main
from cxrgan.cli.sweep import spec_from_args
from cxrgan.config import SETTINGS
from cxrgan.reporting.plots import save_grid
from cxrgan.sweep.folder import write_sweep
from cxrgan.sweep.spec import build_spec


def _sweep_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["sweep"]


def test_every_option_has_help_and_every_train_option_passes_through():
    parser = _sweep_parser()
    flags = {s for a in parser._actions for s in a.option_strings}
    for action in parser._actions:
        assert action.help and len(action.help) > 20, action.option_strings or action.dest
    for s in SETTINGS:  # declared once: new train settings appear here too
        assert s.flag in flags or not s.sweepable, s.flag
    assert {"--hflip", "--no-hflip", "--no-cache", "--no-progress", "--seeds", "--sweep-param",
            "--steps", "--jobs", "--compare-only", "--config"} <= flags  # fmt: skip
    text = parser.format_help()
    assert "cxrgan sweep sweeps/g-lr --compare-only" in text  # examples in the epilog


def _spec_of(*argv: str):
    return spec_from_args(_sweep_parser().parse_args(["--out", "s", *argv]))


def test_a_list_sweeps_an_option_and_one_value_goes_to_every_member(tmp_path):
    spec = _spec_of("--batch-size", "16,32", "--image-size", "32", "--hflip", "--no-cache",
                    "--g-lr", "1e-3", "--seeds", "1,2", "--beta1", "0.5,0.9")  # fmt: skip
    assert spec.grid == {"g_lr": [1e-3], "beta1": [0.5, 0.9], "batch_size": [16, 32],
                         "seed": [1, 2]}  # fmt: skip
    assert spec.base == {"image_size": 32, "hflip": True}
    assert spec.runtime == {"cache": False}
    assert _spec_of("--hflip", "true,false", "--d-lr", "2e-4").grid == {
        "hflip": [True, False], "d_lr": [2e-4]}  # fmt: skip
    assert _spec_of("--sweep-param", "nz=16", "--g-lr", "1e-3").grid == {"g_lr": [1e-3],
                                                                       "nz": [16]}  # fmt: skip
    toml = tmp_path / "c.toml"
    toml.write_text("epochs = 3\nbatch_size = 8\nout = 'x'\n")
    spec = _spec_of("--config", str(toml), "--batch-size", "16,32", "--epochs", "2")
    assert spec.base == {"epochs": 2} and spec.grid == {"batch_size": [16, 32]}


def _fake_run(run: Path, g_lr: float, stopped: str = "completed") -> None:
    run.mkdir(parents=True)
    info = {"config": {"g_lr": g_lr, "epochs": 1}, "history": [], "stopped": {"reason": stopped}}
    (run / "config.json").write_text(json.dumps(info))
    record = {"epoch": 1, "loss_d": 1.0, "loss_g": 1.2, "d_x": 0.6 + g_lr, "d_g_z1": 0.4,
              "d_g_z2": 0.4, "lr_g": g_lr, "lr_d": 2e-4}  # fmt: skip
    records = [{"step": 3 * (i + 1), **record} for i in range(3)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    save_grid(np.zeros((4, 1, 8, 8)), run / "samples" / "epoch_0001.png")


@pytest.fixture
def finished_sweep(tmp_path) -> Path:
    """A sweep folder whose three members are finished (hand-made: nothing trains)."""
    spec = build_spec({"g_lr": [2e-4, 1e-3, 2e-3]}, {"epochs": 1, "image_size": 32})
    sweep = tmp_path / "sweep"
    for member in spec.members():
        _fake_run(member.run_dir(sweep), member.params["g_lr"])
    write_sweep(sweep, {"spec": spec.to_dict(), "members": []})
    return sweep


def test_rerunning_a_finished_sweep_skips_every_member(finished_sweep, capsys):
    before = {p: p.stat().st_mtime_ns for p in finished_sweep.rglob("metrics.jsonl")}
    # The stored spec is used when only the folder is named, and the same grid is accepted.
    assert main(["sweep", str(finished_sweep)]) == 0
    same = ["sweep", "--out", str(finished_sweep), "--g-lr", "2e-3,1e-3,2e-4", "--epochs", "1",
            "--image-size", "32", "--device", "cpu"]  # fmt: skip
    assert main(same) == 0
    out = capsys.readouterr().out
    assert out.count("] skip     g_lr=") == 6 and "] start" not in out and "] resume" not in out
    assert {p: p.stat().st_mtime_ns for p in finished_sweep.rglob("metrics.jsonl")} == before
    assert not list(finished_sweep.glob("runs/*.log"))  # no member process was started
    summary = json.loads((finished_sweep / "sweep.json").read_text())
    assert [m["name"] for m in summary["members"]] == ["g_lr=2e-4", "g_lr=1e-3", "g_lr=2e-3"]
    assert [m["score"] for m in summary["members"]] == pytest.approx([0.2002, 0.201, 0.202])
    assert summary["spec"]["runtime"] == {"device": "cpu"}


def test_compare_only_rebuilds_and_reports_unfinished_members(finished_sweep, capsys):
    (finished_sweep / "runs" / "g_lr=1e-3" / "config.json").write_text(
        json.dumps({"config": {"epochs": 1}, "stopped": {"reason": "interrupted"}})
    )
    assert main(["sweep", str(finished_sweep), "--compare-only"]) == 1  # not all done
    out = capsys.readouterr().out
    assert "   3  g_lr=1e-3  interrupted" in out
    assert "1 member(s) not finished: re-run the sweep command to resume or retry them" in out
    for name in ("sweep.json", "grids.png", "losses.png"):
        assert (finished_sweep / name).is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--g-lr", "1e-3"], "say where the sweep lives"),
        (["--out", "{tmp}/s", "--g-lr", "1e-3,abc"], "--g-lr: not a number: 'abc'"),
        (["--out", "{tmp}/s", "--seeds", "1,2", "--seed", "3"], "give --seed or --seeds"),
        (["--out", "{tmp}/s", "--g-lr", "1e-3", "--steps", "9", "--epochs", "2"], "drop --epochs"),
        (["--out", "{tmp}/s", "--sweep-param", "lr=1,2"], "unknown setting 'lr'"),
        (["--out", "{tmp}/s", "--sweep-param", "g_lr=1", "--g-lr", "2"], "swept twice"),
        (["--out", "{tmp}/s", "--sweep-param", "nz=8", "--nz", "16"], "--nz is swept twice"),
        (["--out", "{tmp}/s", "--seed", "1,2", "--seeds", "3"], "give --seed or --seeds"),
        (["--out", "{tmp}/s", "--batch-size", "8,x"], "--batch-size: not a whole number: 'x'"),
        (["--out", "{tmp}/s", "--hflip", "maybe"], "--hflip: not true/false: 'maybe'"),
        (["--out", "{tmp}/s", "--fit", "crop,zoom"], "--fit must be one of crop, pad, squash"),
        (["--out", "{tmp}/s", "--g-lr", "1e-3,nan"], "--g-lr must be a finite number, got nan"),
        (["--out", "{tmp}/s", "--sweep-param", "ema_kimg=1,inf"],
         "--ema-kimg must be a finite number, got inf"),
        (["--out", "{tmp}/s", "--g-lr", "1e-3", "--beta1", "inf"],
         "--beta1 must be a finite number, got inf"),
        (["--out", "{tmp}/s", "--g-lr", "1e-3", "--jobs", "0"], "--jobs must be at least 1"),
        (["--out", "{tmp}/s", "--epochs", "2"], "nothing to sweep"),
        (["{tmp}/s", "--compare-only"], "holds no sweep"),
        (["{tmp}/s"], "holds no sweep"),
        (["{tmp}/a", "--out", "{tmp}/b"], "two sweep folders given"),
        (["--out", "{tmp}/s", "--g-lr", "1e-3", "--data", "{tmp}/none"], "data folder not found"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxrgan sweep: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "s" / "runs").exists()  # nothing trained, nothing half-written


def test_a_member_that_cannot_start_fails_alone_and_keeps_your_files(finished_sweep, capsys):
    member = finished_sweep / "runs" / "g_lr=1e-3"
    (member / "config.json").write_text(json.dumps({"config": {"epochs": 1}}))  # died early
    (member / "notes.txt").write_text("mine")  # ... and someone left a file there
    assert main(["sweep", str(finished_sweep)]) == 1
    out = capsys.readouterr().out
    assert "[2/3] FAILED   g_lr=1e-3  could not start: " in out and "notes.txt" in out
    assert out.count("] skip ") == 2
    assert (member / "notes.txt").read_text() == "mine"
    summary = json.loads((finished_sweep / "sweep.json").read_text())
    failed = next(m for m in summary["members"] if m["name"] == "g_lr=1e-3")
    assert failed["status"] == "failed" and "notes.txt" in failed["error"]
    assert failed["rank"] == 3 and summary["best"] == "g_lr=2e-4"
    # --compare-only later still knows it failed (nothing changed in its folder since).
    assert main(["sweep", str(finished_sweep), "--compare-only"]) == 1
    summary = json.loads((finished_sweep / "sweep.json").read_text())
    assert next(m for m in summary["members"] if m["name"] == "g_lr=1e-3")["status"] == "failed"
