"""`cxrgan sweep`: train every combination of settings, resumably, and rank the results.

A sweep folder holds `sweep.json` (the spec and the comparison) and `runs/<member>/`, one
ordinary run directory per combination, each written by a `python -m cxrgan train` subprocess
(so a crash in one member never takes the sweep down) with its output in `runs/<member>.log`.

Re-running the same command is safe: finished members are skipped, interrupted ones resume from
`checkpoints/last`, and a member that died before its first checkpoint starts again. See
docs/sweep.md for the walkthrough and the ranking rule.

This module runs members and owns the sweep folder (lock, sweep.json); the grid and spec live in
sweep_grid, resume decisions in sweep_resume, summaries and ranking in sweep_rank.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.training.rundir import now_iso, write_json_atomic

# Re-exported for callers (cli/sweep.py, tests) that import them from here.
from cxrgan.training.sweep_grid import (  # noqa: F401
    FIELD_ORDER,
    MAX_GRIDS,
    NOT_SWEEPABLE,
    RUNS,
    RUNTIME,
    SPEC_VERSION,
    SWEEP_FILE,
    Member,
    SweepSpec,
    budget_text,
    build_spec,
    flag,
    format_value,
    member_name,
    option_name,
    option_types,
    parse_bool,
    parse_sweep_param,
    parse_values,
    spec_difference,
    steps_budget,
)
from cxrgan.training.sweep_rank import (  # noqa: F401
    TIER_BROKEN,
    TIER_IMBALANCED,
    TIER_NOTHING,
    TIER_OK,
    TIERS,
    WINDOW,
    loss_score,
    loss_window,
    member_records,
    member_status,
    rank_key,
    summarise,
    summarise_member,
    to_float,
)
from cxrgan.training.sweep_resume import (  # noqa: F401
    FINISHED_REASONS,
    RUN_FILES,
    Plan,
    checkpoint_counters,
    decide,
    is_finished,
    read_run_config,
    remove_incomplete,
)

# What a sweep folder holds besides sweep.json: a folder of only these may become a sweep.
SWEEP_FILES = frozenset({RUNS, ".lock", "grids.png", "losses.png", "report.html"})
POLL_S = 0.2


# ------------------------------------------------------------------------------------------------
# The sweep folder


def read_sweep(sweep: Path) -> dict[str, Any] | None:
    path = sweep / SWEEP_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CxrganError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "spec" not in data:
        raise CxrganError(f"{path} is not a cxrgan sweep file")
    return data


def open_sweep(sweep: Path, spec: SweepSpec | None) -> SweepSpec:
    """The spec to run: the stored one (checked against `spec` when given), or `spec` when new."""
    stored = read_sweep(sweep)
    if stored is None:
        if spec is None:
            raise CxrganError(
                f"{sweep} holds no sweep ({SWEEP_FILE} missing); give the grid to start one"
            )
        if sweep.is_dir() and any(p.name not in SWEEP_FILES for p in sweep.iterdir()):
            raise CxrganError(f"{sweep} exists and is not a sweep folder; choose another --out")
        return spec
    old = SweepSpec.from_dict(stored["spec"])
    if spec is None:
        return old
    if old.identity() != spec.identity():
        raise CxrganError(
            f"{sweep} holds a different sweep ({spec_difference(old, spec)}); re-run its own "
            f"command (or `cxrgan sweep {sweep}`), or choose another --out"
        )
    # Same grid: keep the stored value order (member order), take this run's runtime options.
    return SweepSpec(old.grid, old.base, old.steps, spec.runtime)


def write_sweep(sweep: Path, summary: dict[str, Any]) -> None:
    write_json_atomic(sweep / SWEEP_FILE, summary)


@contextlib.contextmanager
def sweep_lock(sweep: Path) -> Iterator[None]:
    """One `cxrgan sweep` per folder at a time; the OS drops the lock if the process dies."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; run one sweep per folder by hand
        yield
        return
    sweep.mkdir(parents=True, exist_ok=True)
    with (sweep / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CxrganError(f"another `cxrgan sweep` is running in {sweep}") from None
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield


# ------------------------------------------------------------------------------------------------
# Running members as subprocesses


def train_args(values: dict[str, Any]) -> list[str]:
    """`cxrgan train` options for these settings (bools as its flags; no progress bars)."""
    defaults = TrainConfig()
    args: list[str] = []
    for name, value in values.items():
        if value is None or name in NOT_SWEEPABLE:
            continue
        if isinstance(value, bool):  # train's flags: --hflip turns on, --no-cache turns off
            if value != getattr(defaults, name):
                args.append(flag(name) if value else f"--no-{name.replace('_', '-')}")
        else:
            args += [flag(name), repr(value) if isinstance(value, float) else str(value)]
    return [*args, "--no-progress"]  # bars would fill the member's log with carriage returns


def member_command(member: Member, sweep: Path, plan: Plan, runtime: dict[str, Any]) -> list[str]:
    run_dir = str(member.run_dir(sweep))
    head = [sys.executable, "-m", "cxrgan", "train"]
    if plan.action == "resume":
        return [*head, "--resume", run_dir, *train_args(runtime)]
    return [*head, *train_args({**member.values, **runtime}), "--out", run_dir]


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
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # torch's intra-op pool follows these
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"  # the log shows progress as it happens
    # Children import the same cxrgan as this process, even when it is not installed.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


@dataclass
class Outcome:
    """How a member's subprocess ended in this sweep (absent: not run this time)."""

    returncode: int
    elapsed_s: float
    error: str | None = None


@dataclass
class _Running:
    member: Member
    plan: Plan
    proc: subprocess.Popen
    log: IO[str]
    started: float


def interrupted_code(rc: int) -> bool:
    return rc in (130, -signal.SIGINT)


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
        command = member_command(member, self.sweep, plan, self.runtime)
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


# ------------------------------------------------------------------------------------------------
# The whole sweep


@dataclass
class SweepResult:
    sweep: Path
    summary: dict[str, Any]  # the contents of sweep.json
    completed: bool  # False when interrupted before every member ran


def run_sweep(
    sweep: Path,
    spec: SweepSpec | None,
    jobs: int = 1,
    echo: Callable[[str], None] = print,
) -> SweepResult:
    """Train what is missing (skip, resume or (re)start each member), then compare."""
    open_sweep(sweep, spec)  # refuse a wrong folder or grid before creating anything
    with sweep_lock(sweep):
        spec = open_sweep(sweep, spec)
        members = spec.members()
        plans = [(m, decide(m.run_dir(sweep))) for m in members]
        previous = read_sweep(sweep)
        write_sweep(sweep, summarise(sweep, spec, {}, previous))  # the spec is on disk first
        runner = Runner(sweep, spec, jobs, echo)
        runner.on_finish = lambda: write_sweep(
            sweep, summarise(sweep, spec, runner.outcomes, previous)
        )
        echo(_plan_line(sweep, spec, plans, runner))
        for member, plan in plans:
            if plan.action == "skip":
                echo(f"{runner.tag(member)} skip     {member.name}  ({plan.reason})")
        started = time.monotonic()
        completed = runner.run([(m, p) for m, p in plans if p.action != "skip"])
        summary = finish(sweep, spec, runner.outcomes, previous, echo)
        echo(f"sweep {'finished' if completed else 'interrupted'} after "
             f"{time.monotonic() - started:.1f}s" +
             ("" if completed else "; re-run the same command to resume"))  # fmt: skip
        return SweepResult(sweep, summary, completed)


def compare_only(sweep: Path, echo: Callable[[str], None] = print) -> SweepResult:
    """Rebuild sweep.json, the table, grids.png, losses.png and report.html without training."""
    stored = read_sweep(sweep)
    if stored is None:
        raise CxrganError(f"{sweep} holds no sweep ({SWEEP_FILE} missing)")
    spec = SweepSpec.from_dict(stored["spec"])
    summary = finish(sweep, spec, {}, stored, echo)
    return SweepResult(sweep, summary, all(m["status"] == "done" for m in summary["members"]))


def finish(
    sweep: Path,
    spec: SweepSpec,
    outcomes: dict[str, Outcome],
    previous: dict[str, Any] | None,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    from cxrgan.reporting import sweep_compare

    summary = summarise(sweep, spec, outcomes, previous)
    write_sweep(sweep, summary)
    sweep_compare.plot_grids(sweep, summary["members"], sweep / "grids.png")
    sweep_compare.plot_losses(sweep, summary["members"], sweep / "losses.png")
    echo(sweep_compare.format_table(summary, sweep))
    note = write_html_report(sweep)
    if note:
        echo(note)
    return summary


def write_html_report(sweep: Path) -> str | None:
    """SWEEP/report.html from the reporting package, when it has one; a note when not."""
    try:
        from cxrgan.reporting.html_report import write_report
    except ImportError as exc:
        return f"report.html skipped: {exc}"
    try:
        write_report(sweep)
    except Exception as exc:  # the comparison is written already; a report bug must not hide it
        return f"warning: report.html failed: {type(exc).__name__}: {exc}"
    return None


def _plan_line(
    sweep: Path, spec: SweepSpec, plans: list[tuple[Member, Plan]], runner: Runner
) -> str:
    counts: dict[str, int] = {}
    for _, p in plans:
        counts[p.action] = counts.get(p.action, 0) + 1
    what = ", ".join(f"{n} to {a}" if a != "skip" else f"{n} finished" for a, n in counts.items())
    return (f"sweep {sweep}: {len(plans)} member(s), {spec.describe()}\n"
            f"  {what}; {runner.jobs} at a time, {runner.threads} thread(s) each")  # fmt: skip
