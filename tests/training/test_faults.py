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
import time
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
from safetensors import safe_open
from safetensors.torch import load_file
from tiny import TINY_ARGS

from cxrgan.cli.main import main
from cxrgan.config import MAX_ROLLBACKS, SETTINGS
from cxrgan.training import loop, trainer
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
    real, calls = loop.train_step, [0]

    def step(loss, phases, batch, step_no):
        stats = real(loss, phases, batch, step_no)
        calls[0] += 1
        if calls[0] == at_call:
            action(loss)
        return stats

    monkeypatch.setattr(loop, "train_step", step)


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


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_after_sigterm_changes_nothing(tmp_path, second):
    """A preemption reads as one: a scheduler's repeated SIGTERM (or a Ctrl-C) moments after
    the first still exits 143 with `last` saved and the stop recorded."""
    run = tmp_path / "run"
    proc = _popen_train("--demo-images", "64", "--epochs", "1", "--steps-per-epoch", "100000",
                        "--out", str(run))  # fmt: skip
    wait_for_steps(run, proc, 2)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(second)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_SIGTERM == 143, err
    assert "Traceback" not in err and "interrupted by SIGTERM" in out
    stopped = _config(run)["stopped"]
    assert stopped["reason"] == "interrupted" and stopped["signal"] == "SIGTERM"
    assert _counters(run)["step"] == stopped["step"] > 2


def test_signals_while_the_stop_is_saved_are_ignored(tmp_path, monkeypatch, capsys):
    """Every signal that arrives while `last` is written and the stop recorded is ignored."""
    run = tmp_path / "run"
    save = trainer.Trainer.save

    def save_under_fire(self, name):
        if self.stop_reason is not None:  # the stop's `last`, not the start's
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
        return save(self, name)

    _inject(monkeypatch, 3, lambda loss: os.kill(os.getpid(), signal.SIGTERM))
    monkeypatch.setattr(trainer.Trainer, "save", save_under_fire)
    rc = main(["train", *TINY, "--demo-images", "64", "--epochs", "1",
               "--steps-per-epoch", "100", "--out", str(run)])  # fmt: skip
    assert rc == EXIT_SIGTERM
    stopped = _config(run)["stopped"]
    assert (stopped["reason"], stopped["signal"], stopped["step"]) == ("interrupted", "SIGTERM", 3)


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
    real = trainer.save_checkpoint

    def save(path, ckpt):
        written.append(path.stem)
        real(path, ckpt)

    monkeypatch.setattr(trainer, "save_checkpoint", save)
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "2", "--steps-per-epoch", "1"]
    assert main([*argv, "--checkpoint-every", "1", "--out", str(tmp_path / "run")]) == 0
    assert written == ["last", "epoch_0001", "last", "epoch_0002", "last"]


# ------------------------------------------------------------------------------------------------
# 4. Disks: full, read-only, --out through a file


MOUNT_HINT = "run the tests as root (CI does) in a container that may mount"


def _system(args: list[str]) -> str:
    """'' when the command `args` worked, else why not (one line)."""
    if not shutil.which(args[0]):
        return f"no {args[0]} command"
    r = subprocess.run(args, capture_output=True, text=True)
    why = " ".join(r.stderr.split()) or f"exit status {r.returncode}"
    return "" if r.returncode == 0 else why


@contextlib.contextmanager
def _small_disk(path: Path, size_kb: int, read_only: bool = False):
    """A real filesystem of about `size_kb` KiB mounted at `path`: a tmpfs, else an ext4 image on
    a loop device. Yields (path, how) or (None, why neither could be mounted)."""
    path.mkdir(parents=True)
    image = path.with_name(f"{path.name}.img")
    ro = ",ro" if read_only else ""
    how, why = None, []
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        why.append(f"mounting needs root, this is uid {os.getuid()}")
    elif not (err := _system(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k{ro}", "tmpfs",
                             str(path)])):  # fmt: skip
        how = "tmpfs"
    else:
        why.append(f"tmpfs: {err}")
        with open(image, "wb") as fh:  # ext4 needs ~1 MiB; -m 0: no blocks kept back for root
            fh.truncate(max(size_kb, 1024) * 1024)
        err = _system(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)])
        err = err or _system(["mount", "-o", f"loop{ro}", str(image), str(path)])
        if err:
            why.append(f"ext4 image on a loop device: {err}")
        else:
            how = "ext4 image on a loop device"
    try:
        yield (path, how) if how else (None, "; ".join(why))
    finally:
        if how and _system(["umount", str(path)]):
            _system(["umount", "-l", str(path)])
        image.unlink(missing_ok=True)


