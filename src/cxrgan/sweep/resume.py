"""Resume decisions for sweep members: skip, start, resume or restart, read from each member's
run folder alone, and the only deletion a sweep ever does (a member with no checkpoint)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open

from cxrgan.errors import CxrganError
from cxrgan.files import is_temp_leftover

# What `cxrgan train` (and `evaluate`) write into a run folder; anything else is the user's.
RUN_FILES = frozenset(
    {"config.json", "metrics.jsonl", "train.log", "samples", "plots", "checkpoints",
     "report.html", "memorisation.png", ".lock"}
)  # fmt: skip
FINISHED_REASONS = ("completed", "early_stop")


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
    foreign = sorted(
        p.name for p in run_dir.iterdir() if p.name not in RUN_FILES and not is_temp_leftover(p)
    )
    if foreign:
        raise CxrganError(
            f"{run_dir} has no checkpoint but holds files cxrgan did not write "
            f"({', '.join(foreign[:5])}); move them away and re-run"
        )
    shutil.rmtree(run_dir)
