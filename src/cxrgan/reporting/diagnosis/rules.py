"""Which states apply: one rule per state, each returning the reasons it fired, in words (an empty
list: it did not). `checks` runs them in the order they win (thresholds.STATES)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cxrgan.reporting.diagnosis.stats import FwdTrack, WindowStats, Wins, nan_to
from cxrgan.reporting.formatting import (
    as_number,
    fmt_number,
    fmt_p,
    fmt_pct,
    fmt_ratio,
    fmt_signed_pct,
    fmt_with_logit,
)
from cxrgan.reporting.thresholds import (
    D_OVERFITS,
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    DIVERGED,
    GETTING_WORSE,
    LOSS_FAMILY,
    MODE_COLLAPSE,
    OSCILLATING,
    LossRanges,
    Thresholds,
)


@dataclass(frozen=True)
class RunContext:
    """What the rules and the advice need to know of the run: its loss and its settings
    (config.json's `config`)."""

    loss: str
    ranges: LossRanges
    settings: Mapping[str, Any]

    @property
    def known_loss(self) -> bool:
        return self.loss in LOSS_FAMILY

    @property
    def hinge(self) -> bool:
        return LOSS_FAMILY.get(self.loss) == "hinge"

    @property
    def of_a_class(self) -> str:
        """' of the least varied class' for a conditional run, whose grid diversity is that of
        its least varied class band (reporting.diversity), else ''."""
        return " of the least varied class" if self.settings.get("conditional") is True else ""

    def number(self, key: str) -> float:
        return as_number(self.settings.get(key))


def checks(
    s: WindowStats,
    wins: Wins,
    t: Thresholds,
    run: RunContext,
    *,
    enough_records: bool,
    diversity: float | None,
    reference: float | None,
    stopped: str | None,
    fwd: FwdTrack,
) -> dict[str, list[str]]:
    """The reasons of every state's rule, in the order the states win. With fewer records than
    `min_records` only the evidence that needs no trend is judged."""
    stopped_diverged = [f"training stopped: {stopped}"] if diverged_stop(stopped) else []
    if not enough_records:
        return {
            DIVERGED: stopped_diverged + _rule_nonfinite(s, t),
            D_OVERPOWERS_G: _rule_outright(wins, t, run.ranges),
        }
    return {
        DIVERGED: stopped_diverged + _rule_diverged(s, t, run.ranges),
        MODE_COLLAPSE: _rule_collapse(diversity, reference, t, run.of_a_class),
        GETTING_WORSE: _rule_getting_worse(fwd, t),
        D_OVERFITS: _rule_overfits(s, t),
        D_OVERPOWERS_G: _rule_overpower(s, t, run.ranges) + _rule_outright(wins, t, run.ranges),
        D_TOO_WEAK: _rule_too_weak(s, t, run.ranges),
        OSCILLATING: _rule_oscillating(s, t),
    }


def _rule_getting_worse(fwd: FwdTrack, t: Thresholds) -> list[str]:
    """FWD (a conditional run's worst class's) more than `fwd_worse` above its best in each of
    the latest `fwd_worse_evals` evaluations: the run is past its best and going away from it."""
    worse = fwd.worse_since_best(t.fwd_worse)
    if len(fwd.values) < t.fwd_min_evals or worse < t.fwd_worse_evals:
        return []
    return [
        f"{fwd.noun_at_start} was best at step {fmt_number(fwd.best_step)} "
        f"({fmt_number(fwd.best)}) and has been more than {fmt_pct(t.fwd_worse)} above it in "
        f"each of the last {worse} evaluations (latest {fmt_number(fwd.latest)}, "
        f"{fmt_signed_pct(fwd.latest / fwd.best - 1)})"
    ]


def diverged_stop(reason: str | None) -> bool:
    """Whether the trainer stopped the run as diverged (config.json's `stopped.reason`)."""
    return isinstance(reason, str) and reason.startswith("diverged")


def _rule_nonfinite(s: WindowStats, t: Thresholds) -> list[str]:
    """NaN/inf in a logged loss or D output: the weights broke, however few records."""
    if s.nonfinite <= t.max_nonfinite:
        return []
    return [
        f"{s.nonfinite} records with NaN/inf in the last {s.n} "
        f"(first at step {fmt_number(s.first_nonfinite_step)})"
    ]


def _rule_diverged(s: WindowStats, t: Thresholds, r: LossRanges) -> list[str]:
    reasons = _rule_nonfinite(s, t)
    worst = s.latest_loss
    if worst >= r.explode_loss:
        reasons.append(
            f"latest |loss| {fmt_number(worst)} ≥ {fmt_number(r.explode_loss)} (saturated)"
        )
    elif s.growth >= t.explode_growth and worst >= t.explode_growth_min:
        reasons.append(
            f"|loss| grew ×{fmt_number(s.growth)} over the window "
            f"(≥ ×{fmt_number(t.explode_growth)}) to {fmt_number(worst)} "
            f"(≥ {fmt_number(t.explode_growth_min)})"
        )
    return reasons


def _rule_collapse(
    diversity: float | None, reference: float | None, t: Thresholds, of_a_class: str = ""
) -> list[str]:
    if diversity is None or not math.isfinite(diversity):
        return []
    what = f"sample diversity{of_a_class}"
    if reference is not None and math.isfinite(reference) and reference > 0:
        limit = t.collapse_ratio * reference
        if diversity <= limit:
            return [
                f"{what} {fmt_number(diversity)} ≤ {fmt_number(t.collapse_ratio)} × real "
                f"{fmt_number(reference)} = {fmt_number(limit)}"
            ]
        return []
    if diversity <= t.collapse_diversity:
        return [f"{what} {fmt_number(diversity)} ≤ {fmt_number(t.collapse_diversity)}"]
    return []


def _rule_overfits(s: WindowStats, t: Thresholds) -> list[str]:
    """ADA's p pinned high (or climbing to its cap) while D still separates real from fake.

    A D that calls every image real also drives p up (r_t counts only real images); that is
    D too weak, not overfitting, so the rule stays quiet when D cannot tell them apart."""
    if not s.p_records:
        return []
    pinned = s.p_high_share >= t.ada_persist
    climbing = s.p_latest >= t.ada_p_cap and s.p_latest > s.p_before
    if not (pinned or climbing) or nan_to(s.weak_fraction, 0.0) >= t.weak_persist:
        return []
    reasons = []
    if pinned:
        reasons.append(
            f"ADA's p ≥ {fmt_number(t.ada_p_high)} in {fmt_pct(s.p_high_share)} of the window "
            f"(≥ {fmt_pct(t.ada_persist)}): p {fmt_number(s.p_now)} now, "
            f"{fmt_number(s.p_before)} before"
        )
    if climbing:
        reasons.append(
            f"ADA's p rose from {fmt_number(s.p_before)} to {fmt_number(s.p_latest)} "
            f"(≥ {fmt_number(t.ada_p_cap)}, near its 0.99 cap)"
        )
    reasons.append(
        f"D still separates real from generated images through the augmentation: "
        f"D(x) {fmt_p(s.d_x)}, D(G(z)) {fmt_number(s.d_g_z)}"
    )
    return reasons


def _rule_overpower(s: WindowStats, t: Thresholds, r: LossRanges) -> list[str]:
    g_high = s.loss_g >= r.overpower_loss_g
    g_rising = s.trend_g >= t.rising
    if not (
        s.loss_d <= r.overpower_loss_d
        and s.d_x >= r.overpower_d_x
        and s.d_g_z <= r.overpower_d_g_z
        and (g_high or g_rising)
    ):
        return []
    g_reason = (
        f"loss_G {fmt_number(s.loss_g)} ≥ {fmt_number(r.overpower_loss_g)}"
        if g_high
        else f"loss_G rising {fmt_signed_pct(s.trend_g)} (≥ {fmt_pct(t.rising)})"
    )
    return [
        f"loss_D {fmt_number(s.loss_d)} ≤ {fmt_number(r.overpower_loss_d)}",
        f"D(x) {fmt_p(s.d_x)} ≥ {fmt_with_logit(r.overpower_d_x)}",
        f"D(G(z)) {fmt_number(s.d_g_z)} ≤ {fmt_with_logit(r.overpower_d_g_z)}",
        g_reason,
    ]


def _rule_outright(w: Wins, t: Thresholds, r: LossRanges) -> list[str]:
    """D right about every image at long odds for a number of steps: no trend needed."""
    reasons = []
    for steps, records, need, d_x, d_g_z, what in (
        (w.crush, w.crush_records, t.crush_steps, r.crush_d_x, r.crush_d_g_z, "crushed G"),
        (w.outright, w.outright_records, t.outright_steps, r.outright_d_x, r.outright_d_g_z,
         "won outright"),
    ):  # fmt: skip
        if steps >= need:
            reasons.append(
                f"D has {what} for the last {fmt_number(steps)} steps (≥ {need}): D(x) ≥ "
                f"{fmt_with_logit(d_x)} and D(G(z)) ≤ {fmt_with_logit(d_g_z)} in each of the "
                f"{records} records since step {fmt_number(w.latest_step - steps)}"
            )
    return reasons[:1]  # the stronger signal when both hold


def _rule_too_weak(s: WindowStats, t: Thresholds, r: LossRanges) -> list[str]:
    rising = s.trend_d >= t.rising
    above_coin = s.loss_d >= r.weak_loss_d
    if not (s.weak_fraction >= t.weak_persist and s.loss_d > s.loss_g and (rising or above_coin)):
        return []
    return [
        f"D(x) − D(G(z)) ≤ {fmt_number(t.weak_separation)} in {fmt_pct(s.weak_fraction)} of the "
        f"window (≥ {fmt_pct(t.weak_persist)}): D(x) {fmt_p(s.d_x)}, "
        f"D(G(z)) {fmt_number(s.d_g_z)}",
        f"loss_D {fmt_number(s.loss_d)} > loss_G {fmt_number(s.loss_g)}",
        f"loss_D rising {fmt_signed_pct(s.trend_d)} (≥ {fmt_pct(t.rising)})"
        if rising
        else f"loss_D {fmt_number(s.loss_d)} ≥ {fmt_number(r.weak_loss_d)} (worse than a coin, "
        f"{_coin_text(r)})",
    ]


def _coin_text(r: LossRanges) -> str:
    """How this loss scores a D that cannot tell (every logit 0)."""
    if math.isclose(r.coin_loss_d, 2 * math.log(2)):
        return "2 ln 2 = 1.386"
    return f"{fmt_number(r.coin_loss_d)} with logits at 0"


def _rule_oscillating(s: WindowStats, t: Thresholds) -> list[str]:
    reasons = []
    for name, swing, reversals in (
        ("loss_D", s.swing_d, s.reversals_d),
        ("loss_G", s.swing_g, s.reversals_g),
    ):
        if nan_to(swing, 0.0) >= t.swing and reversals >= t.min_reversals:
            reasons.append(
                f"{name} swings {fmt_number(swing)} around its trend (≥ {fmt_number(t.swing)}), "
                f"changing direction {reversals} times (≥ {t.min_reversals})"
            )
    return reasons


def healthy_reasons(s: WindowStats, fwd: FwdTrack, t: Thresholds) -> list[str]:
    """Why no rule fired, and where FWD stands against its floor."""
    reasons = [
        f"losses finite and bounded (loss_D {fmt_number(s.loss_d)}, loss_G {fmt_number(s.loss_g)})",
        f"D(x) {fmt_p(s.d_x)}, D(G(z)) {fmt_number(s.d_g_z)}: neither side wins outright",
    ]
    if len(fwd.values) >= t.fwd_min_evals:
        reasons.append(
            f"{fwd.name} {fmt_number(fwd.latest)} (best {fmt_number(fwd.best)}) over "
            f"{len(fwd.values)} evaluations"
        )
    if math.isfinite(fwd.ratio):
        far = fwd.ratio >= t.fwd_floor_ratio
        reasons.append(
            f"best {fwd.name} ×{fmt_ratio(fwd.ratio)} the real-vs-real floor "
            f"{fmt_number(fwd.floor)} ({'≥' if far else '<'} ×{fmt_number(t.fwd_floor_ratio)}: "
            f"{'far from' if far else 'near'} the data)"
        )
    return reasons


def too_early_reasons(n: int, t: Thresholds) -> list[str]:
    """Why a run with fewer than `min_records` records and no fired rule is not judged yet."""
    return [
        f"{n} training records < {t.min_records}",
        "no NaN/inf, and D has not won outright long enough to judge by steps",
    ]
