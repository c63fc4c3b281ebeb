"""Fault injection: preemption, a second writer, kills before the first checkpoint, full and
read-only disks, NaN, damaged checkpoints, shrunk data, torn metrics and bad TOML values.

Each fault ends in the behaviour docs/reliability.md promises: a one-line error with a non-zero
exit status, or training that goes on, and no checkpoint lost. Tiny settings (tests/tiny.py)
keep each test to seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from run_files import config as _config
from run_files import records as _records
from run_files import train_steps as _train_steps
from run_files import wait_for_steps
from safetensors.torch import load_file
from tiny import TINY_ARGS

from cxrgan.cli.main import main
from cxrgan.config import MAX_ROLLBACKS, SETTINGS
from cxrgan.training import trainer as trainer_module
from cxrgan.training.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
    saved_counters,
)
from cxrgan.training.rundir import EXIT_DIVERGED, EXIT_SIGINT, EXIT_SIGTERM

TINY = [*TINY_ARGS, "--no-cache", "--log-every", "1"]


def _counters(run: Path, name: str = "last") -> dict:
    counters = saved_counters(run / "checkpoints" / f"{name}.safetensors")
    assert counters is not None, f"no readable checkpoints/{name}"
    return counters


def _finite(run: Path, name: str = "last") -> bool:
    tensors = load_file(str(run / "checkpoints" / f"{name}.safetensors"))
    return all(torch.isfinite(v).all() for k, v in tensors.items() if v.is_floating_point())


def _one_line_error(capsys, argv: list[str], *needles: str, code: int = 2) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def _popen_train(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cxrgan", "train", *TINY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _inject(monkeypatch, at_call: int, action) -> None:
    """Run `action(loss)` right after the `at_call`-th training step of this process."""
    real, calls = trainer_module.train_step, [0]

    def step(loss, phases, batch, step_no):
        stats = real(loss, phases, batch, step_no)
        calls[0] += 1
        if calls[0] == at_call:
            action(loss)
        return stats

    monkeypatch.setattr(trainer_module, "train_step", step)


# ------------------------------------------------------------------------------------------------
# 1. SIGTERM: finish the step, save `last`, record the stop, exit 143; then resume


def test_sigterm_mid_epoch_saves_last_and_resumes(tmp_path):
    run = tmp_path / "run"
    proc = _popen_train("--demo-images", "64", "--epochs", "1", "--steps-per-epoch", "100000",
                        "--out", str(run))  # fmt: skip
    wait_for_steps(run, proc, 2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_SIGTERM == 143, err
    assert "Traceback" not in err
    assert "interrupted by SIGTERM" in out
    stopped = _config(run)["stopped"]
    assert stopped["reason"] == "interrupted" and stopped["signal"] == "SIGTERM"
    counters = _counters(run)  # `last` holds the step the run stopped at, mid-epoch
    assert counters["step"] == stopped["step"] > 2 and counters["epoch"] == 0
    assert counters["step_in_epoch"] == counters["step"]

    # Resume: finish the epoch two steps later; one training record per step.
    step = counters["step"]
    assert main(["train", "--resume", str(run), "--steps-per-epoch", str(step + 2)]) == 0
    info = _config(run)
    assert info["history"][-1]["step"] == step and info["history"][-1]["previous_stop"] == (
        "interrupted"
    )
    assert info["stopped"]["reason"] == "completed" and info["stopped"]["step"] == step + 2
    assert _train_steps(run) == list(range(1, step + 3))


def test_sigint_and_sigterm_in_process_give_their_exit_statuses(tmp_path, monkeypatch, capsys):
    for sig, code in ((signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)):
        run = tmp_path / sig.name
        _inject(monkeypatch, 2, lambda loss, sig=sig: os.kill(os.getpid(), sig))
        argv = ["train", *TINY, "--demo-images", "64", "--epochs", "1", "--out", str(run)]
        assert main(argv) == code
        assert _config(run)["stopped"]["step"] == _counters(run)["step"] == 2
        monkeypatch.undo()
    assert "interrupted by SIGTERM at step 2" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# 2. Two trainings of one run: the second is refused while the first holds the lock


def test_second_concurrent_resume_is_refused_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*base, "--out", str(run)]) == 0
    first = _popen_train("--resume", str(run), "--epochs", "2", "--steps-per-epoch", "100000")
    try:
        wait_for_steps(run, first, 2)
        host = socket.gethostname()
        _one_line_error(
            capsys,
            ["train", "--resume", str(run), "--epochs", "3"],
            f"{run} is being trained by another process (PID {first.pid} on host {host}",
        )
        _one_line_error(capsys, [*base, "--out", str(run)], f"{run} already holds a run")
        # Readers take no lock.
        assert main(["generate", str(run), "--n", "2", "--out", str(tmp_path / "g")]) == 0
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == EXIT_SIGTERM
    info = _config(run)
    assert [h["event"] for h in info["history"]] == ["start", "resume"]  # only the first's
    steps = _train_steps(run)
    assert steps == sorted(set(steps))  # one training's records, not two interleaved


# ------------------------------------------------------------------------------------------------
# 3. Killed before the first checkpoint (of the epoch, or of the run): resumable


def test_kill_9_in_the_first_epoch_leaves_a_resumable_run(tmp_path):
    run = tmp_path / "run"
    proc = _popen_train("--demo-images", "64", "--epochs", "1", "--steps-per-epoch", "100000",
                        "--out", str(run))  # fmt: skip
    wait_for_steps(run, proc, 2)
    proc.kill()  # SIGKILL: no handler runs, the lock goes with the process
    proc.communicate(timeout=60)
    assert "stopped" not in _config(run)
    assert _counters(run)["step"] == 0  # the checkpoint written before the first step
    # A write that the kill interrupted, and a torn last line of metrics.jsonl.
    leftover = run / "checkpoints" / ".last.safetensors.k1ll3d_x.tmp"
    leftover.write_bytes(b"half a checkpoint")
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 99999, "epoch": 1, "loss_d": 0.')
    assert main(["train", "--resume", str(run), "--steps-per-epoch", "3"]) == 0
    assert not leftover.exists()
    assert _train_steps(run) == [1, 2, 3]  # dropped what the resume trained again, and the tear
    log = (run / "train.log").read_text()
    assert "removed checkpoints/.last.safetensors.k1ll3d_x.tmp" in log
    assert _config(run)["stopped"]["reason"] == "completed"


def test_run_killed_before_any_checkpoint_starts_again_on_resume(tmp_path):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "2"]
    assert main([*argv, "--out", str(run)]) == 0
    for path in (run / "checkpoints").iterdir():  # as if killed while decoding, before step 0
        path.unlink()
    (run / "metrics.jsonl").unlink()
    assert main(["train", "--resume", str(run)]) == 0
    assert "holds no checkpoint" in (run / "train.log").read_text()
    assert _train_steps(run) == [1, 2] and _counters(run)["step"] == 2


def test_resume_from_best_or_epoch_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "3", "--steps-per-epoch", "2"]
    assert main([*argv, "--checkpoint-every", "1", "--out", str(run)]) == 0
    assert _counters(run, "epoch_0001")["step"] == 2
    # Train epochs 2-4 again from epoch_0001, at another rate.
    assert main(["train", "--resume", str(run), "--checkpoint", "epoch_0001", "--epochs", "4",
                 "--g-lr", "1e-3"]) == 0  # fmt: skip
    info = _config(run)
    assert info["history"][-1]["checkpoint"] == "epoch_0001"
    assert info["history"][-1]["step"] == 2 and info["stopped"]["step"] == 8
    records = [r for r in _records(run) if "loss_d" in r]
    assert [r["step"] for r in records] == list(range(1, 9))
    assert [r["lr_g"] for r in records] == [2e-4] * 2 + [1e-3] * 6
    _one_line_error(
        capsys,
        ["train", "--resume", str(run), "--checkpoint", "best", "--epochs", "5"],
        "checkpoint not found",
        "--checkpoint NAME (this run has: epoch_0001, epoch_0002, epoch_0003, epoch_0004, last)",
    )
    _one_line_error(capsys, [*argv, "--checkpoint", "best"], "it needs --resume")


def test_periodic_checkpoint_is_written_before_last(tmp_path, monkeypatch):
    written = []
    real = trainer_module.save_checkpoint

    def save(path, ckpt):
        written.append(path.stem)
        real(path, ckpt)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save)
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "2", "--steps-per-epoch", "1"]
    assert main([*argv, "--checkpoint-every", "1", "--out", str(tmp_path / "run")]) == 0
    assert written == ["last", "epoch_0001", "last", "epoch_0002", "last"]


# ------------------------------------------------------------------------------------------------
# 4. Disks: full, read-only, --out through a file


@contextlib.contextmanager
def _tmpfs(path: Path, options: str):
    """A tiny tmpfs at `path` (root, where mount works), else None."""
    path.mkdir(parents=True)
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                           capture_output=True)  # fmt: skip
        mounted = r.returncode == 0
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_disk_is_one_line_and_keeps_the_checkpoints(tmp_path, monkeypatch, capsys):
    argv = ["train", *TINY, "--demo-images", "32", "--steps-per-epoch", "2"]
    with _tmpfs(tmp_path / "disk", "size=4m") as disk:
        run = (disk or tmp_path) / "run"
        assert main([*argv, "--epochs", "1", "--out", str(run)]) == 0
        before = (run / "checkpoints" / "last.safetensors").read_bytes()
        if disk is not None:  # fill the disk but for 64 KB: smaller than any checkpoint
            free = shutil.disk_usage(disk).free
            (disk / "filler").write_bytes(b"\0" * max(0, free - 64 * 1024))
        else:  # no mount here: the disk fills at the next checkpoint
            from safetensors import SafetensorError

            from cxrgan.training import checkpoint as checkpoint_module

            def full(*args, **kwargs):
                raise SafetensorError("Error while serializing: I/O error: No space left on "
                                      "device (os error 28)")  # fmt: skip

            monkeypatch.setattr(checkpoint_module, "save_file", full)
        _one_line_error(
            capsys,
            ["train", "--resume", str(run), "--epochs", "2"],
            "cannot write",
            "No space left on device",
            " free on its disk",
            "checkpoints/last is intact at step 2",
        )
        assert (run / "checkpoints" / "last.safetensors").read_bytes() == before
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
        if disk is not None:
            (disk / "filler").unlink()
        else:
            monkeypatch.undo()
        assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0  # room again
        assert _train_steps(run) == [1, 2, 3, 4]


def test_unwritable_out_is_refused_before_any_decoding(tmp_path, capsys):
    missing_data = str(tmp_path / "no-such-data")  # reached only if --out were not checked first
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _one_line_error(capsys, ["train", "--data", missing_data, "--out", str(blocker / "run")],
                    f"--out {blocker / 'run'} is not a folder ({blocker} is a file)")  # fmt: skip
    with _tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        if ro is None:
            pytest.skip("cannot mount a read-only tmpfs here (needs root)")
        _one_line_error(capsys, ["train", "--data", missing_data, "--out", str(ro / "run")],
                        "is not writable: Read-only file system", "free)")  # fmt: skip


# ------------------------------------------------------------------------------------------------
# 6. NaN: rollback to the last finite checkpoint with halved rates, or stop (exit 3)


@pytest.mark.parametrize(
    ("at_step", "reason"),
    [
        (5, "non-finite loss at step 6"),  # NaN G mid-epoch: NaN losses at the next step
        (6, "non-finite weights at step 6 (G.main.0.weight)"),  # at the epoch's end: weights
    ],
)
def test_nan_rolls_back_with_halved_rates_and_finishes(tmp_path, monkeypatch, at_step, reason):
    run = tmp_path / "run"

    def poison(loss):
        with torch.no_grad():
            next(loss.G.parameters()).fill_(float("nan"))

    _inject(monkeypatch, at_step, poison)  # in epoch 2: `last` holds epoch 1 (step 3)
    argv = ["train", *TINY, "--demo-images", "64", "--epochs", "3", "--steps-per-epoch", "3"]
    assert main([*argv, "--out", str(run)]) == 0
    records = _records(run)
    (event,) = [r for r in records if r.get("event") == "rollback"]
    assert event["step"] == 3 and event["diverged_step"] == 6 and event["reason"] == reason
    assert (event["lr_g"], event["lr_d"], event["rollback"]) == (1e-4, 1e-4, 1)
    train = [r for r in records if "loss_d" in r]
    assert [r["step"] for r in train] == list(range(1, 10))  # steps 4-6 trained again
    assert [r["lr_g"] for r in train] == [2e-4] * 3 + [1e-4] * 6
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() for r in train)
    stopped = _config(run)["stopped"]
    assert stopped["reason"] == "completed" and stopped["rollbacks"] == 1
    assert _finite(run) and _counters(run)["step"] == 9
    assert "rolled back to checkpoints/last (step 3)" in (run / "train.log").read_text()
    assert "<strong>rollback</strong>" in (run / "report.html").read_text()  # History table


def test_nan_with_on_nan_stop_exits_3_and_keeps_the_finite_last(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "4"]
    assert main([*argv, "--g-lr", "1e30", "--on-nan", "stop", "--out", str(run)]) == EXIT_DIVERGED
    stopped = _config(run)["stopped"]
    assert stopped["reason"].startswith("diverged: non-finite")
    assert _finite(run) and _counters(run)["step"] == 0  # the state before the first step
    assert "checkpoints/last keeps step 0 (epoch 0)" in capsys.readouterr().err
    assert not [r for r in _records(run) if r.get("event") == "rollback"]
    # generate refuses NaN weights too (here: a checkpoint written by hand with them).
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    key = next(k for k in ckpt.tensors if k.startswith("G.") and k.endswith("weight"))
    ckpt.tensors[key] = torch.full_like(ckpt.tensors[key], float("nan"))
    save_checkpoint(run / "checkpoints" / "nan.safetensors", ckpt)
    _one_line_error(capsys, ["generate", str(run), "--checkpoint", "nan", "--out",
                             str(tmp_path / "g")], f"holds NaN/inf weights ({key})")  # fmt: skip
    assert not (tmp_path / "g").exists() or not list((tmp_path / "g").iterdir())


def test_rollbacks_are_bounded(tmp_path):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "4"]
    assert main([*argv, "--g-lr", "1e30", "--out", str(run)]) == EXIT_DIVERGED  # 1e30 / 8 too
    events = [r for r in _records(run) if r.get("event") == "rollback"]
    assert [e["rollback"] for e in events] == list(range(1, MAX_ROLLBACKS + 1))
    stopped = _config(run)["stopped"]
    assert stopped["reason"].endswith(f"after {MAX_ROLLBACKS} rollback(s)")
    assert _finite(run)


# ------------------------------------------------------------------------------------------------
# 8. A damaged checkpoint is detected, named, and another can be picked


def _tensor_offset(path: Path, key: str) -> int:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    begin, _ = json.loads(raw[8 : 8 + n])[key]["data_offsets"]
    return 8 + n + begin


def test_corrupted_tensor_is_detected_and_named(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "2"]
    assert main([*argv, "--checkpoint-every", "1", "--out", str(run)]) == 0
    last = run / "checkpoints" / "last.safetensors"
    key = "D.main.0.weight"
    offset = _tensor_offset(last, key)
    with last.open("r+b") as f:  # a few bytes of one tensor overwritten on disk
        f.seek(offset + 8)
        f.write(b"\x7f\x7f\x7f\x7f")
    for argv2 in (["train", "--resume", str(run), "--epochs", "2"],
                  ["generate", str(run), "--out", str(tmp_path / "g")]):  # fmt: skip
        _one_line_error(capsys, argv2, f"tensor {key} does not match its checksum",
                        "--checkpoint NAME (this run has: epoch_0001)")  # fmt: skip
    # The periodic checkpoint holds the same state: resume from it.
    assert main(["train", "--resume", str(run), "--checkpoint", "epoch_0001", "--epochs",
                 "2"]) == 0  # fmt: skip
    load_checkpoint(last)  # rewritten whole


def test_checkpoint_of_another_size_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*argv, "--out", str(run)]) == 0
    other = tmp_path / "other"
    assert main([*argv, "--ngf", "16", "--out", str(other)]) == 0
    last = run / "checkpoints/last.safetensors"  # its spec, the other run's (wider) tensors
    wide = load_checkpoint(other / "checkpoints/last.safetensors")
    save_checkpoint(last, Checkpoint(wide.tensors, load_checkpoint(last).meta))
    _one_line_error(capsys, ["train", "--resume", str(run), "--epochs", "2"],
                    "checkpoint's G does not fit", "in the checkpoint", "in the model")  # fmt: skip


# ------------------------------------------------------------------------------------------------
# 7. Shrunk data on resume


def _folder(root: Path, n: int) -> Path:
    (root / "A").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(
            root / "A" / f"{i:03d}.png"
        )
    return root


def test_shrunk_data_on_resume_draws_a_new_pass_or_says_why_not(tmp_path, monkeypatch, capsys):
    data = _folder(tmp_path / "data", 64)
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), *TINY, "--epochs", "2", "--out", str(run)]
    _inject(monkeypatch, 3, lambda loss: os.kill(os.getpid(), signal.SIGINT))
    assert main(argv) == EXIT_SIGINT  # 4 steps per epoch (64 / 16); stopped at step 3 of 1
    monkeypatch.undo()
    for path in sorted((data / "A").iterdir())[20:]:  # 64 → 20 images: one step per epoch
        path.unlink()
    _one_line_error(capsys, ["train", "--resume", str(run)],
                    "the data now has 20 images (the run started with 64)",
                    "--steps-per-epoch N with N > 3")  # fmt: skip
    assert main(["train", "--resume", str(run), "--steps-per-epoch", "5"]) == 0
    log = (run / "train.log").read_text()
    assert "drew its pass over 64 images and the data now has 20" in log
    assert _train_steps(run) == list(range(1, 11))
    assert _config(run)["stopped"]["reason"] == "completed"


# ------------------------------------------------------------------------------------------------
# TOML: every setting with a value of the wrong type is one line naming the file and the key
# (tests/test_config_schema.py checks the wording case by case; this covers every setting).

WRONG = {int: '"x"', float: '"x"', str: "3", bool: '"no"'}


def test_every_toml_type_error_is_one_line(tmp_path, capsys):
    for s in SETTINGS:
        path = tmp_path / f"{uuid.uuid4().hex}.toml"
        path.write_text(f"{s.name} = {WRONG[s.kind]}\n")
        _one_line_error(capsys, ["train", "--config", str(path)], f"{path}: {s.name} must be")


def test_help_documents_the_exit_statuses():
    from cxrgan.cli.main import build_parser

    parser = build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    for code, meaning in ((2, "an error"), (EXIT_DIVERGED, "diverged"),
                          (EXIT_SIGINT, "interrupted by Ctrl-C"),
                          (EXIT_SIGTERM, "interrupted by SIGTERM")):  # fmt: skip
        assert f"{code} {meaning}" in " ".join(train.epilog.split())
    options = {o for a in train._actions for o in a.option_strings}
    assert {"--on-nan", "--checkpoint", "--resume"} <= options
