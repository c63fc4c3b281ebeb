"""Read a run's loss curves the way an experienced GAN trainer would, and say what to change.

`diagnose()` looks at the latest `window` training records of metrics.jsonl and names one state,
with the numbers behind it and advice in terms of cxrgan's flags. The rules, in the order they
win (the first that applies is `Diagnosis.state`, the others that apply go to `secondary`):

    too_early       fewer than `min_records` training records, and none of the evidence that
                    needs no trend: no NaN/inf, D not winning outright
    diverged        NaN/inf in the window (however few records), or a loss saturated/exploding
    mode_collapse   fixed-noise samples nearly identical (needs `diversity`)
    d_overfits      ADA's augmentation probability p pinned high, or rising to its cap, while D
                    still tells real from generated (only runs with --augment ada log p)
    d_overpowers_g  loss_D ≈ 0, D(x) → 1, D(G(z)) → 0, loss_G high or rising; or D winning
                    outright in every record of the last `outright_steps` steps (or, a stronger
                    signal, `crush_steps`): counted in steps, whatever --log-every, and however
                    few records
    d_too_weak      D cannot tell real from fake for most of the window, loss_D > loss_G, rising
    oscillating     large slow swings of a loss around its trend
    healthy         none of the above; FWD (when logged) says whether to go on or stop, read
                    against the real-vs-real floor (`fwd_floor` of the evaluation records): a
                    plateau at `fwd_floor_ratio` times the floor or more has stalled far from
                    the data, it has not converged

Every loss is read on its own scale. `d_x`, `d_g_z1`, `d_g_z2` are always D's outputs as
probabilities, the mean of σ(logit), whatever the loss; `loss_d` and `loss_g` are the loss
values, whose healthy ranges differ: bce and ns (the same non-saturating logistic loss) put a
coin-tossing D at loss_D = 2 ln 2, hinge at loss_D = 2 with loss_G = 0. Runs from before the
loss was selectable have no `loss` setting and are bce.

Every number the rules use is a field of `Thresholds` (the loss-dependent ones per loss, in
`LossRanges`), with the reason for its value. The parts live in `reporting.diagnosis`: the
window's statistics (`stats`), the rules (`rules`) and the advice (`advice`).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.reporting.diagnosis import advice, rules
from cxrgan.reporting.diagnosis.stats import FwdTrack, Wins, evidence, window_stats
from cxrgan.reporting.diversity import run_diversity
from cxrgan.reporting.formatting import fmt_number, fmt_with_logit
from cxrgan.reporting.run_records import is_run_dir, load_records, read_config, run_settings
from cxrgan.reporting.thresholds import (
    DEFAULT_LOSS,
    DEFAULT_THRESHOLDS,
    DEFAULT_WINDOW,
    HEALTHY,
    TITLES,
    TOO_EARLY,
    Thresholds,
)


@dataclass
class Diagnosis:
    """What the curves say: a state, the numbers behind it, and what to do."""

    state: str
    title: str
    evidence: dict[str, float]
    advice: str
    secondary: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # the checks that fired, in words
    action: str = ""  # the advice in a few words, for hint()
    summary: str = ""  # the key numbers in a few words, for hint()
    loss: str = DEFAULT_LOSS  # the loss the run trained with: the scale of loss_d and loss_g

    def hint(self) -> str:
        """One line for the end of each epoch: state, key numbers, what to try."""
        line = f"diagnosis: {self.title}"
        if self.summary:
            line += f" ({self.summary})"
        if self.action:
            line += f" → {self.action}"
        if self.secondary:
            line += f" [also: {', '.join(TITLES.get(s, s) for s in self.secondary)}]"
        return " ".join(line.split())  # one line whatever the parts contain

    def to_text(self) -> str:
        lines = [f"Diagnosis: {self.title} [{self.state}]"]
        if self.reasons:
            lines.append("Why:")
            lines += [f"  - {r}" for r in self.reasons]
        if self.evidence:
            lines.append(
                f"Evidence (loss {self.loss}; D(x), D(G(z)) are D's outputs as probabilities, "
                "σ(logit)):"
            )
            width = max(len(k) for k in self.evidence)
            for k, v in self.evidence.items():
                value = fmt_with_logit(v) if k in ("d_x", "d_g_z") else fmt_number(v)
                lines.append(f"  {k:<{width}}  {value}")
        lines.append(textwrap.fill(f"Advice: {self.advice}", width=100, subsequent_indent="  "))
        if self.secondary:
            lines.append("Also applies: " + ", ".join(TITLES.get(s, s) for s in self.secondary))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (strict JSON: non-finite evidence becomes null)."""
        return {
            "state": self.state,
            "title": self.title,
            "loss": self.loss,
            "evidence": {k: (v if math.isfinite(v) else None) for k, v in self.evidence.items()},
            "advice": self.advice,
            "secondary": list(self.secondary),
            "reasons": list(self.reasons),
            "hint": self.hint(),
        }


