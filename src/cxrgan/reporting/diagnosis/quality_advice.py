"""Advice read from the evaluations' FWD: still improving, past its best, getting worse,
converged near the data or stalled far from it, and what a next run of the recipe can change."""

from __future__ import annotations

import math

from cxrgan.recipes import RECIPES
from cxrgan.reporting.diagnosis.rules import RunContext
from cxrgan.reporting.diagnosis.stats import FwdTrack, WindowStats, rel_change
from cxrgan.reporting.diagnosis.words import Advice, beside_floor, lr_pair
from cxrgan.reporting.formatting import fmt_number, fmt_p, fmt_pct, fmt_ratio
from cxrgan.reporting.thresholds import GETTING_WORSE, HEALTHY, TITLES, Thresholds


def healthy(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    summary = f"loss_D={fmt_number(s.loss_d)}, loss_G={fmt_number(s.loss_g)}, D(x)={fmt_p(s.d_x)}"
    equilibrium = _equilibrium(s, t, run)
    values = fwd.values
    if len(values) < t.fwd_min_evals:
        measured = (
            f" {fwd.noun_at_start} {fmt_number(fwd.latest)} after {len(values)} evaluation(s)"
            f"{beside_floor(fwd)}; its trend needs {t.fwd_min_evals}."
            if len(values)
            else " Judge the samples, and add --eval-every to measure FWD and know when to stop."
        )
        text = "Losses are finite and balanced." + measured + equilibrium
        return Advice(TITLES[HEALTHY], text, "keep training", summary)
    k = max(1, round(len(values) * t.part))
    before, recent = float(values[:-k].min()), float(values[-k:].min())
    improvement = rel_change(before, recent, 1e-12) * -1
    if improvement >= t.fwd_improving:
        text = (
            f"Losses are balanced and {fwd.noun} is still improving ({fmt_pct(improvement)} "
            f"better than before the last evaluations{beside_floor(fwd)}): train longer."
            + equilibrium
        )
        return Advice("Healthy — still improving", text, "train longer", summary)
    if fwd.latest >= fwd.best * (1 + t.fwd_worse):
        return _past_best(s, fwd, t, run, summary)
    return _plateau(s, fwd, t, run, improvement, summary)


def getting_worse(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    """Past the best for several evaluations: use `best`, and next time what fits the recipe;
    unless KID says the opposite."""
    if fwd.kid_disagrees(t.kid_disagrees):
        return _against_kid(s, fwd, run, f"been worse in each of the last "
                            f"{fwd.worse_since_best(t.fwd_worse)} evaluations")  # fmt: skip
    at = f"step {fmt_number(fwd.best_step)}"
    text = (
        f"{fwd.noun_at_start} was best at {at} ({fmt_number(fwd.best)}) and has been worse in "
        f"each of the last {fwd.worse_since_best(t.fwd_worse)} evaluations (latest "
        f"{fmt_number(fwd.latest)}): the run is getting worse, and more steps at these rates "
        f"will not bring it back. checkpoints/best.safetensors holds the generator of {at}: "
        "pass --checkpoint best to generate, evaluate and export. " + _next_time(s, t, run)
    )
    summary = f"best at {at}, loss_D={fmt_number(s.loss_d)}, D(x)={fmt_p(s.d_x)}"
    return Advice(TITLES[GETTING_WORSE], text, f"worse since {at}: use best", summary)


def _next_time(s: WindowStats, t: Thresholds, run: RunContext) -> str:
    """How a new run of the same recipe can keep improving longer."""
    half_d = lr_pair(s.lr_g, s.lr_d / t.lr_calm, f"D's ÷{fmt_number(t.lr_calm)}")
    if run.settings.get("conditional") is True:
        return (
            f"For the next run, halve D's rate ({half_d}): with D at 1e-4 the minority class "
            "kept improving to step 8,000 where at 2e-4 it was lost after 4,000 "
            "(docs/utility.md)."
        )
    if run.settings.get("lr_schedule", "constant") == "constant":
        recipe = run.settings.get("recipe") or "this run"
        return (
            f"{recipe} keeps its rates constant: for the next run, let them decay with the "
            "budget (--lr-schedule cosine with --minutes or --epochs), so G settles instead of "
            "drifting away from its best."
        )
    return (
        "The rates already decay with the budget: for the next run, end the budget near the "
        f"best's step, or halve D's rate ({half_d})."
    )


def _equilibrium(s: WindowStats, t: Thresholds, run: RunContext) -> str:
    """Why loss_D above loss_G is fine, and what ADA's p says, for a healthy run."""
    text = ""
    r = run.ranges
    if s.loss_d > s.loss_g and run.hinge:
        text = (
            " loss_D above loss_G is expected with the hinge loss (a D whose logits are 0, "
            f"σ = 0.5, has loss_D = {fmt_number(r.coin_loss_d)} and loss_G = "
            f"{fmt_number(r.coin_loss_g)}); it is not a problem while it does not climb."
        )
    elif s.loss_d > s.loss_g:
        text = (
            " loss_D above loss_G is expected near equilibrium (a D answering 0.5 has loss_D = "
            "2 ln 2 ≈ 1.39 and loss_G = ln 2 ≈ 0.69); it is not a problem while it does not climb."
        )
    if s.p_records:
        text += (
            f" ADA's p is {fmt_number(s.p_latest)}: D is not overfitting the training set "
            f"(p pinned at {fmt_number(t.ada_p_high)} or more would mean it is)."
        )
    return text


def _against_kid(s: WindowStats, fwd: FwdTrack, run: RunContext, worse: str) -> Advice:
    """FWD past its best while KID fell by half or more: plain FWD's preference for blur, not
    a generator that got worse; judge by the pictures and the use, not by `best` alone."""
    at = f"step {fmt_number(fwd.best_step)}"
    use = (
        "and `cxrgan utility` from each (--checkpoint best, --checkpoint last)"
        if run.settings.get("conditional") is True
        else "and `cxrgan evaluate` of each against held-out films"
    )
    text = (
        f"{fwd.noun_at_start} was best at {at} ({fmt_number(fwd.best)}) and has {worse} "
        f"(latest {fmt_number(fwd.latest)}), but {fwd.kid_of} has fallen from "
        f"{fmt_number(fwd.kid_at_best)} to {fmt_number(fwd.kid_latest)} since: the two "
        "disagree. Plain FWD prefers smooth, blurred samples, so a generator that sharpens "
        "(ribs, lung markings) can score a worse FWD as it gets closer to the data; a "
        "decaying schedule's EMA does exactly that late in a run (docs/performance.md, "
        "'Version 3, conditional'). Do not take checkpoints/best.safetensors on FWD alone: "
        f"compare the grids in samples/ at {at} and now, {use}."
    )
    summary = (
        f"best FWD at {at}, {fwd.kid_of} {fmt_number(fwd.kid_at_best)} → "
        f"{fmt_number(fwd.kid_latest)}, D(x)={fmt_p(s.d_x)}"
    )
    action = f"FWD worse since {at} but KID better: compare best and last"
    return Advice("FWD and KID disagree", text, action, summary)


def _past_best(
    s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext, summary: str
) -> Advice:
    if fwd.kid_disagrees(t.kid_disagrees):
        return _against_kid(s, fwd, run, "stopped improving")
    text = (
        f"{fwd.noun_at_start} has stopped improving and the latest ({fmt_number(fwd.latest)}) "
        f"is worse than the best ({fmt_number(fwd.best)}): stop, and use "
        "checkpoints/best.safetensors."
    )
    if math.isfinite(fwd.ratio) and fwd.ratio >= t.fwd_floor_ratio:
        text += (
            f" Even the best is ×{fmt_ratio(fwd.ratio)} {fwd.floor_name} "
            f"({fmt_number(fwd.floor)}), far from the data: {_closer(s, t, run)}"
        )
    return Advice("Healthy — past its best", text, "stop; use best.safetensors", summary)


def _plateau(
    s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext, improvement: float, summary: str
) -> Advice:
    """FWD no longer improves: converged near the data, or stalled far from it; neither while
    a decaying schedule still has its lowest rates to come."""
    plateau = (
        f"{fwd.noun} has plateaued (best {fmt_number(fwd.best)}; the last evaluations improved "
        f"it by {fmt_pct(max(improvement, 0.0))}, < {fmt_pct(t.fwd_improving)})"
    )
    if _decay_left(s, t, run):
        return _decaying(plateau, s, fwd, run, summary)
    if not (math.isfinite(fwd.ratio) and fwd.ratio >= t.fwd_floor_ratio):
        text = f"{plateau[0].upper()}{plateau[1:]}{beside_floor(fwd)}: you have converged, stop."
        return Advice("Healthy — converged", text, "converged: stop", summary)
    at = f", n={fmt_number(fwd.floor_n)} per side" if math.isfinite(fwd.floor_n) else ""
    text = (
        f"Losses are balanced and {plateau}, but at ×{fmt_ratio(fwd.ratio)} "
        f"{fwd.floor_name} ({fmt_number(fwd.floor)}: FWD between two disjoint samples of the "
        f"evaluation images{at}; ≥ ×{fmt_number(t.fwd_floor_ratio)} counts as far). The "
        "model has stalled far from the data; it has not converged to it, and more steps "
        f"at the same rates are unlikely to close the gap. {_closer(s, t, run)}"
    )
    calm = lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{fmt_number(t.lr_calm)}")
    action = f"stalled at ×{fmt_ratio(fwd.ratio)} the floor: try {calm}"
    return Advice("Healthy — stalled far from the data", text, action, summary)


def _decay_left(s: WindowStats, t: Thresholds, run: RunContext) -> bool:
    """The run's rates are held before, or part-way down, a decaying schedule."""
    floor = run.number("lr_floor")
    if run.settings.get("lr_schedule") in (None, "constant") or not math.isfinite(floor):
        return False
    return math.isfinite(s.lr_scale) and s.lr_scale > floor + t.decay_left * (1 - floor)


def _decaying(plateau: str, s: WindowStats, fwd: FwdTrack, run: RunContext, summary: str) -> Advice:
    floor = run.number("lr_floor")
    text = (
        f"Losses are balanced and {plateau}{beside_floor(fwd)}, but the rates are still "
        f"decaying (--lr-schedule {run.settings.get('lr_schedule')}: now "
        f"{fmt_number(s.lr_scale)} × --g-lr/--d-lr, {fmt_number(floor)} × at the end of the "
        "budget). The last part of the decay, at the lowest rates, is where a decaying "
        "recipe's EMA generator sharpens and its recall rises: let the run reach the end of "
        "its budget (or continue a stopped one with `cxrgan train --resume RUN`), then judge. "
        "checkpoints/best.safetensors keeps the best so far."
    )
    action = f"keep training: the rates are still decaying (×{fmt_number(s.lr_scale)})"
    return Advice("Healthy — plateaued while the rates decay", text, action, summary)


def _closer(s: WindowStats, t: Thresholds, run: RunContext) -> str:
    """What can still bring a stalled model closer to the data: rates, budget, recipe."""
    calm = lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{fmt_number(t.lr_calm)}")
    epochs = run.number("epochs")
    longer = "--epochs N"
    if math.isfinite(epochs) and epochs > 0:
        longer = f"--epochs {fmt_number(2 * epochs)}"
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
