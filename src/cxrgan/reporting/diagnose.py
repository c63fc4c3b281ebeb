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
`LossRanges`), with the reason for its value.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cxrgan.errors import CxrganError
from cxrgan.recipes import RECIPES
from cxrgan.reporting.diversity import run_diversity
from cxrgan.reporting.run_records import (
    as_number,
    best_evaluation,
    fwd_floor,
    is_run_dir,
    load_records,
    read_config,
    run_settings,
    selection_fwd,
)
from cxrgan.reporting.thresholds import (
    D_OVERFITS,
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    DEFAULT_LOSS,
    DEFAULT_THRESHOLDS,
    DEFAULT_WINDOW,
    DIVERGED,
    HEALTHY,
    LOSS_FAMILY,
    MODE_COLLAPSE,
    OSCILLATING,
    TITLES,
    TOO_EARLY,
    LossRanges,
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
                line = f"  {k:<{width}}  {_fmt(v)}"
                if k in ("d_x", "d_g_z") and 0 < v < 1:
                    line += f" = σ({_fmt_logit(_logit(v))})"
                lines.append(line)
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


# ------------------------------------------------------------------------------------------------
# The rules


@dataclass
class _Stats:
    """Numbers the rules use, computed once from the window."""

    n: int
    window: int
    step: float
    nonfinite: int
    first_nonfinite_step: float
    loss_d: float  # medians over "now" (the last part of the window)
    loss_g: float
    d_x: float
    d_g_z: float
    loss_d_before: float
    loss_g_before: float
    trend_d: float  # relative change now vs before
    trend_g: float
    latest_loss: float  # max over losses of the median of the last `latest` records
    growth: float  # max over losses of latest / before
    swing_d: float
    swing_g: float
    reversals_d: int
    reversals_g: int
    weak_fraction: float  # fraction of records with D(x) − D(G(z)) <= weak_separation
    lr_g: float
    lr_d: float
    # ADA's augmentation probability (NaN / 0 records without --augment ada)
    p_records: int  # window records that carry a finite augment_p
    p_now: float  # median over "now"
    p_before: float  # median over "before"
    p_latest: float  # median of the last `latest` records
    p_high_share: float  # share of the window's p values >= ada_p_high
    r1_penalty: float  # recent medians of what regularisers and aux losses add (NaN: absent)
    loss_d_aux: float


@dataclass(frozen=True)
class _Run:
    """What the advice needs to know of the run: its loss and its settings (config.json)."""

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
    run = _Run(loss=name, ranges=t.for_loss(name), settings=settings)
    train = [r for r in records if isinstance(r, Mapping) and "loss_d" in r]
    window = max(int(window), t.min_records)
    fwd = _Fwd.of(quality or [])
    if not train:
        return _too_early(0, _Wins.none(), t, name, fwd)
    s = _stats(train, window, t, run.ranges)
    wins = _Wins.of(train, run.ranges)
    stopped_diverged = [f"training stopped: {stopped}"] if _diverged_stop(stopped) else []
    if len(train) < t.min_records:
        # Too few records for trends; judge what needs none, whatever the record count.
        checks = {
            DIVERGED: stopped_diverged + _rule_nonfinite(s, t),
            D_OVERPOWERS_G: _rule_outright(wins, t, run.ranges),
        }
    else:
        checks = {
            DIVERGED: stopped_diverged + _rule_diverged(s, t, run.ranges),
            MODE_COLLAPSE: _rule_collapse(diversity, reference_diversity, t, run.of_a_class),
            D_OVERFITS: _rule_overfits(s, t),
            D_OVERPOWERS_G: _rule_overpower(s, t, run.ranges) + _rule_outright(wins, t, run.ranges),
            D_TOO_WEAK: _rule_too_weak(s, t, run.ranges),
            OSCILLATING: _rule_oscillating(s, t),
        }
    fired = [state for state, reasons in checks.items() if reasons]
    if not fired and len(train) < t.min_records:
        return _too_early(len(train), wins, t, name, fwd)
    state = fired[0] if fired else HEALTHY
    evidence = _evidence(s, wins, diversity, reference_diversity, fwd)
    title, advice, action, summary = _explain(state, s, evidence, fwd, t, run)
    summary += fwd.summary()
    reasons = checks[state] if state in checks else _healthy_reasons(s, fwd, t)
    if s.p_records and state != D_OVERFITS:
        summary += f", ADA p={_fmt(s.p_latest)}"
    if not run.known_loss:
        advice += (
            f" (The loss {name!r} is unknown to diagnose: its losses were read on bce's scale; "
            "D(x) and D(G(z)) are probabilities whatever the loss.)"
        )
    return Diagnosis(
        state=state,
        title=title,
        evidence=evidence,
        advice=advice,
        secondary=fired[1:],
        reasons=reasons,
        action=action,
        summary=summary,
        loss=name,
    )


def _too_early(n: int, wins: _Wins, t: Thresholds, loss: str, fwd: _Fwd) -> Diagnosis:
    step = wins.latest_step
    at = f" (step {_fmt(step)})" if math.isfinite(step) else ""
    return Diagnosis(
        state=TOO_EARLY,
        title=TITLES[TOO_EARLY],
        evidence={
            "records": float(n),
            "min_records": float(t.min_records),
            "step": step,
            "won_steps": wins.outright,
            "crushed_steps": wins.crush,
        },
        advice=f"Only {n} training record{'s' * (n != 1)}{at}; the trends say something after "
        f"{t.min_records}. Nothing is NaN/inf, and D has not won outright for "
        f"{t.outright_steps} steps (nor crushed G for {t.crush_steps}), which would be judged "
        "now. Let it train.",
        reasons=[
            f"{n} training records < {t.min_records}",
            "no NaN/inf, and D has not won outright long enough to judge by steps",
        ],
        action="keep training",
        summary=f"{n} of {t.min_records} records"
        + (f", step {_fmt(step)}" if at else "")
        + fwd.summary(),
        loss=loss,
    )


def _stats(train: list[Mapping[str, Any]], window: int, t: Thresholds, r: LossRanges) -> _Stats:
    recent = train[-window:]
    n = len(recent)
    k = max(3, round(n * t.part))
    cols = {key: _column(recent, key) for key in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")}
    d_g_z = cols["d_g_z1"] if np.isfinite(cols["d_g_z1"]).any() else cols["d_g_z2"]
    bad = np.zeros(n, dtype=bool)
    for key, col in cols.items():
        present = np.array([key in r for r in recent])
        bad |= present & ~np.isfinite(col)
    steps = _column(recent, "step")
    now_d, now_g = _median(cols["loss_d"][-k:]), _median(cols["loss_g"][-k:])
    before_d, before_g = _median(cols["loss_d"][:k]), _median(cols["loss_g"][:k])
    separation = cols["d_x"] - d_g_z
    judged = np.isfinite(separation)
    # Magnitudes: a hinge loss_G is negative when G's images score above 0 (bce's are >= 0).
    latest_d = abs(_median(cols["loss_d"][-t.latest :]))
    latest_g = abs(_median(cols["loss_g"][-t.latest :]))
    swing_d, reversals_d = _swing(cols["loss_d"], t, r.swing_floor)
    swing_g, reversals_g = _swing(cols["loss_g"], t, r.swing_floor)
    p = _column(recent, "augment_p")
    p_ok = p[np.isfinite(p)]
    return _Stats(
        n=n,
        window=window,
        step=_last_finite(steps),
        nonfinite=int(bad.sum()),
        first_nonfinite_step=float(steps[bad][0]) if bad.any() else float("nan"),
        loss_d=now_d,
        loss_g=now_g,
        d_x=_median(cols["d_x"][-k:]),
        d_g_z=_median(d_g_z[-k:]),
        loss_d_before=before_d,
        loss_g_before=before_g,
        trend_d=_rel_change(before_d, now_d, t.trend_floor),
        trend_g=_rel_change(before_g, now_g, t.trend_floor),
        latest_loss=max(_nan_to(latest_d, 0.0), _nan_to(latest_g, 0.0)),
        growth=max(_ratio(latest_d, abs(before_d)), _ratio(latest_g, abs(before_g))),
        swing_d=swing_d,
        swing_g=swing_g,
        reversals_d=reversals_d,
        reversals_g=reversals_g,
        weak_fraction=(
            float((separation[judged] <= t.weak_separation).mean()) if judged.any() else math.nan
        ),
        lr_g=_last_finite(_column(train, "lr_g")),
        lr_d=_last_finite(_column(train, "lr_d")),
        p_records=len(p_ok),
        p_now=_median(p[-k:]),
        p_before=_median(p[:k]),
        p_latest=_median(p[-t.latest :]),
        p_high_share=float((p_ok >= t.ada_p_high).mean()) if len(p_ok) else math.nan,
        r1_penalty=_median(_column(recent, "r1_penalty")[-k:]),
        loss_d_aux=_median(_column(recent, "loss_d_aux")[-k:]),
    )


def _rule_nonfinite(s: _Stats, t: Thresholds) -> list[str]:
    """NaN/inf in a logged loss or D output: the weights broke, however few records."""
    if s.nonfinite <= t.max_nonfinite:
        return []
    return [
        f"{s.nonfinite} records with NaN/inf in the last {s.n} "
        f"(first at step {_fmt(s.first_nonfinite_step)})"
    ]


def _diverged_stop(reason: str | None) -> bool:
    return isinstance(reason, str) and reason.startswith("diverged")


def _rule_diverged(s: _Stats, t: Thresholds, r: LossRanges) -> list[str]:
    reasons = _rule_nonfinite(s, t)
    worst = s.latest_loss
    if worst >= r.explode_loss:
        reasons.append(f"latest |loss| {_fmt(worst)} ≥ {_fmt(r.explode_loss)} (saturated)")
    elif s.growth >= t.explode_growth and worst >= t.explode_growth_min:
        reasons.append(
            f"|loss| grew ×{_fmt(s.growth)} over the window (≥ ×{_fmt(t.explode_growth)}) "
            f"to {_fmt(worst)} (≥ {_fmt(t.explode_growth_min)})"
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
                f"{what} {_fmt(diversity)} ≤ {_fmt(t.collapse_ratio)} × real "
                f"{_fmt(reference)} = {_fmt(limit)}"
            ]
        return []
    if diversity <= t.collapse_diversity:
        return [f"{what} {_fmt(diversity)} ≤ {_fmt(t.collapse_diversity)}"]
    return []


def _rule_overfits(s: _Stats, t: Thresholds) -> list[str]:
    """ADA's p pinned high (or climbing to its cap) while D still separates real from fake.

    A D that calls every image real also drives p up (r_t counts only real images); that is
    D too weak, not overfitting, so the rule stays quiet when D cannot tell them apart."""
    if not s.p_records:
        return []
    pinned = s.p_high_share >= t.ada_persist
    climbing = s.p_latest >= t.ada_p_cap and s.p_latest > s.p_before
    if not (pinned or climbing) or _nan_to(s.weak_fraction, 0.0) >= t.weak_persist:
        return []
    reasons = []
    if pinned:
        reasons.append(
            f"ADA's p ≥ {_fmt(t.ada_p_high)} in {_pct(s.p_high_share)} of the window "
            f"(≥ {_pct(t.ada_persist)}): p {_fmt(s.p_now)} now, {_fmt(s.p_before)} before"
        )
    if climbing:
        reasons.append(
            f"ADA's p rose from {_fmt(s.p_before)} to {_fmt(s.p_latest)} (≥ {_fmt(t.ada_p_cap)}, "
            "near its 0.99 cap)"
        )
    reasons.append(
        f"D still separates real from generated images through the augmentation: "
        f"D(x) {_fmt_p(s.d_x)}, D(G(z)) {_fmt(s.d_g_z)}"
    )
    return reasons


def _prob_bound(p: float) -> str:
    """'0.9 = σ(2.2)': a probability threshold with the logit it stands for."""
    return f"{_fmt(p)} = σ({_fmt_logit(_logit(p))})" if 0 < p < 1 else _fmt(p)


def _rule_overpower(s: _Stats, t: Thresholds, r: LossRanges) -> list[str]:
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
        f"loss_G {_fmt(s.loss_g)} ≥ {_fmt(r.overpower_loss_g)}"
        if g_high
        else f"loss_G rising {_signed_pct(s.trend_g)} (≥ {_pct(t.rising)})"
    )
    return [
        f"loss_D {_fmt(s.loss_d)} ≤ {_fmt(r.overpower_loss_d)}",
        f"D(x) {_fmt_p(s.d_x)} ≥ {_prob_bound(r.overpower_d_x)}",
        f"D(G(z)) {_fmt(s.d_g_z)} ≤ {_prob_bound(r.overpower_d_g_z)}",
        g_reason,
    ]


@dataclass(frozen=True)
class _Wins:
    """How long D has won outright, in steps, counted back from the latest training record.

    A record covers the steps since the previous record (the first: since step 0), so the
    count is the same at any --log-every: it is the latest step minus the step of the latest
    record in which D did not win (or 0)."""

    latest_step: float
    outright: float  # steps with D(x) ≥ outright_d_x and D(G(z)) ≤ outright_d_g_z
    outright_records: int
    crush: float  # the same at the crush bounds
    crush_records: int

    @classmethod
    def none(cls) -> _Wins:
        return cls(math.nan, 0.0, 0, 0.0, 0)

    @classmethod
    def of(cls, train: Sequence[Mapping[str, Any]], r: LossRanges) -> _Wins:
        steps = _column(train, "step")
        d_x = _column(train, "d_x")
        d_g_z = _column(train, "d_g_z1")
        if not np.isfinite(d_g_z).any():
            d_g_z = _column(train, "d_g_z2")
        latest = _last_finite(steps)
        outright, n_out = _won_steps(steps, (d_x >= r.outright_d_x) & (d_g_z <= r.outright_d_g_z))
        crush, n_crush = _won_steps(steps, (d_x >= r.crush_d_x) & (d_g_z <= r.crush_d_g_z))
        return cls(latest, outright, n_out, crush, n_crush)


def _won_steps(steps: np.ndarray, won: np.ndarray) -> tuple[float, int]:
    """(Steps covered by the trailing run of records where `won`, how many records)."""
    k = len(won)
    while k > 0 and won[k - 1]:
        k -= 1
    records = len(won) - k
    if not records or not np.isfinite(steps[-1]):
        return 0.0, 0
    since = float(steps[k - 1]) if k > 0 else 0.0
    return (float(steps[-1]) - since if math.isfinite(since) else 0.0), records


def _rule_outright(w: _Wins, t: Thresholds, r: LossRanges) -> list[str]:
    """D right about every image at long odds for a number of steps: no trend needed."""
    reasons = []
    for steps, records, need, d_x, d_g_z, what in (
        (w.crush, w.crush_records, t.crush_steps, r.crush_d_x, r.crush_d_g_z, "crushed G"),
        (w.outright, w.outright_records, t.outright_steps, r.outright_d_x, r.outright_d_g_z,
         "won outright"),
    ):  # fmt: skip
        if steps >= need:
            reasons.append(
                f"D has {what} for the last {_fmt(steps)} steps (≥ {need}): D(x) ≥ "
                f"{_prob_bound(d_x)} and D(G(z)) ≤ {_prob_bound(d_g_z)} in each of the "
                f"{records} records since step {_fmt(w.latest_step - steps)}"
            )
    return reasons[:1]  # the stronger signal when both hold


def _rule_too_weak(s: _Stats, t: Thresholds, r: LossRanges) -> list[str]:
    rising = s.trend_d >= t.rising
    above_coin = s.loss_d >= r.weak_loss_d
    if not (s.weak_fraction >= t.weak_persist and s.loss_d > s.loss_g and (rising or above_coin)):
        return []
    return [
        f"D(x) − D(G(z)) ≤ {_fmt(t.weak_separation)} in {_pct(s.weak_fraction)} of the window "
        f"(≥ {_pct(t.weak_persist)}): D(x) {_fmt_p(s.d_x)}, D(G(z)) {_fmt(s.d_g_z)}",
        f"loss_D {_fmt(s.loss_d)} > loss_G {_fmt(s.loss_g)}",
        f"loss_D rising {_signed_pct(s.trend_d)} (≥ {_pct(t.rising)})"
        if rising
        else f"loss_D {_fmt(s.loss_d)} ≥ {_fmt(r.weak_loss_d)} (worse than a coin, "
        f"{_coin_text(r)})",
    ]


def _coin_text(r: LossRanges) -> str:
    """How this loss scores a D that cannot tell (every logit 0)."""
    if math.isclose(r.coin_loss_d, 2 * math.log(2)):
        return "2 ln 2 = 1.386"
    return f"{_fmt(r.coin_loss_d)} with logits at 0"


def _rule_oscillating(s: _Stats, t: Thresholds) -> list[str]:
    reasons = []
    for name, swing, reversals in (
        ("loss_D", s.swing_d, s.reversals_d),
        ("loss_G", s.swing_g, s.reversals_g),
    ):
        if _nan_to(swing, 0.0) >= t.swing and reversals >= t.min_reversals:
            reasons.append(
                f"{name} swings {_fmt(swing)} around its trend (≥ {_fmt(t.swing)}), changing "
                f"direction {reversals} times (≥ {t.min_reversals})"
            )
    return reasons


def _healthy_reasons(s: _Stats, fwd: _Fwd, t: Thresholds) -> list[str]:
    reasons = [
        f"losses finite and bounded (loss_D {_fmt(s.loss_d)}, loss_G {_fmt(s.loss_g)})",
        f"D(x) {_fmt_p(s.d_x)}, D(G(z)) {_fmt(s.d_g_z)}: neither side wins outright",
    ]
    if len(fwd.values) >= t.fwd_min_evals:
        reasons.append(
            f"{fwd.name} {_fmt(fwd.latest)} (best {_fmt(fwd.best)}) over {len(fwd.values)} "
            "evaluations"
        )
    if math.isfinite(fwd.ratio):
        far = fwd.ratio >= t.fwd_floor_ratio
        reasons.append(
            f"best {fwd.name} ×{_fmt_ratio(fwd.ratio)} the real-vs-real floor {_fmt(fwd.floor)} "
            f"({'≥' if far else '<'} ×{_fmt(t.fwd_floor_ratio)}: "
            f"{'far from' if far else 'near'} the data)"
        )
    return reasons


# ------------------------------------------------------------------------------------------------
# Evidence and advice


def _evidence(
    s: _Stats, wins: _Wins, diversity: float | None, reference: float | None, fwd: _Fwd
) -> dict[str, float]:
    ev = {
        "records": float(s.n),
        "step": s.step,
        "won_steps": wins.outright,
        "crushed_steps": wins.crush,
        "loss_d": s.loss_d,
        "loss_g": s.loss_g,
        "d_x": s.d_x,
        "d_g_z": s.d_g_z,
        "loss_d_trend": s.trend_d,
        "loss_g_trend": s.trend_g,
        "swing_d": s.swing_d,
        "swing_g": s.swing_g,
        "reversals_d": float(s.reversals_d),
        "reversals_g": float(s.reversals_g),
        "weak_fraction": s.weak_fraction,
        "nonfinite": float(s.nonfinite),
        "lr_g": s.lr_g,
        "lr_d": s.lr_d,
    }
    if s.p_records:
        ev["augment_p"] = s.p_now
        ev["augment_p_latest"] = s.p_latest
        ev["augment_p_before"] = s.p_before
        ev["augment_p_high_share"] = s.p_high_share
    if math.isfinite(s.r1_penalty):
        ev["r1_penalty"] = s.r1_penalty
    if math.isfinite(s.loss_d_aux):
        ev["loss_d_aux"] = s.loss_d_aux
    if diversity is not None:
        ev["diversity"] = float(diversity)
    if reference is not None:
        ev["real_diversity"] = float(reference)
    if len(fwd.values):
        ev["fwd_latest"] = fwd.latest
        ev["fwd_best"] = fwd.best
    if math.isfinite(fwd.floor):
        ev["fwd_floor"] = fwd.floor
        ev["fwd_floor_n"] = fwd.floor_n
    if math.isfinite(fwd.ratio):
        ev["fwd_floor_ratio"] = fwd.ratio
    return ev


def _explain(
    state: str, s: _Stats, ev: dict[str, float], fwd: _Fwd, t: Thresholds, run: _Run
) -> tuple[str, str, str, str]:
    """(title, advice, action, summary) for a state."""
    g, d = s.lr_g, s.lr_d
    balance = f"D(x)={_fmt_p(s.d_x)}, D(G(z))={_fmt(s.d_g_z)}, loss_D={_fmt(s.loss_d)}"
    if state == DIVERGED:
        calm = _lr_pair(g / 10, d / 10, "÷10")
        where = (
            f"NaN/inf at step {_fmt(s.first_nonfinite_step)}"
            if s.nonfinite
            else f"loss {_fmt(s.latest_loss)}"
        )
        advice = (
            "Training has broken down; more steps will not help, and checkpoints/last holds the "
            "broken weights. Start again with lower learning rates, "
            f"{calm} (or from an epoch_NNNN checkpoint saved before it happened)."
        )
        return TITLES[state], advice, f"start again with {calm}", where
    if state == MODE_COLLAPSE:
        return _explain_collapse(s, ev, t, run)
    if state == D_OVERFITS:
        return _explain_overfits(s, t, run)
    if state == D_OVERPOWERS_G:
        raise_g = _lr_flag("--g-lr", g, t.g_lr_raise, f"×{_fmt(t.g_lr_raise)}")
        lower_d = _lr_flag("--d-lr", d, 1 / t.g_lr_raise, f"÷{_fmt(t.g_lr_raise)}")
        if run.hinge:
            why = (
                "The discriminator crushes the generator: its logits clear the hinge's margins "
                "(real above +1, generated below −1) for nearly every image, so D's loss has "
                "nothing left to learn from and G's samples stay poor."
            )
        else:
            why = (
                "The discriminator crushes the generator: it is sure about every image, so G "
                "gets almost no gradient and its samples stay noise."
            )
        advice = (
            f"{why} Raise {raise_g}, or lower {lower_d}; "
            "`cxrgan train --resume RUN` takes the new rates."
        )
        if s.step < t.transient_steps:
            advice += (
                f" At step {_fmt(s.step)} this may still be the start-up transient (a healthy "
                "DCGAN's D can win outright for ~150 steps before G catches up): if D still "
                f"wins at step {t.transient_steps}, change the rates."
            )
        if run.hinge and run.settings.get("d_spectral_norm") is False:
            advice += (
                " The hinge loss is meant for a Lipschitz-bounded D (SNGAN): a new run with "
                "--d-spectral-norm keeps D's logits from running away."
            )
        return TITLES[state], advice, f"try {_flag_short('--g-lr', g, t.g_lr_raise)}", balance
    if state == D_TOO_WEAK:
        lower_g = _lr_flag("--g-lr", g, 1 / t.g_lr_lower, f"÷{_fmt(t.g_lr_lower)}")
        raise_d = _lr_flag("--d-lr", d, t.g_lr_lower, f"×{_fmt(t.g_lr_lower)}")
        advice = (
            "The discriminator can no longer tell real from generated images and its loss keeps "
            "climbing, so G stops getting useful feedback. Lower "
            f"{lower_g}, or raise {raise_d}; `cxrgan train --resume RUN` takes the new rates."
        )
        summary = f"{balance} > loss_G={_fmt(s.loss_g)}"
        return TITLES[state], advice, f"try {_flag_short('--g-lr', g, 1 / t.g_lr_lower)}", summary
    if state == OSCILLATING:
        calm = _lr_pair(g / t.lr_calm, d / t.lr_calm, f"÷{_fmt(t.lr_calm)}")
        advice = (
            "The losses swing up and down for many records in a row: G and D keep overshooting "
            f"each other. Lower both learning rates, {calm} (`cxrgan train --resume RUN` takes "
            "them)."
        )
        summary = f"swing loss_D={_fmt(s.swing_d)}, loss_G={_fmt(s.swing_g)}"
        return TITLES[state], advice, f"try {calm}", summary
    return _explain_healthy(s, fwd, t, run)


def _explain_collapse(
    s: _Stats, ev: dict[str, float], t: Thresholds, run: _Run
) -> tuple[str, str, str, str]:
    """An unconditional G that collapses is slowed down. A conditional run whose minority class
    fades over thousands of steps is not helped by that: measured on the Kaggle split (README,
    Performance), G at half its rate lost the class as fast, D at half its rate kept it."""
    flag, rate = ("--d-lr", s.lr_d) if run.of_a_class else ("--g-lr", s.lr_g)
    lower = _lr_flag(flag, rate, 1 / t.g_lr_lower, f"÷{_fmt(t.g_lr_lower)}")
    advice = (
        f"The fixed-noise samples{run.of_a_class} have become near-copies of each other: G "
        "found one output that fools D, and it rarely recovers. Start again (or from an "
        "epoch_NNNN checkpoint saved before the collapse: see the sample grids for when it "
        f"began) with {'D' if run.of_a_class else 'G'} slowed down: {lower}."
    )
    if run.of_a_class:
        advice += (
            " In a conditional run the minority class fades as D pulls ahead; slowing G "
            "makes D pull ahead sooner. With --eval-every, checkpoints/best is the one whose "
            "worst class scored best, which is usually from before the collapse."
        )
    summary = f"diversity={_fmt(ev.get('diversity', math.nan))}"
    short = _flag_short(flag, rate, 1 / t.g_lr_lower)
    return TITLES[MODE_COLLAPSE], advice, f"start again with {short}", summary


def _explain_overfits(s: _Stats, t: Thresholds, run: _Run) -> tuple[str, str, str, str]:
    d = s.lr_d
    lower_d = _lr_flag("--d-lr", d, 1 / t.overfit_d_lr, f"÷{_fmt(t.overfit_d_lr)}")
    ndf = run.number("ndf")
    smaller = (
        f"--ndf {max(1, round(ndf / t.overfit_ndf))} (from {_fmt(ndf)})"
        if math.isfinite(ndf) and ndf > 1
        else f"--ndf ÷{_fmt(t.overfit_ndf)}"
    )
    levers = [
        "more training images (all of the split rather than a subset; ADA's p falls as the "
        "set grows)",
        f"a slower D, {lower_d}, which `cxrgan train --resume RUN` takes",
        f"a smaller D in a new run, {smaller}",
    ]
    r1 = run.number("r1_gamma")
    size, batch = run.number("image_size"), run.number("batch_size")
    if r1 == 0 and size > 0 and batch > 0:
        gamma = t.r1_heuristic * size**2 / batch
        levers.append(
            f"an R1 penalty in a new run, --r1-gamma {_fmt_gamma(gamma)} (StyleGAN2's "
            f"{_fmt(t.r1_heuristic)} × {_fmt(size)}² / {_fmt(batch)})"
        )
    advice = (
        "ADA raises its augmentation probability p while D is sure about the training images "
        "(more than 80% of them get a positive logit), so p pinned high means D stays sure "
        f"despite the augmentation (p {_fmt(s.p_latest)}; above ≈ 0.8 augmentations start to "
        "leak into the generated images, and at the 0.99 cap ADA can do no more). Either D "
        "memorises the training set, or G's samples got worse and D wins on any real film (p "
        "cannot tell the two apart; if the sample grids lost variety, it is the second: see "
        "`best`). Give D less to memorise, or slow it down: " + "; or ".join(levers) + "."
    )
    summary = f"ADA p={_fmt(s.p_latest)}, D(x)={_fmt_p(s.d_x)}, D(G(z))={_fmt(s.d_g_z)}"
    action = f"try {_flag_short('--d-lr', d, 1 / t.overfit_d_lr)} or more images"
    return TITLES[D_OVERFITS], advice, action, summary


def _fmt_gamma(x: float) -> str:
    """γ as a user types it: 0.0064, 0.05, 1.2."""
    return f"{x:.2g}" if x >= 1e-4 else fmt_lr(x)


def _explain_healthy(s: _Stats, fwd: _Fwd, t: Thresholds, run: _Run) -> tuple[str, str, str, str]:
    summary = f"loss_D={_fmt(s.loss_d)}, loss_G={_fmt(s.loss_g)}, D(x)={_fmt_p(s.d_x)}"
    equilibrium = ""
    r = run.ranges
    if s.loss_d > s.loss_g and run.hinge:
        equilibrium = (
            " loss_D above loss_G is expected with the hinge loss (a D whose logits are 0, "
            f"σ = 0.5, has loss_D = {_fmt(r.coin_loss_d)} and loss_G = {_fmt(r.coin_loss_g)}); "
            "it is not a problem while it does not climb."
        )
    elif s.loss_d > s.loss_g:
        equilibrium = (
            " loss_D above loss_G is expected near equilibrium (a D answering 0.5 has loss_D = "
            "2 ln 2 ≈ 1.39 and loss_G = ln 2 ≈ 0.69); it is not a problem while it does not climb."
        )
    if s.p_records:
        equilibrium += (
            f" ADA's p is {_fmt(s.p_latest)}: D is not overfitting the training set "
            f"(p pinned at {_fmt(t.ada_p_high)} or more would mean it is)."
        )
    values = fwd.values
    if len(values) < t.fwd_min_evals:
        measured = (
            f" {fwd.noun_at_start} {_fmt(fwd.latest)} after {len(values)} evaluation(s)"
            f"{fwd.beside_floor()}; its trend needs {t.fwd_min_evals}."
            if len(values)
            else " Judge the samples, and add --eval-every to measure FWD and know when to stop."
        )
        advice = "Losses are finite and balanced." + measured + equilibrium
        return TITLES[HEALTHY], advice, "keep training", summary
    k = max(1, round(len(values) * t.part))
    before, recent = float(values[:-k].min()), float(values[-k:].min())
    improvement = _rel_change(before, recent, 1e-12) * -1
    far = math.isfinite(fwd.ratio) and fwd.ratio >= t.fwd_floor_ratio
    if improvement >= t.fwd_improving:
        advice = (
            f"Losses are balanced and {fwd.noun} is still improving ({_pct(improvement)} better "
            f"than before the last evaluations{fwd.beside_floor()}): train longer." + equilibrium
        )
        return "Healthy — still improving", advice, "train longer", summary
    if fwd.latest >= fwd.best * (1 + t.fwd_worse):
        advice = (
            f"{fwd.noun_at_start} has stopped improving and the latest ({_fmt(fwd.latest)}) is "
            f"worse than the best ({_fmt(fwd.best)}): stop, and use checkpoints/best.safetensors."
        )
        if far:
            advice += (
                f" Even the best is ×{_fmt_ratio(fwd.ratio)} {fwd.floor_name} "
                f"({_fmt(fwd.floor)}), far from the data: {_closer(s, t, run)}"
            )
        return "Healthy — past its best", advice, "stop; use best.safetensors", summary
    plateau = (
        f"{fwd.noun} has plateaued (best {_fmt(fwd.best)}; the last evaluations improved it by "
        f"{_pct(max(improvement, 0.0))}, < {_pct(t.fwd_improving)})"
    )
    if far:
        advice = (
            f"Losses are balanced and {plateau}, but at ×{_fmt_ratio(fwd.ratio)} "
            f"{fwd.floor_name} ({_fmt(fwd.floor)}: FWD between two disjoint samples of the "
            f"evaluation images{fwd.at_n()}; ≥ ×{_fmt(t.fwd_floor_ratio)} counts as far). The "
            "model has stalled far from the data; it has not converged to it, and more steps "
            f"at the same rates are unlikely to close the gap. {_closer(s, t, run)}"
        )
        action = (
            f"stalled at ×{_fmt_ratio(fwd.ratio)} the floor: try "
            f"{_lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f'÷{_fmt(t.lr_calm)}')}"
        )
        return "Healthy — stalled far from the data", advice, action, summary
    advice = f"{plateau[0].upper()}{plateau[1:]}{fwd.beside_floor()}: you have converged, stop."
    return "Healthy — converged", advice, "converged: stop", summary


def _closer(s: _Stats, t: Thresholds, run: _Run) -> str:
    """What can still bring a stalled model closer to the data: rates, budget, recipe."""
    calm = _lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{_fmt(t.lr_calm)}")
    epochs = run.number("epochs")
    longer = "--epochs N"
    if math.isfinite(epochs) and epochs > 0:
        longer = f"--epochs {_fmt(2 * epochs)}"
    current = run.settings.get("recipe")
    others = [r for name, r in RECIPES.items() if name != current]
    recipes = "; ".join(f"{r.name}: {r.summary}" for r in others) or "none besides this one"
    return (
        "What can still help: lower learning rates (the blog's last round halved G's, 2e-3 → "
        f"1e-3, and resumed for 30 epochs), e.g. {calm}, which `cxrgan train --resume RUN` "
        f"takes; a longer budget for them, {longer} on the same resume (or --minutes); or "
        f"another recipe in a new run, `cxrgan train --recipe NAME` ({recipes}). "
        "checkpoints/best.safetensors keeps the best so far."
    )


# ------------------------------------------------------------------------------------------------
# Small helpers


def _column(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([as_number(r.get(key)) for r in records], dtype=np.float64)


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else math.nan


def _last_finite(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    return float(finite[-1]) if len(finite) else math.nan


def _rel_change(before: float, now: float, floor: float) -> float:
    if not (math.isfinite(before) and math.isfinite(now)):
        return math.nan
    return (now - before) / max(abs(before), floor)


def _ratio(now: float, before: float) -> float:
    if not (math.isfinite(before) and math.isfinite(now)) or before <= 0:
        return 0.0
    return now / before


def _swing(loss: np.ndarray, t: Thresholds, floor: float) -> tuple[float, int]:
    """(robust spread of the rolling-median loss around its trend, relative to its level;
    number of direction reversals of that residual).

    Robust on purpose: a Theil-Sen line and a MAD scale ignore the first-epoch transient and
    the odd spike, while a sustained swing moves most residuals and so the MAD.
    """
    y = loss[np.isfinite(loss)]
    if len(y) < 2 * t.smooth:
        return math.nan, 0
    smooth = np.median(sliding_window_view(y, t.smooth), axis=1)
    x = np.arange(len(smooth), dtype=np.float64)
    i, j = np.triu_indices(len(smooth), k=1)
    slope = float(np.median((smooth[j] - smooth[i]) / (x[j] - x[i])))
    residual = smooth - slope * x
    residual -= np.median(residual)
    scale = 1.4826 * float(np.median(np.abs(residual)))  # = std for Gaussian noise
    band = 0.5 * scale
    reversals, side = 0, 0
    for r in residual:
        now = 1 if r > band else -1 if r < -band else 0
        if now and now != side:
            reversals += side != 0
            side = now
    return scale / max(float(np.median(np.abs(y))), floor), reversals


@dataclass(frozen=True)
class _Fwd:
    """The evaluation records' FWD, and the real-vs-real floor they were measured against."""

    values: np.ndarray  # finite selection FWD values (`selection_fwd`), in step order
    floor: float  # the real-vs-real floor they compare against (NaN: none recorded)
    floor_n: float  # images per side of that floor
    worst_class: bool = False  # a conditional run's worst class's FWD, against that class's floor

    @classmethod
    def of(cls, quality: Sequence[Mapping[str, Any]]) -> _Fwd:
        """The FWD that `best` follows: a conditional run's worst class's (read against that
        class's own floor, which is higher than the floor of all classes at a larger n)."""
        evals = [r for r in quality if isinstance(r, Mapping)]
        fwd = np.array([as_number(selection_fwd(r)) for r in evals], dtype=np.float64)
        best = best_evaluation(evals)
        if best is not None and "fwd_worst_class" in best:
            floor, n = _worst_class_floor(best)
            return cls(fwd[np.isfinite(fwd)], floor, n, worst_class=True)
        floor, n_all = fwd_floor(evals)
        return cls(fwd[np.isfinite(fwd)], floor, math.nan if n_all is None else float(n_all))

    @property
    def name(self) -> str:
        """What `values` are: 'FWD', or "worst class's FWD"."""
        return "worst class's FWD" if self.worst_class else "FWD"

    @property
    def noun_at_start(self) -> str:
        """The name at the start of a sentence: 'FWD', 'The worst class's FWD'."""
        return f"The {self.name}" if self.worst_class else self.name

    @property
    def noun(self) -> str:
        """The name inside a sentence: 'FWD', 'the worst class's FWD'."""
        return f"the {self.name}" if self.worst_class else self.name

    @property
    def latest(self) -> float:
        return float(self.values[-1]) if len(self.values) else math.nan

    @property
    def best(self) -> float:
        return float(self.values.min()) if len(self.values) else math.nan

    @property
    def ratio(self) -> float:
        """Best FWD over the floor (NaN without either)."""
        return self.best / self.floor if math.isfinite(self.floor) else math.nan

    def summary(self) -> str:
        """', FWD=0.107 (floor 4e-3)' for the hint: the latest FWD beside the floor."""
        if not len(self.values):
            return ""
        floor = f" (floor {_fmt(self.floor)})" if math.isfinite(self.floor) else ""
        return f", {self.name}={_fmt(self.latest)}{floor}"

    def at_n(self) -> str:
        return f", n={_fmt(self.floor_n)} per side" if math.isfinite(self.floor_n) else ""

    def beside_floor(self) -> str:
        """'; best ×27 the real-vs-real floor 4e-3', or nothing without a floor."""
        if not math.isfinite(self.ratio):
            return ""
        return f"; best ×{_fmt_ratio(self.ratio)} {self.floor_name} {_fmt(self.floor)}"

    @property
    def floor_name(self) -> str:
        """'the real-vs-real floor', or 'its class's real-vs-real floor' for the worst class."""
        return "its class's real-vs-real floor" if self.worst_class else "the real-vs-real floor"


def _worst_class_floor(record: Mapping[str, Any]) -> tuple[float, float]:
    """(Real-vs-real floor, n per side) of the class whose FWD is worst in `record`."""
    per_class = [c for c in (record.get("per_class") or {}).values() if isinstance(c, Mapping)]
    worst = max(per_class, key=lambda c: as_number(c.get("fwd")), default=None)
    if worst is None:
        return math.nan, math.nan
    floor = as_number(worst.get("fwd_floor"))
    floor = floor if math.isfinite(floor) and floor > 0 else math.nan
    n = as_number(worst.get("n"))
    return floor, n if math.isfinite(floor) else math.nan


def _fmt_ratio(x: float) -> str:
    """A ratio to the floor: 27, 4.2, 1.3."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def _nan_to(x: float, default: float) -> float:
    return x if math.isfinite(x) else default


def _logit(p: float) -> float:
    """σ⁻¹(p): the logit whose probability is p."""
    return math.log(p / (1 - p)) if 0 < p < 1 else math.nan


def _fmt_logit(x: float) -> str:
    """A logit to two digits, with a real minus sign: 2, 2.2, −0.45."""
    return f"{x:.2g}".replace("-", "−") if math.isfinite(x) else str(x)


def _fmt_p(p: float) -> str:
    """A probability near 1 with the digits that tell it from 1: 0.9999, 0.99946 (else _fmt)."""
    if not (isinstance(p, int | float) and 0.99 <= p < 1):
        return _fmt(p)
    digits = math.ceil(-math.log10(1 - p)) + 1
    return f"{p:.{digits}f}".rstrip("0")


def _fmt(x: float) -> str:
    """Short human number: 0.98, 0.041, 1.5e-3, 1234."""
    if not isinstance(x, int | float) or not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    if abs(x) < 0.01:
        return fmt_lr(x)
    return f"{x:.3g}"


def fmt_lr(x: float) -> str:
    """A learning rate as a user types it: 0.001 → 1e-3, 0.00025 → 2.5e-4."""
    if not math.isfinite(x) or x == 0:
        return str(x)
    mantissa, exponent = f"{x:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _signed_pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def _lr_flag(flag: str, lr: float, factor: float, how: str) -> str:
    """'--g-lr ×5 (to 1e-3)' — or just the factor when the current rate is unknown."""
    if math.isfinite(lr) and lr > 0:
        return f"{flag} {how} (from {fmt_lr(lr)} to {fmt_lr(lr * factor)})"
    return f"{flag} {how}"


def _flag_short(flag: str, lr: float, factor: float) -> str:
    if math.isfinite(lr) and lr > 0:
        return f"{flag} {fmt_lr(lr * factor)}"
    return f"{flag} {'×' if factor >= 1 else '÷'}{_fmt(factor if factor >= 1 else 1 / factor)}"


def _lr_pair(g: float, d: float, how: str) -> str:
    if math.isfinite(g) and math.isfinite(d) and g > 0 and d > 0:
        return f"--g-lr {fmt_lr(g)} --d-lr {fmt_lr(d)}"
    return f"--g-lr and --d-lr {how}"


# ------------------------------------------------------------------------------------------------
# Whole run


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
