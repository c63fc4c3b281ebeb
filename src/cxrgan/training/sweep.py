"""`cxrgan sweep`: train every combination of settings, resumably, and rank the results.

A sweep folder holds `sweep.json` (the spec and the comparison) and `runs/<member>/`, one
ordinary run directory per combination, each written by a `python -m cxrgan train` subprocess
(so a crash in one member never takes the sweep down) with its output in `runs/<member>.log`.

Re-running the same command is safe: finished members are skipped, interrupted ones resume from
`checkpoints/last`, and a member that died before its first checkpoint starts again. See
docs/sweep.md for the walkthrough and the ranking rule.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.training.rundir import now_iso, write_json_atomic

SWEEP_FILE = "sweep.json"
RUNS = "runs"
SPEC_VERSION = 1
# How a re-run may differ from the stored spec: where and how fast, not what is trained.
RUNTIME = ("device", "workers", "cache", "cache_dir")
# The sweep decides these for every member.
NOT_SWEEPABLE = frozenset({"out", "progress"})
FIELD_ORDER = [f.name for f in fields(TrainConfig)]
# A `--steps` budget becomes between MAX_GRIDS/2 and MAX_GRIDS epochs: that many sample grids
# and checkpoints, enough to watch a member develop without slowing short sweeps down.
MAX_GRIDS = 10
# What `cxrgan train` (and `evaluate`) write into a run folder; anything else is the user's.
RUN_FILES = frozenset(
    {"config.json", "metrics.jsonl", "train.log", "samples", "plots", "checkpoints",
     "report.html", "memorisation.png"}
)  # fmt: skip
# What a sweep folder holds besides sweep.json: a folder of only these may become a sweep.
SWEEP_FILES = frozenset({RUNS, ".lock", "grids.png", "losses.png", "report.html"})
FINISHED_REASONS = ("completed", "early_stop")
# The loss heuristic looks at the last third of the latest WINDOW training records (as
# diagnose's "now"), so a short spike at the very end does not decide the ranking.
WINDOW = 40
POLL_S = 0.2

# Loss-heuristic tiers (lower ranks first; see docs/sweep.md).
TIER_OK = 0  # healthy, or too early to tell
TIER_IMBALANCED = 1  # D overpowers G, D too weak, oscillating: alive but off balance
TIER_BROKEN = 2  # diverged, mode collapse, NaN/inf in the last window
TIER_NOTHING = 3  # no training record at all
TIERS = {
    "d_overpowers_g": TIER_IMBALANCED,
    "d_too_weak": TIER_IMBALANCED,
    "oscillating": TIER_IMBALANCED,
    "diverged": TIER_BROKEN,
    "mode_collapse": TIER_BROKEN,
}


# ------------------------------------------------------------------------------------------------
# Values: parsing with train's option types, and printing them back


def option_types() -> dict[str, Callable[[str], Any]]:
    """TrainConfig field → parser of one value, from `cxrgan train`'s option table."""
    from cxrgan.cli.train import OPTIONS

    types = {flag[2:].replace("-", "_"): kind for flag, kind, _ in OPTIONS}
    for f in fields(TrainConfig):  # on/off flags in train (--hflip, --no-cache): true/false here
        if isinstance(f.default, bool):
            types.setdefault(f.name, parse_bool)
    return types


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"not true/false: {text!r}")


def option_name(text: str) -> str:
    """`g-lr`, `--g-lr` or `g_lr` → `g_lr`, checked against TrainConfig and train's options."""
    name = text.strip().lstrip("-").replace("-", "_")
    if name not in FIELD_ORDER:
        raise CxrganError(f"unknown setting {text!r}; `cxrgan train --help` lists them")
    if name in NOT_SWEEPABLE or name not in option_types():
        raise CxrganError(f"{text!r} cannot be swept (the sweep sets it for every member)")
    return name


def parse_values(name: str, text: str) -> list[Any]:
    """'2e-4, 1e-3' → [0.0002, 0.001], each parsed as `cxrgan train --<name>` would."""
    kind = option_types()[name]
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise CxrganError(f"{flag(name)}: expected comma-separated values, got {text!r}")
    values = []
    for item in items:
        try:
            values.append(kind(item))
        except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
            raise CxrganError(f"{flag(name)}: {exc}") from None
    if len({json.dumps(v) for v in values}) != len(values):
        raise CxrganError(f"{flag(name)}: a value is listed twice in {text!r}")
    return values


