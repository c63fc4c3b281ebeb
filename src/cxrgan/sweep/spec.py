"""The sweep's spec (grid × base settings × budget, stored in sweep.json), its members, and
the `--steps` budget split."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.sweep.grid import NOT_SWEEPABLE, flag, format_value, member_name

# Sweep folder layout: SWEEP_FILE, and one run folder per member under RUNS/.
SWEEP_FILE = "sweep.json"
RUNS = "runs"
SPEC_VERSION = 1
# How a re-run may differ from the stored spec: where and how fast, not what is trained.
RUNTIME = ("device", "workers", "cache", "cache_dir")
FIELD_ORDER = [f.name for f in fields(TrainConfig)]
# A `--steps` budget becomes between MAX_GRIDS/2 and MAX_GRIDS epochs: that many sample grids
# and checkpoints, enough to watch a member develop without slowing short sweeps down.
MAX_GRIDS = 10


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

    def config(self, sweep: Path) -> Path:
        """The settings file its `cxrgan train --config` reads."""
        return sweep / RUNS / f"{self.name}.toml"


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
