"""Running sweep members: one `python -m cxrgan train --config SWEEP/runs/<member>.toml`
subprocess each (so a crash in one member never takes the sweep down), `jobs` at a time, with
their output in SWEEP/runs/<member>.log, and Ctrl-C passed on so they save before stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path
from cxrgan.lifeline import tied_env
from cxrgan.settings import dump_toml
from cxrgan.sweep.rank import Outcome, member_records, to_float
from cxrgan.sweep.resume import Plan, is_finished, read_run_config, remove_incomplete
from cxrgan.sweep.spec import RUNS, Member, SweepSpec
from cxrgan.training.rundir import EXIT_SIGINT, EXIT_SIGTERM, now_iso

POLL_S = 0.2


def member_settings(member: Member, runtime: dict[str, Any]) -> dict[str, Any]:
    """What `cxrgan train` gets for this member: the spec's values, this run's runtime options,
    and no progress bars (they would fill the member's log with carriage returns)."""
    values = {**member.values, **runtime, "progress": False}
    return {k: v for k, v in values.items() if v is not None and k != "out"}


def write_member_config(member: Member, sweep: Path, runtime: dict[str, Any]) -> Path:
    """SWEEP/runs/<member>.toml: the member's settings, read by its `cxrgan train --config`."""
    path = member.config(sweep)
    header = (
        f"sweep member {member.name}, written by `cxrgan sweep` before each start or "
        "resume\n(SWEEP/sweep.json holds the spec); other settings: train's defaults"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(dump_toml(member_settings(member, runtime), header))
    return path


def member_command(member: Member, sweep: Path, plan: Plan) -> list[str]:
    """Start or resume the member from its settings file; on resume `cxrgan train` checks that
    only settings it may change (device, workers, cache) differ from the run's."""
    run_dir = str(member.run_dir(sweep))
    head = [sys.executable, "-m", "cxrgan", "train", "--config", str(member.config(sweep))]
    if plan.action == "resume":
        return [*head, "--resume", run_dir]
    return [*head, "--out", run_dir]


def thread_budget(jobs: int) -> int:
    """Threads per member: the cores (or $OMP_NUM_THREADS, if set: the sweep's share) // jobs."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    with contextlib.suppress(ValueError):
        cores = int(os.environ.get("OMP_NUM_THREADS", "")) or cores
    return max(1, cores // max(1, jobs))


def child_env(threads: int) -> dict[str, str]:
    env = tied_env()  # a member dies with the sweep (SIGTERM: it saves checkpoints/last first)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # torch's intra-op pool follows these
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"  # the log shows progress as it happens
    # Children import the same cxrgan as this process, even when it is not installed.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


@dataclass
class _Running:
    member: Member
    plan: Plan
    proc: subprocess.Popen
    log: IO[str]
    started: float


def interrupted_code(rc: int) -> bool:
    """A member that was interrupted (and saved checkpoints/last): `cxrgan train` exits 130 after
    SIGINT, 143 after SIGTERM (cxrgan.training.rundir); negative: killed by the signal."""
    return rc in (EXIT_SIGINT, EXIT_SIGTERM, -signal.SIGINT, -signal.SIGTERM)


class Runner:
    """Runs members, `jobs` at a time; Ctrl-C lets running members save and stops the sweep."""

    def __init__(self, sweep: Path, spec: SweepSpec, jobs: int, echo: Callable[[str], None]):
        self.sweep, self.spec, self.jobs, self.echo = sweep, spec, max(1, jobs), echo
        self.threads = thread_budget(self.jobs)
        self.runtime = dict(spec.runtime)
        if self.jobs > 1 and "workers" not in self.runtime:
            self.runtime["workers"] = self.threads  # decoders share the cores too
        self.total = len(spec.members())
        self.running: list[_Running] = []
        self.outcomes: dict[str, Outcome] = {}
        self.on_finish: Callable[[], None] = lambda: None

    def run(self, todo: Sequence[tuple[Member, Plan]]) -> bool:
        """Run `todo`; False when interrupted (running members were let save first)."""
        pending = list(todo)
        previous = signal.signal(signal.SIGTERM, self._terminate)
        try:
            while pending or self.running:
                while pending and len(self.running) < self.jobs:
                    self._start(*pending.pop(0))
                self._reap()
                time.sleep(POLL_S)
            return True
        except KeyboardInterrupt:
            self._drain()
            return False
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _terminate(self, signum: int, frame: Any) -> None:
        # `kill PID` reaches the sweep only: ask running members to stop like Ctrl-C would.
        self._signal_all(signal.SIGINT)
        raise KeyboardInterrupt

    def _start(self, member: Member, plan: Plan) -> None:
        """Launch one member; a member that cannot even start fails alone."""
        try:
            self._launch(member, plan)
        except (CxrganError, OSError) as exc:
            self.outcomes[member.name] = Outcome(-1, 0.0, str(exc))
            self.echo(f"{self.tag(member)} FAILED   {member.name}  could not start: {exc}")
            self.on_finish()

    def _launch(self, member: Member, plan: Plan) -> None:
        run_dir = member.run_dir(self.sweep)
        if plan.action == "restart":
            remove_incomplete(run_dir, self.sweep / RUNS)
        write_member_config(member, self.sweep, self.runtime)
        command = member_command(member, self.sweep, plan)
        log_path = member.log(self.sweep)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("a")
        log.write(f"=== {now_iso()} cxrgan sweep: {plan.action} ({plan.reason}), "
                  f"{self.threads} thread(s)\n$ {' '.join(command)}\n")  # fmt: skip
        log.flush()
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=child_env(self.threads),
        )  # fmt: skip
        self.running.append(_Running(member, plan, proc, log, time.monotonic()))
        self.echo(f"{self.tag(member)} {plan.action:<8} {member.name}  ({plan.reason}; "
                  f"log: {log_path})")  # fmt: skip

    def _reap(self) -> None:
        for r in list(self.running):
            rc = r.proc.poll()
            if rc is not None:
                self.running.remove(r)
                self._finished(r, rc)

    def _finished(self, r: _Running, rc: int) -> None:
        r.log.close()
        elapsed = time.monotonic() - r.started
        log_path = r.member.log(self.sweep)
        error = None if rc == 0 or interrupted_code(rc) else _last_line(log_path) or f"exit {rc}"
        self.outcomes[r.member.name] = Outcome(rc, round(elapsed, 2), error)
        info = read_run_config(r.member.run_dir(self.sweep))
        stopped = (info.get("stopped") or {}).get("reason")
        if error:
            self.echo(f"{self.tag(r.member)} FAILED   {r.member.name}  exit {rc} after "
                      f"{elapsed:.1f}s: {error} (see {log_path})")  # fmt: skip
        elif is_finished(stopped):
            self.echo(f"{self.tag(r.member)} done     {r.member.name}  in {elapsed:.1f}s"
                      f"{_final_text(r.member.run_dir(self.sweep))}")  # fmt: skip
        else:
            self.echo(f"{self.tag(r.member)} stopped  {r.member.name}  after {elapsed:.1f}s "
                      f"({stopped or 'interrupted'})")  # fmt: skip
        self.on_finish()

    def _drain(self) -> None:
        """After Ctrl-C: members got it too and save checkpoints/last; wait for them."""
        if self.running:
            self.echo(f"interrupted: waiting for {len(self.running)} running member(s) to save "
                      "checkpoints/last (Ctrl-C again to stop them now)")  # fmt: skip
        presses = 0
        while self.running:
            try:
                self._reap()
                time.sleep(POLL_S)
            except KeyboardInterrupt:
                presses += 1
                self._signal_all(signal.SIGINT if presses == 1 else signal.SIGKILL)

    def _signal_all(self, sig: int) -> None:
        for r in self.running:
            with contextlib.suppress(ProcessLookupError):
                r.proc.send_signal(sig)

    def tag(self, member: Member) -> str:
        width = len(str(self.total))
        return f"[{member.index + 1:>{width}}/{self.total}]"


def _last_line(path: Path) -> str | None:
    try:
        lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return None
    return lines[-1][:300] if lines else None


def _final_text(run_dir: Path) -> str:
    train, _ = member_records(run_dir)
    if not train:
        return ""
    r = train[-1]
    return (f"  (step {r.get('step')}: Loss_D {to_float(r.get('loss_d')):.3f}, "
            f"Loss_G {to_float(r.get('loss_g')):.3f})")  # fmt: skip