def diagnose(
    records: Sequence[Mapping[str, Any]],
    *,
    window: int = DEFAULT_WINDOW,
    diversity: float | None = None,
    quality: Sequence[Mapping[str, Any]] | None = None,
    reference_diversity: float | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    loss: str | None = None,
    settings: Mapping[str, Any] | None = None,
    stopped: str | None = None,
) -> Diagnosis:
    """Name the state of training from its records (see the module docstring for the rules).

    `records`: metrics.jsonl records in step order; only training records (with `loss_d`) count.
    `diversity`: `sample_diversity` of the latest fixed-noise grid; `reference_diversity`: that
    of the real grid (makes the collapse test relative). `quality`: evaluation records (`fwd`).
    `loss`: the run's loss ("bce", "ns", "hinge"), which sets the healthy ranges of loss_d and
    loss_g; default: `settings["loss"]`, else "bce". `settings`: the run's settings (config.json's
    `config`), which make the advice concrete (current widths, R1, augmentation, image size).
    `stopped`: why training last stopped (config.json's `stopped.reason`): a run the trainer
    stopped as diverged (NaN weights caught at a checkpoint, say) is diverged even when its
    logged losses look finite.
    """
    t = thresholds
    settings = settings if isinstance(settings, Mapping) else {}
    name = loss or settings.get("loss") or DEFAULT_LOSS
    name = name if isinstance(name, str) else DEFAULT_LOSS
    run = rules.RunContext(loss=name, ranges=t.for_loss(name), settings=settings)
    train = [r for r in records if isinstance(r, Mapping) and "loss_d" in r]
    window = max(int(window), t.min_records)
    fwd = FwdTrack.of(quality or [])
    if not train:
        return _too_early(0, Wins.none(), t, name, fwd)
    s = window_stats(train, window, t, run.ranges)
    wins = Wins.of(train, run.ranges)
    enough = len(train) >= t.min_records
    checks = rules.checks(
        s,
        wins,
        t,
        run,
        enough_records=enough,
        diversity=diversity,
        reference=reference_diversity,
        stopped=stopped,
        fwd=fwd,
    )
    fired = [state for state, reasons in checks.items() if reasons]
    if not fired and not enough:
        early = _too_early(len(train), wins, t, name, fwd)
        early.evidence |= privacy_spent(train, settings)
        return early
    state = fired[0] if fired else HEALTHY
    ev = evidence(s, wins, diversity, reference_diversity, fwd) | privacy_spent(train, settings)
    said = advice.explain(state, s, ev, fwd, t, run)
    return Diagnosis(
        state=state,
        title=said.title,
        evidence=ev,
        advice=said.text,
        secondary=fired[1:],
        reasons=checks[state] if state in checks else rules.healthy_reasons(s, fwd, t),
        action=said.action,
        summary=said.summary,
        loss=name,
    )


def privacy_spent(train: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> dict:
    """A --dp-epsilon run's ε spent so far (the latest record's) and its budget."""
    spent, budget = train[-1].get("dp_epsilon"), settings.get("dp_epsilon")
    if not isinstance(spent, int | float) or not isinstance(budget, int | float):
        return {}
    return {"dp_epsilon": float(spent), "dp_epsilon_budget": float(budget)}


def _too_early(n: int, wins: Wins, t: Thresholds, loss: str, fwd: FwdTrack) -> Diagnosis:
    said = advice.too_early(n, wins.latest_step, t, fwd)
    return Diagnosis(
        state=TOO_EARLY,
        title=said.title,
        evidence={
            "records": float(n),
            "min_records": float(t.min_records),
            "step": wins.latest_step,
            "won_steps": wins.outright,
            "crushed_steps": wins.crush,
        },
        advice=said.text,
        reasons=rules.too_early_reasons(n, t),
        action=said.action,
        summary=said.summary,
        loss=loss,
    )


def diagnose_run(
    run_dir: Path, *, window: int = DEFAULT_WINDOW, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> Diagnosis:
    """Diagnose a run directory: its metrics.jsonl, FWD records and latest sample grid, read
    with the loss and settings of its config.json."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise CxrganError(f"{run_dir} is not a run directory (no config.json)")
    training, evaluation = load_records(run_dir)
    diversity, real = run_diversity(run_dir)
    return diagnose(
        training,
        window=window,
        diversity=diversity,
        quality=evaluation,
        reference_diversity=real,
        thresholds=thresholds,
        settings=run_settings(run_dir),
        stopped=(read_config(run_dir).get("stopped") or {}).get("reason"),
    )
