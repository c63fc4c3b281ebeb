"""Read a run's loss curves the way an experienced GAN trainer would, and say what to change.

`diagnose()` looks at the latest `window` training records of metrics.jsonl and names one state,
with the numbers behind it and advice in terms of cxrgan's flags. The rules, in the order they
win (the first that applies is `Diagnosis.state`, the others that apply go to `secondary`):

    too_early       fewer than `min_records` training records
    diverged        NaN/inf in the window, or a loss saturated/exploding
    mode_collapse   fixed-noise samples nearly identical (needs `diversity`)
    d_overpowers_g  loss_D ≈ 0, D(x) → 1, D(G(z)) → 0, loss_G high or rising
    d_too_weak      D cannot tell real from fake for most of the window, loss_D > loss_G, rising
    oscillating     large slow swings of a loss around its trend
    healthy         none of the above; FWD (when logged) says whether to go on or stop

Every number the rules use is a field of `Thresholds`, with the reason for its value.
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
from cxrgan.reporting.diversity import run_diversity
from cxrgan.reporting.run_records import as_number, is_run_dir, load_records

TOO_EARLY = "too_early"
DIVERGED = "diverged"
MODE_COLLAPSE = "mode_collapse"
D_OVERPOWERS_G = "d_overpowers_g"
D_TOO_WEAK = "d_too_weak"
OSCILLATING = "oscillating"
HEALTHY = "healthy"
# Precedence: the first state whose rule applies is the diagnosis.
STATES = (TOO_EARLY, DIVERGED, MODE_COLLAPSE, D_OVERPOWERS_G, D_TOO_WEAK, OSCILLATING, HEALTHY)

TITLES = {
    TOO_EARLY: "Too early to judge",
    DIVERGED: "Diverged",
    MODE_COLLAPSE: "Mode collapse",
    D_OVERPOWERS_G: "D overpowers G",
    D_TOO_WEAK: "D too weak (G overpowers D)",
    OSCILLATING: "Oscillating",
    HEALTHY: "Healthy",
}

DEFAULT_WINDOW = 40  # training records judged: ~5 epochs of the Kaggle set at --log-every 10


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of every rule. A rule fires at its threshold (`>=` / `<=`), except
    `max_nonfinite`, a count that must be exceeded."""

    # --- what to look at -------------------------------------------------------------------
    # Fewer records than this cannot separate a trend from the noise of the first iterations
    # (one epoch of the Kaggle set at batch 64 and --log-every 10 is about 8 records).
    min_records: int = 8
    # "Now" is the last third of the window and "before" its first third: medians over a third
    # are robust to the isolated spikes every GAN loss has.
    part: float = 1 / 3
    # Rolling-median width (records) before measuring swings: removes single-record spikes,
    # keeps swings that last several records (oscillation, not noise).
    smooth: int = 5
    # Relative change (now − before) / max(|before|, trend_floor) that counts as "rising".
    # 10% over a window is well above the drift of a median of noisy records.
    rising: float = 0.10
    # Denominator floor for relative changes, so a loss going 0.01 → 0.02 is not "+100%".
    trend_floor: float = 0.1

    # --- diverged ----------------------------------------------------------------------------
    # More than this many records with NaN/inf in the window's losses or D outputs (so: any).
    # PyTorch's BCE clamps log() at −100, so a non-finite value means the weights broke.
    max_nonfinite: int = 0
    # A recent median loss this large means a sigmoid saturated at e^−30 ≈ 1e−13: gradients have
    # vanished and the run will not come back on its own (even a crushed G sits near 5–15).
    explode_loss: float = 30.0
    # ... or a loss whose latest value (median of the last `latest` records, so one spike is
    # not enough) grew this many times over the window's first third and is now at least
    # `explode_growth_min`: running away, not just rising (a crushed G's loss rises ×2–3).
    explode_growth: float = 10.0
    explode_growth_min: float = 10.0
    latest: int = 3

    # --- mode_collapse -----------------------------------------------------------------------
    # `sample_diversity` of the fixed-noise grid. Measured on 64 Kaggle X-rays at 64×64: real
    # ≈ 0.77, uniform noise 1.0, three X-rays repeated ≈ 0.65, one X-ray shifted ±2 px with ±10%
    # contrast ≈ 0.33, one X-ray plus 3% pixel noise ≈ 0.16. 0.25 flags the near-copies only.
    collapse_diversity: float = 0.25
    # With the real grid's diversity as reference (used instead when known): below 35% of it
    # (≈ 0.27 for X-rays) is a collapse, whatever the spread of the data itself.
    collapse_ratio: float = 0.35

    # --- d_overpowers_g ----------------------------------------------------------------------
    # loss_D = −log D(x) − log(1 − D(G(z))); 0.2 means D is right with ≈ 90% confidence on both.
    overpower_loss_d: float = 0.2
    overpower_d_x: float = 0.9  # D(x) → 1: D is sure about every real image ...
    overpower_d_g_z: float = 0.1  # ... and D(G(z)) → 0: sure about every fake one.
    # loss_G = −log D(G(z)); 3 means D(G(z)) ≈ 0.05: G gets almost no gradient (or it is rising).
    overpower_loss_g: float = 3.0
    # Advice: multiply --g-lr by this (the tutorial-on-X-rays story: 2e-4 → 1e-3 worked).
    g_lr_raise: float = 5.0

    # --- d_too_weak --------------------------------------------------------------------------
    # D(x) − D(G(z)) at most this: D barely separates real from fake (both ≈ 0.5, or fakes
    # score higher than reals).
    weak_separation: float = 0.15
    # ... for at least this fraction of the window's records ("for long", not one bad epoch).
    weak_persist: float = 0.8
    # loss_D above this (> 2 ln 2 = 1.386, a coin's loss) means D is worse than guessing; it
    # counts like "rising" for this rule.
    weak_loss_d: float = 1.5
    # Advice: divide --g-lr by this (the story: 2e-3 was too much, 1e-3 gave good X-rays).
    g_lr_lower: float = 2.0

    # --- oscillating -------------------------------------------------------------------------
    # Spread of (rolling median − robust linear trend), 1.4826·MAD, relative to the loss level.
    # Simulated DCGAN logs with ±25% noise per record and rare ×3 spikes score ≈ 0.11 (99th
    # percentile ≈ 0.25, the first-epoch transient included); a ±50% swing over ~2 epochs ≈ 0.45.
    swing: float = 0.30
    # ... and it must change direction at least this often (the residual crossing from above
    # +½ spread to below −½ spread, or back): 1.5 cycles. One hump is a trend change (the
    # first-epoch transient), not an oscillation; the band keeps noise near zero from counting.
    min_reversals: int = 3
    # Swings are measured relative to at least this loss, so wobbles of a tiny loss (loss_D
    # 0.05 ± 0.03) are not "large".
    swing_floor: float = 0.5
    # Advice: divide both learning rates by this.
    lr_calm: float = 2.0

    # --- healthy: improving or converged ----------------------------------------------------
    # FWD trend needs at least this many evaluation records.
    fwd_min_evals: int = 3
    # Best FWD of the last third of evaluations at least this much (relative) below the best
    # before it: still improving. Less: plateaued, converged.
    fwd_improving: float = 0.05
    # Latest FWD this much (relative) above the best: past its best, use best.safetensors.
    fwd_worse: float = 0.10