def parse_sweep_param(text: str) -> tuple[str, list[Any]]:
    """'name=v1,v2' → (field, [values])."""
    name, sep, values = text.partition("=")
    if not sep:
        raise CxrganError(f"--sweep-param expects name=v1,v2,..., got {text!r}")
    field_name = option_name(name)
    return field_name, parse_values(field_name, values)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def format_value(value: Any) -> str:
    """Short and exact: 0.0002 → '2e-4', 0.5 → '0.5', True → 'true'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != 0 and math.isfinite(value) and not 1e-2 <= abs(value) < 1e4:
            mantissa, exponent = f"{value:.6e}".split("e")
            text = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
            if float(text) == value:
                return text
        return repr(value)
    return str(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,-]+")


def member_name(params: dict[str, Any]) -> str:
    """'g_lr=1e-3,d_lr=2e-4,seed=1': readable, and safe as a folder name on any OS."""
    parts = []
    for key, value in params.items():
        text = Path(value).name if key in ("data", "cache_dir") else format_value(value)
        parts.append(f"{key}={_UNSAFE.sub('_', text)}")
    return ",".join(parts)[:200]  # file names stop at 255 bytes


# ------------------------------------------------------------------------------------------------
# The spec: what is trained (grid × base × budget), and how to run it (runtime)


@dataclass
class Member:
    index: int  # position in the grid, 0-based
    name: str
    params: dict[str, Any]  # the swept settings of this member
    values: dict[str, Any]  # every setting passed to `cxrgan train` (base, budget and params)

    def run_dir(self, sweep: Path) -> Path:
        return sweep / RUNS / self.name

    def log(self, sweep: Path) -> Path:
        return sweep / RUNS / f"{self.name}.log"


@dataclass
class SweepSpec:
    grid: dict[str, list[Any]]  # swept field → values, in TrainConfig field order
    base: dict[str, Any]  # settings given to every member (budget included)
    steps: int | None = None  # the --steps budget as asked for, when one was
    runtime: dict[str, Any] = field(default_factory=dict)  # device, workers, cache: may change

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SPEC_VERSION,
            "grid": self.grid,
            "base": self.base,
            "steps": self.steps,
            "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        try:
            return cls(dict(data["grid"]), dict(data["base"]), data.get("steps"),
                       dict(data.get("runtime") or {}))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise CxrganError(f"{SWEEP_FILE} has no valid sweep spec") from None

    def identity(self) -> str:
        """What must match for a re-run to continue this sweep (value order does not matter)."""
        grid = {k: sorted(json.dumps(v) for v in vs) for k, vs in self.grid.items()}
        return json.dumps({"grid": grid, "base": self.base, "steps": self.steps}, sort_keys=True)

    def members(self) -> list[Member]:
        keys = list(self.grid)
        members = []
        for i, combo in enumerate(itertools.product(*(self.grid[k] for k in keys))):
            params = dict(zip(keys, combo, strict=True))
            values = {**self.base, **params}
            members.append(Member(i, member_name(params), params, values))
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise CxrganError(
                "two members would get the same folder name; make the values differ more"
            )
        return members

    def describe(self) -> str:
        grid = "  ".join(
            f"{flag(k)} {','.join(format_value(v) for v in vs)}" for k, vs in self.grid.items()
        )
        budget = budget_text(self)
        return f"{grid}  ({budget})"


def budget_text(spec: SweepSpec) -> str:
    if "epochs" in spec.grid or "steps_per_epoch" in spec.grid:
        return "the budget is swept"
    epochs = spec.base.get("epochs", TrainConfig.epochs)
    per = spec.base.get("steps_per_epoch")
    if spec.steps is not None:
        return f"--steps {spec.steps} → {epochs} epochs × {per} steps = {epochs * per} steps"
    if per:
        return f"{epochs} epoch(s) × {per} steps = {epochs * per} steps"
    return f"{epochs} epoch(s), each one pass over the data"


def steps_budget(steps: int, steps_per_epoch: int | None = None) -> tuple[int, int]:
    """(epochs, steps_per_epoch) that train `steps` optimiser steps, or as few more as possible.

    With `steps_per_epoch` given it is kept. Otherwise the budget is split into MAX_GRIDS/2 to
    MAX_GRIDS epochs (exactly when some count divides it; the most epochs on a tie), so every
    member leaves that many sample grids and checkpoints at evenly spaced steps.
    """
    if steps < 1:
        raise CxrganError(f"--steps must be at least 1, got {steps}")
    if steps_per_epoch:
        return math.ceil(steps / steps_per_epoch), steps_per_epoch
    top = min(steps, MAX_GRIDS)
    best = min(range(max(1, top // 2), top + 1),
               key=lambda e: (e * math.ceil(steps / e) - steps, -e))  # fmt: skip
    return best, math.ceil(steps / best)


def build_spec(
    grid: dict[str, list[Any]],
    base: dict[str, Any],
    steps: int | None = None,
) -> SweepSpec:
    """Check and canonicalise a sweep: every member's settings must pass TrainConfig.validate()."""
    if not grid:
        raise CxrganError(
            "nothing to sweep: give --g-lr, --d-lr, --seeds or --sweep-param name=v1,v2"
        )
    for name in grid:
        if name in base:
            raise CxrganError(f"{flag(name)} is both swept and given once; pass it one way")
    base = {k: v for k, v in base.items() if k not in NOT_SWEEPABLE and v is not None}
    runtime = {k: base.pop(k) for k in RUNTIME if k in base}
    # Absolute data folders: members (and later resumes) may run from any folder.
    if base.get("data") is not None:
        base["data"] = _data_folder(base["data"])
    if "data" in grid:
        grid = {**grid, "data": [_data_folder(v) for v in grid["data"]]}
    if steps is not None:
        clash = [flag(k) for k in ("epochs",) if k in base] + [
            flag(k) for k in ("epochs", "steps_per_epoch") if k in grid
        ]
        if clash:
            raise CxrganError(f"--steps sets the budget; drop {', '.join(clash)}")
        base["epochs"], base["steps_per_epoch"] = steps_budget(steps, base.get("steps_per_epoch"))
    ordered = {k: grid[k] for k in FIELD_ORDER if k in grid}
    spec = SweepSpec(ordered, {k: base[k] for k in FIELD_ORDER if k in base}, steps, runtime)
    for member in spec.members():
        TrainConfig.from_dict({**member.values, **runtime}).validate()
    return spec


