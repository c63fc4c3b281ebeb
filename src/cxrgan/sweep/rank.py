"""Ranking sweep members: one summary per member (status, loss window, diagnosis tier, best
FWD) and the sweep.json contents that list them best first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrgan.files import json_ready
from cxrgan.reporting.diagnose import Diagnosis, diagnose
from cxrgan.reporting.diversity import run_diversity
from cxrgan.reporting.run_records import (
    best_evaluation,
    epoch_grids,
    load_records,
    run_settings,
    selection_fwd,
)
from cxrgan.sweep.resume import decide, is_finished, read_run_config
from cxrgan.sweep.spec import RUNS, SPEC_VERSION, Member, SweepSpec
from cxrgan.training.rundir import now_iso

# The loss heuristic looks at the last third of the latest WINDOW training records (as
# diagnose's "now"), so a short spike at the very end does not decide the ranking.
WINDOW = 40

# Loss-heuristic tiers (lower ranks first; see docs/sweep.md).
TIER_OK = 0  # healthy, or too early to tell
TIER_IMBALANCED = 1  # D overpowers G, D too weak, oscillating, D overfits: off balance
TIER_BROKEN = 2  # diverged, mode collapse, NaN/inf in the last window
TIER_NOTHING = 3  # no training record at all
TIERS = {
    "d_overpowers_g": TIER_IMBALANCED,
    "d_too_weak": TIER_IMBALANCED,
    "oscillating": TIER_IMBALANCED,
    "d_overfits": TIER_IMBALANCED,
    "diverged": TIER_BROKEN,
    "mode_collapse": TIER_BROKEN,
}


@dataclass
class Outcome:
    """How a member's subprocess ended in this sweep (absent: not run this time)."""

    returncode: int
    elapsed_s: float
    error: str | None = None


def member_records(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training, evaluation) records of a member; empty for a member not started yet."""
    if not run_dir.is_dir():
        return [], []
    return load_records(run_dir)


def to_float(value: Any) -> float:
    """A metrics value as a float; NaN where float() cannot read it."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


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
        values = [to_float(r.get(key)) for r in window]
        means[key] = sum(values) / len(values)
    means["records"] = len(window)
    if not all(math.isfinite(means[k]) for k in ("loss_d", "loss_g", "d_x", "d_g_z1")):
        return None, means
    return abs(means["d_x"] - means["d_g_z1"]), means


def _diagnosis(
    run_dir: Path, train: list[dict[str, Any]], evals: list[dict[str, Any]]
) -> Diagnosis:
    diversity, reference = run_diversity(run_dir)  # mode collapse counts in the ranking
    return diagnose(train, quality=evals, diversity=diversity, reference_diversity=reference,
                    settings=run_settings(run_dir))  # each loss on its own scale  # fmt: skip


def summarise_member(
    sweep: Path, member: Member, outcome: Outcome | None, previous: dict[str, Any] | None
) -> dict[str, Any]:
    run_dir = member.run_dir(sweep)
    train, evals = member_records(run_dir)
    score, means = loss_score(train)
    diagnosis = _diagnosis(run_dir, train, evals) if train else None
    best = best_evaluation(evals)
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
        "best_fwd": to_float(selection_fwd(best)) if best else None,
        "best_fwd_step": best.get("step") if best else None,
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
    return json_ready({
        "version": SPEC_VERSION,
        "updated": now_iso(),
        "spec": spec.to_dict(),
        "members": members,
        "ranked_by": ranked_by,
        "best": best,
    })  # fmt: skip