def _resume_fills_the_disk(run: Path, capsys) -> None:
    """`train --resume` on a full disk: one line, the checkpoint and folder as they were."""
    before = (run / "checkpoints" / "last.safetensors").read_bytes()
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


FULL_DISK_ARGV = ["train", *TINY, "--demo-images", "32", "--steps-per-epoch", "2"]


def test_full_disk_is_one_line_and_keeps_the_checkpoints(tmp_path, capsys):
    """A real small filesystem, filled: the kernel's ENOSPC, wherever the write fails."""
    with _small_disk(tmp_path / "disk", 8 * 1024) as (disk, how):
        if disk is None:
            pytest.skip(f"no small filesystem to fill here ({how}): {MOUNT_HINT}; the "
                        "next test injects the same error into the checkpoint write instead")
        run = disk / "run"
        assert main([*FULL_DISK_ARGV, "--epochs", "1", "--out", str(run)]) == 0
        # Fill the disk but for 64 KiB: less than any checkpoint.
        filler = disk / "filler"
        with open(filler, "wb") as fh:
            fh.write(b"\0" * max(0, shutil.disk_usage(disk).free - 64 * 1024))
        assert shutil.disk_usage(disk).free <= 64 * 1024, how
        _resume_fills_the_disk(run, capsys)
        filler.unlink()
        assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0  # room again
        assert _train_steps(run) == [1, 2, 3, 4]


def test_checkpoint_write_failing_with_enospc_is_one_line_and_keeps_it(
    tmp_path, monkeypatch, capsys
):
    """The same message from safetensors' own ENOSPC error, injected: runs without mount rights,
    where test_full_disk_... cannot fill a real disk."""
    from safetensors import SafetensorError

    from cxrgan.training import checkpoint as checkpoint_module

    run = tmp_path / "run"
    assert main([*FULL_DISK_ARGV, "--epochs", "1", "--out", str(run)]) == 0

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on "
                              "device (os error 28)")  # fmt: skip

    monkeypatch.setattr(checkpoint_module, "save_file", full)
    _resume_fills_the_disk(run, capsys)
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert _train_steps(run) == [1, 2, 3, 4]


def test_unwritable_out_is_refused_before_any_decoding(tmp_path, capsys):
    missing_data = str(tmp_path / "no-such-data")  # reached only if --out were not checked first
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _one_line_error(capsys, ["train", "--data", missing_data, "--out", str(blocker / "run")],
                    f"--out {blocker / 'run'} is not a folder ({blocker} is a file)")  # fmt: skip
    with _small_disk(tmp_path / "ro", 64, read_only=True) as (ro, how):
        if ro is None:
            pytest.skip(f"cannot mount a read-only filesystem here ({how}): {MOUNT_HINT}")
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
                        "--checkpoint NAME (this run also has: epoch_0001)")  # fmt: skip
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