DEFAULT_THRESHOLDS = Thresholds()


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
            lines.append("Evidence:")
            width = max(len(k) for k in self.evidence)
            lines += [f"  {k:<{width}}  {_fmt(v)}" for k, v in self.evidence.items()]
        lines.append(textwrap.fill(f"Advice: {self.advice}", width=100, subsequent_indent="  "))
        if self.secondary:
            lines.append("Also applies: " + ", ".join(TITLES.get(s, s) for s in self.secondary))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (strict JSON: non-finite evidence becomes null)."""
        return {
            "state": self.state,
            "title": self.title,
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


def diagnose(
    records: Sequence[Mapping[str, Any]],
    *,
    window: int = DEFAULT_WINDOW,
    diversity: float | None = None,
    quality: Sequence[Mapping[str, Any]] | None = None,
    reference_diversity: float | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Diagnosis:
    """Name the state of training from its records (see the module docstring for the rules).

    `records`: metrics.jsonl records in step order; only training records (with `loss_d`) count.
    `diversity`: `sample_diversity` of the latest fixed-noise grid; `reference_diversity`: that
    of the real grid (makes the collapse test relative). `quality`: evaluation records (`fwd`).
    """
    t = thresholds
    train = [r for r in records if isinstance(r, Mapping) and "loss_d" in r]
    window = max(int(window), t.min_records)
    if len(train) < t.min_records:
        return _too_early(len(train), t)
    s = _stats(train, window, t)
    fwd = _fwd_series(quality or [])
    checks = {
        DIVERGED: _rule_diverged(s, t),
        MODE_COLLAPSE: _rule_collapse(diversity, reference_diversity, t),
        D_OVERPOWERS_G: _rule_overpower(s, t),
        D_TOO_WEAK: _rule_too_weak(s, t),
        OSCILLATING: _rule_oscillating(s, t),
    }
    fired = [state for state, reasons in checks.items() if reasons]
    state = fired[0] if fired else HEALTHY
    evidence = _evidence(s, diversity, reference_diversity, fwd)
    title, advice, action, summary = _explain(state, s, evidence, fwd, t)
    reasons = checks[state] if state in checks else _healthy_reasons(s, fwd, t)
    return Diagnosis(
        state=state,
        title=title,
        evidence=evidence,
        advice=advice,
        secondary=fired[1:],
        reasons=reasons,
        action=action,
        summary=summary,
    )


def _too_early(n: int, t: Thresholds) -> Diagnosis:
    return Diagnosis(
        state=TOO_EARLY,
        title=TITLES[TOO_EARLY],
        evidence={"records": float(n), "min_records": float(t.min_records)},
        advice=f"Only {n} training records; the curves say something after {t.min_records}. "
        "Let it train.",
        reasons=[f"{n} training records < {t.min_records}"],
        action="keep training",
        summary=f"{n} of {t.min_records} records",
    )


def _stats(train: list[Mapping[str, Any]], window: int, t: Thresholds) -> _Stats:
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
    latest_d, latest_g = _median(cols["loss_d"][-t.latest :]), _median(cols["loss_g"][-t.latest :])
    swing_d, reversals_d = _swing(cols["loss_d"], t)
    swing_g, reversals_g = _swing(cols["loss_g"], t)
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
        growth=max(_ratio(latest_d, before_d), _ratio(latest_g, before_g)),
        swing_d=swing_d,
        swing_g=swing_g,
        reversals_d=reversals_d,
        reversals_g=reversals_g,
        weak_fraction=(
            float((separation[judged] <= t.weak_separation).mean()) if judged.any() else math.nan
        ),
        lr_g=_last_finite(_column(train, "lr_g")),
        lr_d=_last_finite(_column(train, "lr_d")),
    )


def _rule_diverged(s: _Stats, t: Thresholds) -> list[str]:
    reasons = []
    if s.nonfinite > t.max_nonfinite:
        reasons.append(
            f"{s.nonfinite} records with NaN/inf in the last {s.n} "
            f"(first at step {_fmt(s.first_nonfinite_step)})"
        )
    worst = s.latest_loss
    if worst >= t.explode_loss:
        reasons.append(f"latest loss {_fmt(worst)} ≥ {_fmt(t.explode_loss)} (saturated)")
    elif s.growth >= t.explode_growth and worst >= t.explode_growth_min:
        reasons.append(
            f"loss grew ×{_fmt(s.growth)} over the window (≥ ×{_fmt(t.explode_growth)}) "
            f"to {_fmt(worst)} (≥ {_fmt(t.explode_growth_min)})"
        )
    return reasons


def _rule_collapse(diversity: float | None, reference: float | None, t: Thresholds) -> list[str]:
    if diversity is None or not math.isfinite(diversity):
        return []
    if reference is not None and math.isfinite(reference) and reference > 0:
        limit = t.collapse_ratio * reference
        if diversity <= limit:
            return [
                f"sample diversity {_fmt(diversity)} ≤ {_fmt(t.collapse_ratio)} × real "
                f"{_fmt(reference)} = {_fmt(limit)}"
            ]
        return []
    if diversity <= t.collapse_diversity:
        return [f"sample diversity {_fmt(diversity)} ≤ {_fmt(t.collapse_diversity)}"]
    return []


def _rule_overpower(s: _Stats, t: Thresholds) -> list[str]:
    g_high = s.loss_g >= t.overpower_loss_g
    g_rising = s.trend_g >= t.rising
    if not (
        s.loss_d <= t.overpower_loss_d
        and s.d_x >= t.overpower_d_x
        and s.d_g_z <= t.overpower_d_g_z
        and (g_high or g_rising)
    ):
        return []
    g_reason = (
        f"loss_G {_fmt(s.loss_g)} ≥ {_fmt(t.overpower_loss_g)}"
        if g_high
        else f"loss_G rising {_signed_pct(s.trend_g)} (≥ {_pct(t.rising)})"
    )
    return [
        f"loss_D {_fmt(s.loss_d)} ≤ {_fmt(t.overpower_loss_d)}",
        f"D(x) {_fmt(s.d_x)} ≥ {_fmt(t.overpower_d_x)}",
        f"D(G(z)) {_fmt(s.d_g_z)} ≤ {_fmt(t.overpower_d_g_z)}",
        g_reason,
    ]


def _rule_too_weak(s: _Stats, t: Thresholds) -> list[str]:
    rising = s.trend_d >= t.rising
    above_coin = s.loss_d >= t.weak_loss_d
    if not (s.weak_fraction >= t.weak_persist and s.loss_d > s.loss_g and (rising or above_coin)):
        return []
    return [
        f"D(x) − D(G(z)) ≤ {_fmt(t.weak_separation)} in {_pct(s.weak_fraction)} of the window "
        f"(≥ {_pct(t.weak_persist)}): D(x) {_fmt(s.d_x)}, D(G(z)) {_fmt(s.d_g_z)}",
        f"loss_D {_fmt(s.loss_d)} > loss_G {_fmt(s.loss_g)}",
        f"loss_D rising {_signed_pct(s.trend_d)} (≥ {_pct(t.rising)})"
        if rising
        else f"loss_D {_fmt(s.loss_d)} ≥ {_fmt(t.weak_loss_d)} (worse than a coin, 2 ln 2 = 1.386)",
    ]


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


def _healthy_reasons(s: _Stats, fwd: np.ndarray, t: Thresholds) -> list[str]:
    reasons = [
        f"losses finite and bounded (loss_D {_fmt(s.loss_d)}, loss_G {_fmt(s.loss_g)})",
        f"D(x) {_fmt(s.d_x)}, D(G(z)) {_fmt(s.d_g_z)}: neither side wins outright",
    ]
    if len(fwd) >= t.fwd_min_evals:
        reasons.append(f"FWD {_fmt(fwd[-1])} (best {_fmt(fwd.min())}) over {len(fwd)} evaluations")
    return reasons


# ------------------------------------------------------------------------------------------------
# Evidence and advice


def _evidence(
    s: _Stats, diversity: float | None, reference: float | None, fwd: np.ndarray
) -> dict[str, float]:
    ev = {
        "records": float(s.n),
        "step": s.step,
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
    if diversity is not None:
        ev["diversity"] = float(diversity)
    if reference is not None:
        ev["real_diversity"] = float(reference)
    if len(fwd):
        ev["fwd_latest"] = float(fwd[-1])
        ev["fwd_best"] = float(fwd.min())
    return ev


def _explain(
    state: str, s: _Stats, ev: dict[str, float], fwd: np.ndarray, t: Thresholds
) -> tuple[str, str, str, str]:
    """(title, advice, action, summary) for a state."""
    g, d = s.lr_g, s.lr_d
    balance = f"D(x)={_fmt(s.d_x)}, D(G(z))={_fmt(s.d_g_z)}, loss_D={_fmt(s.loss_d)}"
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
        lower = _lr_flag("--g-lr", g, 1 / t.g_lr_lower, f"÷{_fmt(t.g_lr_lower)}")
        advice = (
            "The fixed-noise samples have become near-copies of each other: G found one output "
            "that fools D, and it rarely recovers. Start again (or from an epoch_NNNN checkpoint "
            f"saved before the collapse: see the sample grids for when it began) with G slowed "
            f"down: {lower}."
        )
        summary = f"diversity={_fmt(ev.get('diversity', math.nan))}"
        short = _flag_short("--g-lr", g, 1 / t.g_lr_lower)
        return TITLES[state], advice, f"start again with {short}", summary
    if state == D_OVERPOWERS_G:
        raise_g = _lr_flag("--g-lr", g, t.g_lr_raise, f"×{_fmt(t.g_lr_raise)}")
        lower_d = _lr_flag("--d-lr", d, 1 / t.g_lr_raise, f"÷{_fmt(t.g_lr_raise)}")
        advice = (
            "The discriminator crushes the generator: it is sure about every image, so G gets "
            f"almost no gradient and its samples stay noise. Raise {raise_g}, or lower {lower_d}; "
            "`cxrgan train --resume RUN` takes the new rates."
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
    return _explain_healthy(s, fwd, t)


def _explain_healthy(s: _Stats, fwd: np.ndarray, t: Thresholds) -> tuple[str, str, str, str]:
    summary = f"loss_D={_fmt(s.loss_d)}, loss_G={_fmt(s.loss_g)}, D(x)={_fmt(s.d_x)}"
    equilibrium = ""
    if s.loss_d > s.loss_g:
        equilibrium = (
            " loss_D above loss_G is expected near equilibrium (a D answering 0.5 has loss_D = "
            "2 ln 2 ≈ 1.39 and loss_G = ln 2 ≈ 0.69); it is not a problem while it does not climb."
        )
    if len(fwd) < t.fwd_min_evals:
        advice = (
            "Losses are finite and balanced. Judge the samples, and add --eval-every to "
            "measure FWD and know when to stop." + equilibrium
        )
        return TITLES[HEALTHY], advice, "keep training", summary
    k = max(1, round(len(fwd) * t.part))
    before, recent = float(fwd[:-k].min()), float(fwd[-k:].min())
    improvement = _rel_change(before, recent, 1e-12) * -1
    summary += f", FWD={_fmt(fwd[-1])}"
    if improvement >= t.fwd_improving:
        advice = (
            f"Losses are balanced and FWD is still improving ({_pct(improvement)} better than "
            "before the last evaluations): train longer." + equilibrium
        )
        return "Healthy — still improving", advice, "train longer", summary
    if fwd[-1] >= fwd.min() * (1 + t.fwd_worse):
        advice = (
            f"FWD has stopped improving and the latest ({_fmt(fwd[-1])}) is worse than the best "
            f"({_fmt(fwd.min())}): stop, and use checkpoints/best.safetensors."
        )
        return "Healthy — past its best", advice, "stop; use best.safetensors", summary
    advice = (
        f"FWD has plateaued (best {_fmt(fwd.min())}; the last evaluations improved it by "
        f"{_pct(max(improvement, 0.0))}, < {_pct(t.fwd_improving)}): you have converged, stop."
    )
    return "Healthy — converged", advice, "converged: stop", summary


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


def _swing(loss: np.ndarray, t: Thresholds) -> tuple[float, int]:
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
    return scale / max(float(np.median(np.abs(y))), t.swing_floor), reversals


def _fwd_series(quality: Sequence[Mapping[str, Any]]) -> np.ndarray:
    fwd = np.array([as_number(r.get("fwd")) for r in quality if isinstance(r, Mapping)])
    return fwd[np.isfinite(fwd)]


def _nan_to(x: float, default: float) -> float:
    return x if math.isfinite(x) else default


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
    """Diagnose a run directory: its metrics.jsonl, FWD records and latest sample grid."""
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
    )
