"""The run directory: paths, config.json, metrics.jsonl and the log (see docs/run-directory.md);
the lock that lets one training at a time write it; the exit status of a training."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cxrgan.errors import CxrganError, printable
from cxrgan.files import FILE_MODE, atomic_path, json_text, remove_temp_leftovers, write_json_atomic
from cxrgan.reporting.formatting import as_number

try:
    import fcntl
except ImportError:  # Windows: no flock; a run directory is not locked there
    fcntl = None  # type: ignore[assignment]

# Exit statuses of `cxrgan train` (docs/reliability.md).
EXIT_ERROR = 2  # any one-line error
EXIT_DIVERGED = 3  # non-finite losses or weights: --on-nan stop, or rollbacks exhausted
EXIT_SIGINT = 130  # interrupted by Ctrl-C (SIGINT), checkpoints/last saved: 128 + 2
EXIT_SIGTERM = 143  # interrupted by SIGTERM (kill, a scheduler's preemption): 128 + 15
EXIT_KILLED = 128  # + N: a process of the run was killed by signal N (137: SIGKILL, kill -9)

LOCK_NAME = ".lock"  # in the run directory: who trains it now (see RunDir.lock)


def exit_status(stopped: dict[str, Any] | None) -> int:
    """The exit status of a training that stopped as config.json's `stopped` says."""
    stopped = stopped or {}
    reason = str(stopped.get("reason") or "")
    if reason == "interrupted":
        return EXIT_SIGTERM if stopped.get("signal") == "SIGTERM" else EXIT_SIGINT
    if reason.startswith("diverged"):
        return EXIT_DIVERGED
    if reason.startswith("failed"):  # a write error, or a rank killed under --nproc
        return killed_status(stopped["signal"]) if "signal" in stopped else EXIT_ERROR
    return 0


def killed_status(name: str) -> int:
    """The shell's status of a process killed by the signal `name` (SIGKILL: 137)."""
    try:
        return EXIT_KILLED + signal.Signals[name].value
    except KeyError:  # not a signal's name: config.json was edited
        return EXIT_ERROR


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def default_run_path() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


class RunDir:
    """Knows where every file of a run lives; reading and writing goes through here."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.jsonl"
        self.log_file = self.root / "train.log"
        self.samples = self.root / "samples"
        self.plots = self.root / "plots"
        self.checkpoints = self.root / "checkpoints"
        self.report = self.root / "report.html"
        self.lock_file = self.root / LOCK_NAME
        self.stopped: dict[str, Any] | None = None  # config.json's `stopped` once training ends
        self._lock_fd: int | None = None

    @classmethod
    def create(cls, root: Path) -> RunDir:
        """A new run folder, locked for this process (see `lock`)."""
        run = cls(root)
        if run.config.exists():
            raise CxrganError(f"{root} already holds a run; use --resume {root} or another --out")
        run.root.mkdir(parents=True, exist_ok=True)
        run.lock()
        try:
            if run.config.exists():  # another process created it while this one decoded
                raise CxrganError(
                    f"{root} already holds a run; use --resume {root} or another --out"
                )
            for sub in (run.samples, run.plots, run.checkpoints):
                sub.mkdir(parents=True, exist_ok=True)
        except BaseException:
            run.unlock()
            raise
        return run

    @classmethod
    def open(cls, root: str | Path) -> RunDir:
        run = cls(root)
        root = run.root
        if not root.is_dir():
            raise CxrganError(f"run folder not found: {root}")
        if not run.config.is_file():
            raise CxrganError(f"{root} is not a cxrgan run (no config.json)")
        return run

    # -- one writer at a time -------------------------------------------------------------------

    def lock(self) -> None:
        """Hold an exclusive OS lock on RUN/.lock until `unlock` or the process ends (the kernel
        releases it even after kill -9, so no stale lock survives a crash). A second training
        of the same run gets a one-line error naming the holder. Readers take no lock."""
        if fcntl is None or self._lock_fd is not None:
            return
        try:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise CxrganError(f"cannot lock {self.root}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                raise CxrganError(
                    f"{self.root} is being trained by another process ({holder}); only one "
                    "training may write a run: wait for it to end or stop it, then --resume"
                ) from None
            raise CxrganError(f"cannot lock {self.root}: {exc.strerror or exc}") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json_text(holder) + "\n").encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove_leftovers(self) -> list[Path]:
        """Temporary files of writes that a kill interrupted (the files they were replacing are
        intact); call under the lock, so that no live writer's file goes."""
        return remove_temp_leftovers(self.root)

    # -- files ------------------------------------------------------------------------------------

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / f"{name}.safetensors"

    def checkpoint_names(self) -> list[str]:
        if not self.checkpoints.is_dir():
            return []
        return sorted(
            p.name.removesuffix(".safetensors") for p in self.checkpoints.glob("*.safetensors")
        )

    def sample_grid(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:04d}.png"

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config.read_text())
        except json.JSONDecodeError as exc:
            raise CxrganError(f"{self.config} is not valid JSON: {exc}") from None

    def write_config(self, data: dict[str, Any]) -> None:
        write_json_atomic(self.config, data)

    def append_metrics(self, record: dict[str, Any]) -> None:
        """One record as one line of strict JSON: a NaN or infinite value is written as null."""
        with self.metrics.open("a") as f:
            f.write(json_text(record) + "\n")

    def truncate_metrics(self, step: int) -> int:
        """Drop every record after `step` (what a resume or rollback from a checkpoint at `step`
        trains again) and any torn or garbled line, so the file keeps one record per step and
        kind; the number of lines dropped."""
        if not self.metrics.is_file():
            return 0
        raw = self.metrics.read_bytes()
        kept, dropped = [], 0
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:  # torn by a kill mid-write, or garbage
                dropped += 1
                continue
            # a record without a numeric step reads as NaN, which is never later: it is kept
            later = isinstance(record, dict) and as_number(record.get("step")) > step
            if later:
                dropped += 1
                continue
            kept.append(line)
        if dropped:
            with atomic_path(self.metrics) as tmp:
                tmp.write_bytes(b"".join(line + b"\n" for line in kept))
        return dropped

    def log(self, message: str, *, echo: bool = True) -> None:
        """Append a line to train.log and, unless told otherwise, print it. The message stays
        one line whatever names it holds: control characters are escaped (errors.printable)."""
        message = printable(message)
        with self.log_file.open("a") as f:
            f.write(f"{now_iso()} {message}\n")
        if echo:
            # tqdm.write keeps an active progress bar intact.
            tqdm.write(message, file=sys.stderr if message.startswith("warning") else sys.stdout)


def lock_holder(root: Path) -> str | None:
    """Who trains the run at `root` now, as the lock's error names them; None when no process
    does. The lock is tried and let go at once (a reader's probe, not a claim)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(Path(root) / LOCK_NAME, os.O_RDONLY)
    except OSError:  # no lock file: nothing ever trained there
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(fd)
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    """Who holds a run's lock, from what it wrote into RUN/.lock."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode())
        return f"PID {holder['pid']} on host {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "PID unknown: it is still starting"