def _edit_header(path: Path, edit) -> None:
    """Rewrite a safetensors file's header: `edit(metadata)` changes its dict of JSON strings."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    edit(header["__metadata__"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


def _set_z_dim(meta: dict) -> None:
    spec = json.loads(meta["model_spec"])
    spec["z_dim"] = "abc"
    meta["model_spec"] = json.dumps(spec)


def test_edited_checkpoint_metadata_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "2"]
    assert main([*argv, "--checkpoint-every", "1", "--out", str(run)]) == 0
    last = run / "checkpoints" / "last.safetensors"
    good = last.read_bytes()
    hint = "--checkpoint NAME (this run also has: epoch_0001)"
    resume, generate = ["train", "--resume", str(run), "--epochs", "2"], ["generate", str(run)]
    _edit_header(last, _set_z_dim)  # the metadata checksum sees the edit
    for argv2 in (resume, [*generate, "--out", str(tmp_path / "g1")]):
        _one_line_error(capsys, argv2, "its metadata does not match its checksum", hint)
    # A checkpoint of an earlier version has no metadata checksum: the schema still sees it.
    last.write_bytes(good)
    _edit_header(last, lambda meta: (meta.pop("meta_checksum", None), _set_z_dim(meta)))
    for argv2 in (resume, [*generate, "--out", str(tmp_path / "g2")]):
        _one_line_error(capsys, argv2, "model_spec.z_dim must be an integer, got 'abc'", hint)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["model_spec"].update(z_dim="abc"), "model_spec.z_dim must be an integer"),
        (lambda m: m["model_spec"].update(z_dim=0), "model_spec.z_dim must be at least 1"),
        (lambda m: m["model_spec"]["kwargs"].update(ngf="8"),
         "model_spec.kwargs.ngf must be an integer, got '8'"),
        (lambda m: m["model_spec"].update(classes="AB"), "model_spec.classes must be a list"),
        (lambda m: m["state"]["counters"].update(step=2.5),
         "state.counters.step must be an integer, got 2.5"),
        (lambda m: m["state"]["sampler"].update(pos=None), "state.sampler.pos must be an integer"),
        (lambda m: m["optG_param_groups"][0].update(lr="x"),
         "optG_param_groups[0].lr must be a number, got 'x'"),
        (lambda m: m.update(format="2"), "format must be an integer"),
        (lambda m: m.pop("state"), "it has no state"),
    ],
)  # fmt: skip
def test_checkpoint_metadata_is_checked_against_the_schema(tmp_path, capsys, edit, message):
    """Metadata written wrongly (its checksum agrees): every reader says which key is wrong."""
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*argv, "--out", str(run)]) == 0
    last = run / "checkpoints" / "last.safetensors"
    ckpt = load_checkpoint(last)
    edit(ckpt.meta)
    save_checkpoint(last, ckpt)
    capsys.readouterr()
    hint = "this run has no other checkpoint"
    _one_line_error(capsys, ["train", "--resume", str(run), "--epochs", "2"], message, hint)
    if "state" not in message and "param_groups" not in message:  # all generate reads
        _one_line_error(capsys, ["generate", str(run), "--out", str(tmp_path / "g")], message)


def test_checkpoints_without_metadata_checksum_still_load(tmp_path):
    """The metadata checksum is new: a checkpoint written before it (or before tensor
    checksums) loads, is validated, and resumes; the next save adds both checksums."""
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "2"]
    assert main([*argv, "--out", str(run)]) == 0
    last = run / "checkpoints" / "last.safetensors"
    _edit_header(last, lambda meta: (meta.pop("meta_checksum"), meta.pop("checksums")))
    assert load_checkpoint(last).model_spec().z_dim == 16
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert _counters(run)["step"] == 4
    _edit_header(last, lambda meta: meta.pop("meta_checksum"))  # tensor checksums, no meta one
    assert load_checkpoint(last).meta["state"]["counters"]["step"] == 4
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0
    with safe_open(str(last), framework="pt") as f:
        assert {"checksums", "meta_checksum"} <= set(f.metadata())


def test_damaged_only_checkpoint_says_there_is_no_other(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*argv, "--out", str(run)]) == 0
    last = run / "checkpoints" / "last.safetensors"
    with last.open("r+b") as f:
        f.seek(_tensor_offset(last, "D.main.0.weight") + 8)
        f.write(b"\x7f\x7f\x7f\x7f")
    for argv2 in (["train", "--resume", str(run), "--epochs", "2"],
                  ["generate", str(run), "--out", str(tmp_path / "g")]):  # fmt: skip
        err = _one_line_error(capsys, argv2, "does not match its checksum",
                              "this run has no other checkpoint")  # fmt: skip
        assert "none" not in err


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
