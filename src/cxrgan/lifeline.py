"""Children that die with their parent: a process that cxrgan starts (a sweep's member,
torchrun under `train --nproc`, torchrun's ranks) is told to stop when the process that started
it dies, even by kill -9, instead of training on alone as an orphan.

The parent names itself in the child's environment (`tied_env`); the child, as it starts, asks
the kernel for a signal when that parent dies (`die_with_parent`: prctl(PR_SET_PDEATHSIG) on
Linux, a thread watching its parent elsewhere). The signal is SIGTERM, so a training child saves
checkpoints/last and records the stop as after any preemption.

On Linux the signal comes when the *thread* that started the child ends, not the process: start
tied children from a thread that lives as long as the process (cxrgan starts them from the main
thread). The parent's pid is checked once the signal is armed, so a parent that died while the
child was starting is noticed too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping

PARENT_ENV = "CXRGAN_PARENT_PID"  # set for a tied child; read (and removed) by the child
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_S = 1.0  # how often a child without prctl looks at its parent


def tied_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) for a child that is to die with this process."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def tie_children() -> None:
    """Children started from now on with this process's environment die with it (torchrun
    starts its ranks so)."""
    os.environ[PARENT_ENV] = str(os.getpid())


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child started with `tied_env`: receive `sig` when the parent that started it dies
    (at once if it is already gone). Nothing for a process started otherwise. The variable is
    removed, so this process's own children are tied to it only if it ties them."""
    parent = os.environ.pop(PARENT_ENV, "")
    if not parent.isdigit():
        return
    if not _arm_pdeathsig(sig):
        threading.Thread(target=_watch, args=(os.getppid(), sig, WATCH_S), daemon=True).start()
    if os.getppid() != int(parent):  # it died before the signal was armed: reparented already
        os.kill(os.getpid(), sig)


def _arm_pdeathsig(sig: int) -> bool:
    """prctl(PR_SET_PDEATHSIG, sig); False where there is no such call (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)  # the C library this interpreter runs on
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    return False


def _watch(parent: int, sig: int, every: float) -> None:
    """Without prctl: a daemon thread that sends `sig` to this process once it is reparented
    (its parent `parent` died)."""
    while os.getppid() == parent:
        time.sleep(every)
    os.kill(os.getpid(), sig)