def _data_folder(value: str) -> str:
    data = Path(value).expanduser().resolve()
    if not data.is_dir():
        raise CxrganError(f"data folder not found: {value}")
    return str(data)


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


def spec_difference(old: SweepSpec, new: SweepSpec) -> str:
    """In words, the first settings that differ."""
    diffs = []
    for key in [k for k in FIELD_ORDER if k in old.grid or k in new.grid]:
        a, b = old.grid.get(key), new.grid.get(key)
        if a is None or b is None or sorted(map(json.dumps, a)) != sorted(map(json.dumps, b)):
            diffs.append(f"{flag(key)} swept over {_values(a)}, now {_values(b)}")
    for key in [k for k in FIELD_ORDER if k in old.base or k in new.base]:
        a, b = old.base.get(key), new.base.get(key)
        if a != b:
            diffs.append(f"{flag(key)} was {_values(a)}, now {_values(b)}")
    if old.steps != new.steps:
        diffs.append(f"--steps was {_values(old.steps)}, now {_values(new.steps)}")
    return "; ".join(diffs[:4]) or "same settings"


def _values(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, list):
        return ",".join(format_value(x) for x in v)
    return format_value(v)


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
# Resume decisions


@dataclass(frozen=True)
class Plan:
    action: str  # "skip", "start", "resume" or "restart"
    reason: str


