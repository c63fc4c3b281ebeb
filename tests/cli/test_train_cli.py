"""`cxrgan train` / `generate` end to end, and every user error as one line with exit code ≠ 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from tiny import TINY_ARGS

from cxrgan.cli.main import main

TINY = [*TINY_ARGS, "--no-cache"]


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cxrgan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_demo_data_end_to_end(tmp_path):
    run = tmp_path / "run"
    r = _cli(
        "train",
        *TINY,
        "--demo-images",
        "48",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "3",
        "--log-every",
        "1",
        "--out",
        str(run),
    )
    assert r.returncode == 0, r.stderr
    assert "synthetic" in r.stdout  # the log says plainly this is demo data
    info = json.loads((run / "config.json").read_text())
    assert info["dataset"]["synthetic"] is True and info["dataset"]["count"] == 48
    assert info["config"]["g_lr"] == 2e-4 and info["config"]["d_lr"] == 2e-4
    assert {"cxrgan_version", "torch_version", "python_version", "device"} <= info.keys()
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    keys = {
        "step",
        "epoch",
        "loss_d",
        "loss_g",
        "d_x",
        "d_g_z1",
        "d_g_z2",
        "lr_g",
        "lr_d",
        "images_per_s",
        "elapsed_s",
    }
    assert all(keys <= r.keys() for r in records)
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() for r in records)
    for name in (
        "samples/real.png",
        "samples/epoch_0001.png",
        "samples/epoch_0002.png",
        "plots/losses.png",
        "checkpoints/last.safetensors",
        "train.log",
    ):
        assert (run / name).is_file(), name
    report = (run / "report.html").read_text()
    assert "completed" in report and "in progress" not in report
    grid = Image.open(run / "samples/epoch_0002.png")
    assert grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 64 fixed-noise images, 8 columns, padding 2

    out = tmp_path / "gen"
    r = _cli("generate", str(run), "--n", "5", "--out", str(out), "--grid")
    assert r.returncode == 0, r.stderr
    pngs = sorted(out.glob("sample_*.png"))
    assert len(pngs) == 5
    assert all(Image.open(p).size == (32, 32) and Image.open(p).mode == "L" for p in pngs)
    assert (out / "grid.png").is_file()


def test_real_png128_end_to_end(tmp_path, png128):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(png128),
                *TINY,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "2",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    info = json.loads((run / "config.json").read_text())
    assert info["dataset"]["classes"] == {"NORMAL": 363, "PNEUMONIA": 1051}
    assert info["dataset"]["root"] == str(png128.resolve())
    assert info["stopped"]["reason"] == "completed"
    real = np.asarray(Image.open(run / "samples/real.png"))
    assert real.std() > 20  # real X-rays, not a blank grid
    assert main(["train", "--resume", str(run), "--epochs", "2", "--g-lr", "1e-3"]) == 0
    info = json.loads((run / "config.json").read_text())
    assert info["history"][-1]["changes"] == {"epochs": [1, 2], "g_lr": [2e-4, 1e-3]}
    assert main(["generate", str(run), "--n", "3", "--out", str(tmp_path / "g")]) == 0
    assert len(list((tmp_path / "g").glob("*.png"))) == 3


def _one_line_error(capsys, argv: list[str], needle: str) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert needle in err, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--g-lr=-1e-4"], "--g-lr must be positive"),
        (["--d-lr", "0"], "--d-lr must be positive"),
        (["--image-size", "100"], "--image-size must be one of"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--device", "tpu"], "--device must be one of"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--g-lr", "fast"], "not a number"),
        (["--batch-size", "8.5"], "--batch-size: not a whole number: '8.5'"),
        (["--eval-unit", "week"], "--eval-unit must be one of epoch, step, minutes, got 'week'"),
        (["--beta1", "1"], "--beta1 must be below 1"),
        (["--fit", "zoom"], "--fit must be one of crop, pad, squash"),
        (["--early-stop-patience", "2"], "--early-stop-patience needs --eval-every"),
        (["--g-lr", "nan"], "--g-lr must be a finite number, got nan"),
        (["--d-lr", "inf"], "--d-lr must be a finite number, got inf"),
        (["--minutes", "inf"], "--minutes must be a finite number, got inf"),
        (["--seed", str(2**64)], f"--seed must be at most {2**63 - 1}"),
        (["--workers", "100000"], "--workers must be at most 1024, got 100000"),
        (["--data", "no\n2026-12-07T00:00:00+00:00 completed"],
         "/no\\n2026-12-07T00:00:00+00:00 completed"),  # a name prints on one line
    ],
)
def test_invalid_options(capsys, tmp_path, args, needle):
    tiny = [*TINY, "--demo-images", "16", "--epochs", "1", "--steps-per-epoch", "1"]  # if let by
    _one_line_error(capsys, ["train", *tiny, *args, "--out", str(tmp_path / "r")], needle)
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_missing_and_empty_and_unreadable_data(capsys, tmp_path):
    _one_line_error(capsys, ["train", "--data", str(tmp_path / "nope")], "data folder not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(capsys, ["train", "--data", str(empty)], "data folder is empty")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    (junk / "fake.png").write_text("not a png")
    (junk / "zero.jpg").write_bytes(b"")
    _one_line_error(
        capsys, ["train", "--data", str(junk), "--no-cache", "--no-progress"], "no readable images"
    )


def test_unreadable_files_are_skipped_and_listed(tmp_path):
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(
            data / "A" / f"{i}.png"
        )
    (data / "A" / "broken.png").write_text("not a png")
    (data / "A" / "zero.jpeg").write_bytes(b"")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                *TINY,
                "--epochs",
                "1",
                "--steps-per-epoch",
                "1",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    info = json.loads((run / "config.json").read_text())
    assert info["dataset"]["count"] == 20 and info["dataset"]["skipped"] == 2
    log = (run / "train.log").read_text()
    assert "skipped 2" in log and "broken.png" in log and "zero.jpeg" in log


def test_resume_errors(capsys, tmp_path):
    _one_line_error(capsys, ["train", "--resume", str(tmp_path)], "is not a cxrgan run")
    _one_line_error(
        capsys, ["train", "--resume", str(tmp_path / "missing")], "run folder not found"
    )


def test_resume_refuses_architecture_change_and_finished_budget(capsys, tmp_path):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                *TINY,
                "--demo-images",
                "32",
                "--epochs",
                "1",
                "--steps-per-epoch",
                "1",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    capsys.readouterr()
    _one_line_error(
        capsys,
        ["train", "--resume", str(run), "--epochs", "2", "--ngf", "16"],
        "--ngf cannot change on --resume",
    )
    _one_line_error(capsys, ["train", "--resume", str(run)], "has already trained 1 epoch")


def test_config_toml_and_cli_precedence(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("g-lr = 1e-3\nd_lr = 5e-4\nepochs = 1\nsteps-per-epoch = 1\ndemo-images = 32\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(toml), *TINY, "--d-lr", "3e-4", "--out", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert (cfg["g_lr"], cfg["d_lr"], cfg["epochs"]) == (1e-3, 3e-4, 1)


def test_unknown_toml_key_is_an_error(capsys, tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("g_lrr = 1e-3\n")
    _one_line_error(capsys, ["train", "--config", str(toml)], "unknown setting(s): g_lrr")


def test_ctrl_c_saves_last_and_exits_130(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxrgan",
            "train",
            *TINY,
            "--demo-images",
            "64",
            "--epochs",
            "50",
            "--out",
            str(run),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err  # interrupted, after saving (docs/reliability.md)
    assert "Traceback" not in err
    assert "interrupted" in out
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["reason"] == "interrupted"
    assert (run / "checkpoints/last.safetensors").is_file()
    # ...and the interrupted run resumes from where it stopped.
    stopped = info["stopped"]
    assert main(["train", "--resume", str(run), "--epochs", str(stopped["epoch"] + 1)]) == 0
    info = json.loads((run / "config.json").read_text())
    assert info["history"][-1]["step"] == stopped["step"]
    assert info["stopped"]["reason"] == "completed"


def test_cache_reuse_is_visible_in_the_run_log(tmp_path):
    data = tmp_path / "data" / "A"
    data.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (48, 40), dtype=np.uint8)).save(data / f"{i}.png")
    args = [a for a in TINY if a != "--no-cache"]
    common = ["train", "--data", str(data.parent), *args, "--epochs", "1", "--steps-per-epoch", "1"]
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main([*common, *cache, "--out", str(tmp_path / "r1")]) == 0
    assert main([*common, *cache, "--out", str(tmp_path / "r2")]) == 0
    assert "cache: building" in (tmp_path / "r1" / "train.log").read_text()
    assert "cache: reusing" in (tmp_path / "r2" / "train.log").read_text()


@pytest.mark.parametrize(
    "command", ["train", "generate", "evaluate", "diagnose", "sweep", "report", "data"]
)
def test_every_option_of_every_command_is_explained(command):
    from cxrgan.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    parsers = [sub]
    for action in sub._actions:  # nested subcommands (cxrgan data prepare|inspect|download)
        if action.choices and isinstance(action.choices, dict):
            parsers += list(action.choices.values())
    for p in parsers:
        for action in p._actions:
            assert action.help, (
                f"cxrgan {p.prog}: {action.option_strings or action.dest} has no help"
            )
