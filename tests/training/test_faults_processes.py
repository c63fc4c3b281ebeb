"""Fault injection on process trees: nothing is left running when a parent is killed with
kill -9, and a process of the run killed by a signal ends in a documented status that
config.json records (docs/reliability.md, "Children die with their parent").

The trees: `cxrgan sweep` → its members; `cxrgan train --nproc 2` → torchrun → the ranks.
Processes are found in /proc, by parent and by start time (so a reused pid is not mistaken for
a survivor).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
from processes import alive, descendants, kill_all, rank_pid, stat, stop_tree, wait_gone
from run_files import config as _config
from run_files import train_steps as _train_steps
from run_files import wait_for_steps
from tiny import TINY_ARGS

from cxrgan.cli.main import main
from cxrgan.lifeline import PARENT_ENV
from cxrgan.sweep.folder import write_sweep
from cxrgan.sweep.session import run_sweep
from cxrgan.sweep.spec import build_spec
from cxrgan.training.checkpoint import saved_counters
from cxrgan.training.rundir import EXIT_ERROR, EXIT_SIGTERM, exit_status

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; the kernel's parent-death signal"
)

REPO = Path(__file__).resolve().parents[2]
TINY = [*TINY_ARGS, "--no-cache", "--demo-images", "64", "--log-every", "1"]
GONE_S = 60  # a killed parent's children are gone by then: they save checkpoints/last first,
# which takes seconds, or more on a loaded CI machine


def _env(**extra: str) -> dict[str, str]:
    drop = ("RANK", "WORLD_SIZE", "LOCAL_RANK", PARENT_ENV)
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src"), **extra}


# ------------------------------------------------------------------------------------------------
# The mechanism, on plain Python processes (no torch: each case takes a fraction of a second)

# A child that arms itself as `cxrgan train` does, then would sleep two minutes.
CHILD = ("import time; {before}from cxrgan.lifeline import die_with_parent; die_with_parent(); "
         "print('armed', flush=True); time.sleep(120)")
PARENT = """import subprocess, sys
from cxrgan.lifeline import tied_env
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], env=tied_env())
print(child.pid, flush=True)
child.wait()
"""
# Elsewhere than Linux: a thread that watches the parent.
WITHOUT_PRCTL = ("import cxrgan.lifeline as l; l._arm_pdeathsig = lambda sig: False; "
                 "l.WATCH_S = 0.1; ")


def _tied_pair(child_code: str) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child_code], env=_env(),
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    return parent, int(parent.stdout.readline())


@pytest.mark.parametrize(
    "before, armed",
    [
        ("", True),  # prctl(PR_SET_PDEATHSIG)
        (WITHOUT_PRCTL, True),
        ("time.sleep(1.5); ", False),  # the parent died before the child could arm anything
    ],
    ids=["pdeathsig", "watcher", "parent-gone-first"],
)
def test_a_tied_child_gets_sigterm_when_its_parent_is_killed(before, armed):
    parent, pid = _tied_pair(CHILD.format(before=before))
    child = {pid: stat(pid)[19]}
    try:
        if armed:
            assert parent.stdout.readline().strip() == "armed"
        parent.kill()  # kill -9: no handler of the parent runs
        parent.wait()
        wait_gone(child, timeout=10)
    finally:
        kill_all(child)


def test_an_untied_child_outlives_its_parent():
    """Without tied_env the same child is an orphan: the test above can fail."""
    code = "import subprocess, sys; print(subprocess.Popen(sys.argv[1:]).pid, flush=True)"
    child_code = CHILD.format(before="")
    parent = subprocess.Popen([sys.executable, "-c", code, sys.executable, "-c", child_code],
                              env=_env(), stdout=subprocess.PIPE, text=True)  # fmt: skip
    pid = int(parent.stdout.readline())
    child = {pid: stat(pid)[19]}
    try:
        parent.wait()
        time.sleep(1.0)
        assert alive(child) == [pid]
    finally:
        kill_all(child)


# ------------------------------------------------------------------------------------------------
# cxrgan train --nproc 2: launcher → torchrun → ranks


def _nproc(run: Path, marker: str, *args: str) -> subprocess.Popen:
    """`cxrgan train --nproc 2`, its output in files beside RUN: a pipe would stay open in any
    process that survives the launcher, and reading it would wait for that one too."""
    cmd = [sys.executable, "-m", "cxrgan", "train", *TINY, "--epochs", "1", "--out", str(run),
           "--nproc", "2", *args]  # fmt: skip
    with open(f"{run}.out", "w") as out, open(f"{run}.err", "w") as err:
        return subprocess.Popen(cmd, stdout=out, stderr=err, env=_env(CXRGAN_TEST=marker))


@pytest.mark.skipif(not torch.distributed.is_available(), reason="needs torch.distributed")
@pytest.mark.parametrize("victim", ["launcher", "torchrun"])
def test_kill_9_in_the_nproc_tree_stops_every_process_below(tmp_path, victim):
    """kill -9 of the launcher: torchrun gets SIGTERM and passes it on to the ranks. kill -9 of
    torchrun: the ranks get SIGTERM themselves. Either way they stop together and save."""
    run, marker = tmp_path / "run", uuid.uuid4().hex
    launcher = _nproc(run, marker, "--steps-per-epoch", "100000")
    tree: dict[int, str] = {}
    try:
        wait_for_steps(run, launcher, 2)
        tree = descendants(launcher.pid)
        assert len(tree) >= 3, tree  # torchrun and its two ranks
        (torchrun,) = [pid for pid in tree if stat(pid)[1] == str(launcher.pid)]
        if victim == "launcher":
            launcher.kill()
            below = tree
        else:
            os.kill(torchrun, signal.SIGKILL)
            below = {pid: t for pid, t in tree.items() if pid != torchrun}
        wait_gone(below, GONE_S)
        # The launcher that survives gives the run's status, as after any SIGTERM.
        assert launcher.wait(timeout=GONE_S) == (-signal.SIGKILL if victim == "launcher"
                                                 else EXIT_SIGTERM)  # fmt: skip
    finally:
        stop_tree(launcher, tree)
    stopped = _config(run)["stopped"]
    assert stopped["reason"] == "interrupted" and stopped["signal"] == "SIGTERM"
    assert saved_counters(run / "checkpoints" / "last.safetensors")["step"] == stopped["step"] > 2


@pytest.mark.skipif(not torch.distributed.is_available(), reason="needs torch.distributed")
def test_a_rank_killed_under_nproc_exits_137_says_so_and_is_recorded(tmp_path, capsys):
    run, marker = tmp_path / "run", uuid.uuid4().hex
    launcher = _nproc(run, marker, "--steps-per-epoch", "40")
    try:
        wait_for_steps(run, launcher, 2)
        os.kill(rank_pid(marker, 1), signal.SIGKILL)  # the out-of-memory killer, say
        launcher.wait(timeout=180)
    finally:
        stop_tree(launcher, {})
    err = Path(f"{run}.err").read_text()
    assert launcher.returncode == 128 + signal.SIGKILL == 137, err[-3000:]
    assert "its own message is above" not in err
    line = (f"cxrgan train: rank 1 was killed by SIGKILL, which leaves no message (kill -9, or "
            f"the out-of-memory killer: see dmesg); torchrun stopped the other ranks. "
            f"config.json records it; cxrgan train --resume {run} continues from "
            f"checkpoints/last (step ")  # fmt: skip
    assert line in err, err[-3000:]
    stopped = _config(run)["stopped"]
    assert "completed" not in stopped["reason"], "the ranks finished before the kill"
    last = saved_counters(run / "checkpoints" / "last.safetensors")
    assert stopped == {"reason": "failed: rank 1 was killed by SIGKILL", "signal": "SIGKILL",
                       "rank": 1, "epoch": last["epoch"], "step": last["step"],
                       "time": stopped["time"]}  # fmt: skip
    assert re.search(rf"failed: rank 1 was killed by SIGKILL; checkpoints/last is at step "
                     rf"{last['step']}$", (run / "train.log").read_text(), re.M)  # fmt: skip
    assert exit_status(stopped) == 137

    # The run resumes from checkpoints/last like any stopped run, in one process.
    assert main(["train", "--resume", str(run)]) == 0
    info = _config(run)
    assert info["history"][-1]["previous_stop"] == "failed: rank 1 was killed by SIGKILL"
    assert info["stopped"]["reason"] == "completed" and _train_steps(run)[-1] == 40


def test_exit_statuses_of_recorded_stops():
    assert exit_status({"reason": "failed: rank 0 was killed by SIGSEGV", "signal": "SIGSEGV"}) \
        == 128 + signal.SIGSEGV  # fmt: skip
    # A write error mid-run (rank 0 records it, then exits 2): the launcher passes 2 on.
    assert exit_status({"reason": "failed: cannot write RUN/metrics.jsonl"}) == EXIT_ERROR == 2
    assert exit_status({"reason": "interrupted", "signal": "SIGTERM"}) == EXIT_SIGTERM
    assert exit_status({"reason": "failed: edited", "signal": "SIGNOPE"}) == EXIT_ERROR
    assert exit_status({"reason": "completed"}) == 0


# ------------------------------------------------------------------------------------------------
# cxrgan sweep → members


def _member_run(sweep: Path) -> Path:
    (run,) = [p for p in (sweep / "runs").iterdir() if p.is_dir()]
    return run


def test_kill_9_of_a_sweep_stops_its_member_and_the_rerun_finishes_the_sweep(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    args = ["sweep", "--out", str(sweep), "--g-lr", "1e-3", "--epochs", "1",
            "--steps-per-epoch", "30", *TINY]  # fmt: skip
    first = subprocess.Popen([sys.executable, "-m", "cxrgan", *args], env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    members: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 180
        while not (sweep / "runs").is_dir() or not list((sweep / "runs").glob("*/config.json")):
            assert first.poll() is None and time.monotonic() < deadline, "no member started"
            time.sleep(0.05)
        run = _member_run(sweep)
        wait_for_steps(run, first, 2)
        members = descendants(first.pid)
        assert members, "the member is not a child of the sweep"
        first.kill()  # kill -9 of the sweep alone, not of its process group
        first.wait()
        wait_gone(members, GONE_S)
    finally:
        stop_tree(first, members)
    stopped = _config(run)["stopped"]  # the member got SIGTERM and saved checkpoints/last
    assert stopped["reason"] == "interrupted" and stopped["signal"] == "SIGTERM", stopped
    assert "interrupted by SIGTERM" in (sweep / "runs" / f"{run.name}.log").read_text()

    # At once, the same command: the member resumes and the sweep finishes.
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"[1/1] resume   {run.name}  (from step {stopped['step']}, 0 epoch(s) done;" in printed
    assert "FAILED" not in printed and "another process" not in printed
    info = _config(run)
    assert info["stopped"]["reason"] == "completed" and info["stopped"]["step"] == 30
    assert _train_steps(run) == list(range(1, 31))


HOLDER = """import sys
from cxrgan.training.rundir import RunDir
RunDir(sys.argv[1]).lock()
print("locked", flush=True)
sys.stdin.read()  # until the test lets go
"""


def test_a_rerun_waits_for_a_member_that_another_process_still_trains(tmp_path):
    """A member folder locked by a live process (a member of a killed sweep, still saving) is
    waited for, not started beside it and reported FAILED."""
    spec = build_spec({"g_lr": [2e-4, 1e-3]}, {"epochs": 1, "image_size": 32})
    sweep = tmp_path / "sweep"
    for member in spec.members():  # finished members: nothing trains here
        run = member.run_dir(sweep)
        run.mkdir(parents=True)
        (run / "config.json").write_text('{"config": {"epochs": 1}, "history": [], '
                                         '"stopped": {"reason": "completed"}}')  # fmt: skip
    write_sweep(sweep, {"spec": spec.to_dict(), "members": []})
    busy = spec.members()[1].run_dir(sweep)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(busy)], env=_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    printed: list[str] = []

    def echo(line: str) -> None:
        printed.append(line)
        if line.startswith("waiting for"):
            holder.stdin.close()  # the other training ends now

    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_sweep(sweep, None, echo=echo)
    finally:
        holder.kill()
    text = "\n".join(printed)
    assert (f"waiting for g_lr=1e-3: it is still being trained by another process (PID "
            f"{holder.pid} on host ") in text  # fmt: skip
    assert "this sweep goes on when it ends (Ctrl-C stops waiting)" in text
    assert text.count("] skip     g_lr=") == 2 and "FAILED" not in text
    assert result.completed