def is_finished(reason: str | None) -> bool:
    return bool(reason) and reason.startswith(FINISHED_REASONS)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def checkpoint_counters(path: Path) -> tuple[int, int] | None:
    """(completed epochs, steps) of a checkpoint, from its header only (no tensors loaded)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            counters = json.loads((f.metadata() or {})["state"])["counters"]
        return int(counters["epoch"]), int(counters["step"])
    except Exception:  # unreadable or foreign file: let `train --resume` say what is wrong
        return None


def decide(run_dir: Path) -> Plan:
    """What a (re-)run does with one member, from its run folder alone."""
    if not run_dir.exists():
        return Plan("start", "new")
    info = read_run_config(run_dir)
    stopped = (info.get("stopped") or {}).get("reason")
    if is_finished(stopped):
        return Plan("skip", stopped)
    last = run_dir / "checkpoints" / "last.safetensors"
    if not last.is_file():
        return Plan("restart", "no checkpoint yet")
    counters = checkpoint_counters(last)
    if counters is None:
        return Plan("resume", "from checkpoints/last")
    done, step = counters
    epochs = (info.get("config") or {}).get("epochs")
    if isinstance(epochs, int) and done >= epochs:
        # Killed between its last checkpoint and writing `stopped`: nothing left to train.
        return Plan("skip", f"all {epochs} epochs in checkpoints/last")
    return Plan("resume", f"from step {step}, {done} epoch(s) done")


def remove_incomplete(run_dir: Path, runs_root: Path) -> None:
    """Delete a member folder that never reached a checkpoint — and nothing else, ever."""
    if run_dir.is_symlink() or run_dir.resolve().parent != runs_root.resolve():
        raise CxrganError(f"refusing to delete {run_dir}: not a member folder of this sweep")
    if (run_dir / "checkpoints" / "last.safetensors").exists():
        raise CxrganError(f"refusing to delete {run_dir}: it has checkpoints/last")
    foreign = sorted(p.name for p in run_dir.iterdir() if p.name not in RUN_FILES)
    if foreign:
        raise CxrganError(
            f"{run_dir} has no checkpoint but holds files cxrgan did not write "
            f"({', '.join(foreign[:5])}); move them away and re-run"
        )
    shutil.rmtree(run_dir)


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
    train, _ = _records(run_dir)
    if not train:
        return ""
    r = train[-1]
    return (f"  (step {r.get('step')}: Loss_D {_num(r.get('loss_d')):.3f}, "
            f"Loss_G {_num(r.get('loss_g')):.3f})")  # fmt: skip


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


# ------------------------------------------------------------------------------------------------
# Comparison: one summary per member, then the ranking


def _records(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from cxrgan.reporting.diagnose import load_records

    if not run_dir.is_dir():
        return [], []
    return load_records(run_dir)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _clean(value: Any) -> Any:
    """Strict JSON: NaN/inf become null (browsers and other tools reject them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def member_status(run_dir: Path, outcome: Outcome | None, previous: dict[str, Any] | None) -> str:
    """done | failed | interrupted | pending (not started yet)."""
    info = read_run_config(run_dir)
    stopped = (info.get("stopped") or {}).get("reason")
    if is_finished(stopped) or (info and decide(run_dir).action == "skip"):
        return "done"
    if outcome is not None:
        return "failed" if outcome.error else "interrupted"
    if previous and previous.get("status") == "failed" and not stopped:
        return "failed"  # nothing changed since that sweep saw it fail
    if not run_dir.exists():
        return "pending"
    return "interrupted"


def loss_window(train: list[dict[str, Any]]) -> list[dict[str, Any]]:
    recent = train[-WINDOW:]
    return recent[-max(1, round(len(recent) / 3)) :]


def loss_score(train: list[dict[str, Any]]) -> tuple[float | None, dict[str, Any]]:
    """|mean D(x) − mean D(G(z))| over the last window (None if NaN/inf there), and the means."""
    window = loss_window(train)
    if not window:
        return None, {}
    means = {}
    for key in ("loss_d", "loss_g", "d_x", "d_g_z1"):
        values = [_num(r.get(key)) for r in window]
        means[key] = sum(values) / len(values)
    means["records"] = len(window)
    if not all(math.isfinite(means[k]) for k in ("loss_d", "loss_g", "d_x", "d_g_z1")):
        return None, means
    return abs(means["d_x"] - means["d_g_z1"]), means


def _diagnosis(run_dir: Path, train: list[dict[str, Any]], evals: list[dict[str, Any]]) -> Any:
    from cxrgan.reporting import diagnose as dg

    diversity = reference = None
    grids = dg.epoch_grids(run_dir)
    size = dg.image_size_of(run_dir)
    with contextlib.suppress(CxrganError, OSError, ValueError):
        if grids:
            diversity = dg.grid_diversity(grids[-1][1], image_size=size)
        if (run_dir / "samples" / "real.png").is_file():
            reference = dg.grid_diversity(run_dir / "samples" / "real.png", image_size=size)
    return dg.diagnose(train, quality=evals, diversity=diversity, reference_diversity=reference)


def summarise_member(
    sweep: Path, member: Member, outcome: Outcome | None, previous: dict[str, Any] | None
) -> dict[str, Any]:
    from cxrgan.reporting.diagnose import epoch_grids

    run_dir = member.run_dir(sweep)
    train, evals = _records(run_dir)
    score, means = loss_score(train)
    diagnosis = _diagnosis(run_dir, train, evals) if train else None
    fwds = [(_num(r.get("fwd")), r.get("step")) for r in evals]
    fwds = [(f, s) for f, s in fwds if math.isfinite(f)]
    best = min(fwds, key=lambda x: x[0]) if fwds else None
    grids = epoch_grids(run_dir)
    info = read_run_config(run_dir)
    final_keys = ("step", "epoch", "loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "lr_g", "lr_d")
    state = diagnosis.state if diagnosis else None
    tier = (
        TIER_NOTHING if not train else TIER_BROKEN if score is None else TIERS.get(state, TIER_OK)
    )
    summary = {
        "name": member.name,
        "index": member.index,
        "run_dir": f"{RUNS}/{member.name}",
        "log": f"{RUNS}/{member.name}.log",
        "params": member.params,
        "status": member_status(run_dir, outcome, previous),
        "stopped": (info.get("stopped") or {}).get("reason"),
        "final": {k: train[-1][k] for k in final_keys if k in train[-1]} if train else {},
        "window": means,
        "score": score,
        "tier": tier,
        "best_fwd": best[0] if best else None,
        "best_fwd_step": best[1] if best else None,
        "diagnosis": diagnosis.to_dict() if diagnosis else None,
        "grid": str(grids[-1][1].relative_to(sweep)) if grids else None,
    }
    if outcome is not None:
        summary.update(
            returncode=outcome.returncode, elapsed_s=outcome.elapsed_s, error=outcome.error
        )
    elif previous and summary["status"] == "failed":
        summary.update({k: previous.get(k) for k in ("returncode", "elapsed_s", "error")})
    return summary


def rank_key(m: dict[str, Any], ranked_by: str) -> tuple:
    """Finished members first; then best FWD (when ranking by it), tier, |D(x) − D(G(z))|."""
    fwd = m.get("best_fwd")
    by_fwd = (fwd is None, fwd if fwd is not None else 0.0) if ranked_by == "best_fwd" else ()
    score = m.get("score")
    return (
        m["status"] != "done",
        *by_fwd,
        m["tier"],
        math.inf if score is None else score,
        m["index"],
    )


def summarise(
    sweep: Path, spec: SweepSpec, outcomes: dict[str, Outcome], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """The contents of sweep.json: spec, members in rank order, and the rule that ranked them."""
    old = {m.get("name"): m for m in (previous or {}).get("members", []) if isinstance(m, dict)}
    members = [
        summarise_member(sweep, m, outcomes.get(m.name), old.get(m.name)) for m in spec.members()
    ]
    ranked_by = "best_fwd" if any(m["best_fwd"] is not None for m in members) else "loss_heuristic"
    members.sort(key=lambda m: rank_key(m, ranked_by))
    for rank, m in enumerate(members, 1):
        m["rank"] = rank
    best = members[0]["name"] if members and members[0]["status"] == "done" else None
    return _clean({
        "version": SPEC_VERSION,
        "updated": now_iso(),
        "spec": spec.to_dict(),
        "members": members,
        "ranked_by": ranked_by,
        "best": best,
    })  # fmt: skip


def write_sweep(sweep: Path, summary: dict[str, Any]) -> None:
    write_json_atomic(sweep / SWEEP_FILE, summary)
