"""Processes in tests, found in /proc (Linux): a process tree by parent and start time (so a
reused pid is not mistaken for a survivor), and torchrun's workers by their environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 on (state, ppid, ...); None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            fields = stat(child)
            if fields is not None:
                found[child] = fields[19]
                todo.append(child)
    return found


def alive(procs: dict[int, str]) -> list[int]:
    """Those of `procs` still running (a zombie has ended; a new process on a reused pid is
    someone else)."""
    running = []
    for pid, started in procs.items():
        fields = stat(pid)
        if fields is not None and fields[19] == started and fields[0] != "Z":
            running.append(pid)
    return running


def wait_gone(procs: dict[int, str], timeout: float) -> None:
    """Until every one of `procs` has ended; a failed test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while alive(procs):
        assert time.monotonic() < deadline, f"still running {timeout}s after their parent died"
        time.sleep(0.1)


def kill_all(procs: dict[int, str]) -> None:
    """Clean-up after a failed test: nothing of it keeps training."""
    for pid in alive(procs):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop_tree(proc: subprocess.Popen, known: dict[int, str]) -> None:
    """Clean-up after a test, failed or not: `proc`, what runs below it, and `known` (processes
    of its tree found earlier, which its death may have orphaned)."""
    kill_all({**known, **descendants(proc.pid)})
    proc.kill()
    proc.wait()


def rank_pid(marker: str, rank: int, timeout: float = 30) -> int:
    """The pid of the torchrun worker of `rank` among the processes started with `marker`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                env = (proc / "environ").read_bytes().split(b"\0")
                if f"CXRGAN_TEST={marker}".encode() in env and f"RANK={rank}".encode() in env:
                    return int(proc.name)
        time.sleep(0.05)
    raise AssertionError(f"no process of rank {rank} found (the run ended before the kill?)")
