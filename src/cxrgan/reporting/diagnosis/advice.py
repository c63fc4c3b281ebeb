"""What to do about a state, in words and in cxrgan's flags: the advice, a few words of it for
the hint (`action`), and the key numbers (`summary`). The rates in the advice are the run's
current ones times the factors of `Thresholds`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from cxrgan.recipes import RECIPES
from cxrgan.reporting.diagnosis.rules import RunContext
from cxrgan.reporting.diagnosis.stats import FwdTrack, WindowStats, rel_change
from cxrgan.reporting.formatting import (
    fmt_gamma,
    fmt_lr,
    fmt_number,
    fmt_p,
    fmt_pct,
    fmt_ratio,
)
from cxrgan.reporting.thresholds import (
    D_OVERFITS,
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    DIVERGED,
    GETTING_WORSE,
    HEALTHY,
    MODE_COLLAPSE,
    OSCILLATING,
    TITLES,
    TOO_EARLY,
    Thresholds,
)


@dataclass
class Advice:
    """A state explained: its title, what to do, and the short forms the one-line hint uses."""

    title: str
    text: str  # the advice, in sentences (`Diagnosis.advice`)
    action: str  # the advice in a few words
    summary: str  # the key numbers in a few words


def explain(
    state: str,
    s: WindowStats,
    evidence: Mapping[str, float],
    fwd: FwdTrack,
    t: Thresholds,
    run: RunContext,
) -> Advice:
    """The advice for a state the rules named (any but too_early)."""
    if state == MODE_COLLAPSE:
        advice = _collapse(s, t, run, evidence.get("diversity", math.nan))
    else:
        explainers = {
            DIVERGED: _diverged,
            GETTING_WORSE: _getting_worse,
            D_OVERFITS: _overfits,
            D_OVERPOWERS_G: _overpowers,
            D_TOO_WEAK: _too_weak,
            OSCILLATING: _oscillating,
        }
        advice = explainers.get(state, _healthy)(s, fwd, t, run)
    advice.summary += fwd_summary(fwd)
    if s.p_records and state != D_OVERFITS:
        advice.summary += f", ADA p={fmt_number(s.p_latest)}"
    if not run.known_loss:
        advice.text += (
            f" (The loss {run.loss!r} is unknown to diagnose: its losses were read on bce's "
            "scale; D(x) and D(G(z)) are probabilities whatever the loss.)"
        )
    return advice


def too_early(n: int, step: float, t: Thresholds, fwd: FwdTrack) -> Advice:
    """Fewer than `min_records` records and nothing that can be judged without a trend."""
    at = f" (step {fmt_number(step)})" if math.isfinite(step) else ""
    text = (
        f"Only {n} training record{'s' * (n != 1)}{at}; the trends say something after "
        f"{t.min_records}. Nothing is NaN/inf, and D has not won outright for "
        f"{t.outright_steps} steps (nor crushed G for {t.crush_steps}), which would be judged "
        "now. Let it train."
    )
    summary = f"{n} of {t.min_records} records" + (f", step {fmt_number(step)}" if at else "")
    return Advice(TITLES[TOO_EARLY], text, "keep training", summary + fwd_summary(fwd))


def _balance(s: WindowStats) -> str:
    return f"D(x)={fmt_p(s.d_x)}, D(G(z))={fmt_number(s.d_g_z)}, loss_D={fmt_number(s.loss_d)}"


def _diverged(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    calm = _lr_pair(s.lr_g / 10, s.lr_d / 10, "÷10")
    where = (
        f"NaN/inf at step {fmt_number(s.first_nonfinite_step)}"
        if s.nonfinite
        else f"loss {fmt_number(s.latest_loss)}"
    )
    text = (
        "Training has broken down; more steps will not help, and checkpoints/last holds the "
        "broken weights. Start again with lower learning rates, "
        f"{calm} (or from an epoch_NNNN checkpoint saved before it happened)."
    )
    return Advice(TITLES[DIVERGED], text, f"start again with {calm}", where)


def _collapse(s: WindowStats, t: Thresholds, run: RunContext, diversity: float) -> Advice:
    """An unconditional G that collapses is slowed down. A conditional run whose minority class
    fades over thousands of steps is not helped by that: measured on the Kaggle split
    (docs/utility.md), G at half its rate lost the class as fast, D at half its rate kept it."""
    flag, rate = ("--d-lr", s.lr_d) if run.of_a_class else ("--g-lr", s.lr_g)
    lower = _lr_flag(flag, rate, 1 / t.g_lr_lower, f"÷{fmt_number(t.g_lr_lower)}")
    text = (
        f"The fixed-noise samples{run.of_a_class} have become near-copies of each other: G "
        "found one output that fools D, and it rarely recovers. Start again (or from an "
        "epoch_NNNN checkpoint saved before the collapse: see the sample grids for when it "
        f"began) with {'D' if run.of_a_class else 'G'} slowed down: {lower}."
    )
    if run.of_a_class:
        text += (
            " In a conditional run the minority class fades as D pulls ahead; slowing G "
            "makes D pull ahead sooner. With --eval-every, checkpoints/best is the one whose "
            "worst class scored best, which is usually from before the collapse."
        )
    short = _flag_short(flag, rate, 1 / t.g_lr_lower)
    summary = f"diversity={fmt_number(diversity)}"
    return Advice(TITLES[MODE_COLLAPSE], text, f"start again with {short}", summary)


def _overfits(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    d = s.lr_d
    text = (
        "ADA raises its augmentation probability p while D is sure about the training images "
        "(more than 80% of them get a positive logit), so p pinned high means D stays sure "
        f"despite the augmentation (p {fmt_number(s.p_latest)}; above ≈ 0.8 augmentations "
        "start to leak into the generated images, and at the 0.99 cap ADA can do no more). "
        "Either D memorises the training set, or G's samples got worse and D wins on any real "
        "film (p cannot tell the two apart; if the sample grids lost variety, it is the "
        "second: see `best`). Give D less to memorise, or slow it down: "
        + "; or ".join(_overfit_levers(s, t, run))
        + "."
    )
    summary = f"ADA p={fmt_number(s.p_latest)}, D(x)={fmt_p(s.d_x)}, D(G(z))={fmt_number(s.d_g_z)}"
    action = f"try {_flag_short('--d-lr', d, 1 / t.overfit_d_lr)} or more images"
    return Advice(TITLES[D_OVERFITS], text, action, summary)


def _overfit_levers(s: WindowStats, t: Thresholds, run: RunContext) -> list[str]:
    """More images, a slower D, a smaller D, and R1 when the run has none."""
    lower_d = _lr_flag("--d-lr", s.lr_d, 1 / t.overfit_d_lr, f"÷{fmt_number(t.overfit_d_lr)}")
    ndf = run.number("ndf")
    smaller = (
        f"--ndf {max(1, round(ndf / t.overfit_ndf))} (from {fmt_number(ndf)})"
        if math.isfinite(ndf) and ndf > 1
        else f"--ndf ÷{fmt_number(t.overfit_ndf)}"
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
            f"an R1 penalty in a new run, --r1-gamma {fmt_gamma(gamma)} (StyleGAN2's "
            f"{fmt_number(t.r1_heuristic)} × {fmt_number(size)}² / {fmt_number(batch)})"
        )
    return levers


def _overpowers(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    g, d = s.lr_g, s.lr_d
    raise_g = _lr_flag("--g-lr", g, t.g_lr_raise, f"×{fmt_number(t.g_lr_raise)}")
    lower_d = _lr_flag("--d-lr", d, 1 / t.g_lr_raise, f"÷{fmt_number(t.g_lr_raise)}")
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
    text = (
        f"{why} Raise {raise_g}, or lower {lower_d}; "
        "`cxrgan train --resume RUN` takes the new rates."
    )
    if s.step < t.transient_steps:
        text += (
            f" At step {fmt_number(s.step)} this may still be the start-up transient (a healthy "
            "DCGAN's D can win outright for ~150 steps before G catches up): if D still "
            f"wins at step {t.transient_steps}, change the rates."
        )
    if run.hinge and run.settings.get("d_spectral_norm") is False:
        text += (
            " The hinge loss is meant for a Lipschitz-bounded D (SNGAN): a new run with "
            "--d-spectral-norm keeps D's logits from running away."
        )
    action = f"try {_flag_short('--g-lr', g, t.g_lr_raise)}"
    return Advice(TITLES[D_OVERPOWERS_G], text, action, _balance(s))


def _too_weak(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    g, d = s.lr_g, s.lr_d
    lower_g = _lr_flag("--g-lr", g, 1 / t.g_lr_lower, f"÷{fmt_number(t.g_lr_lower)}")
    raise_d = _lr_flag("--d-lr", d, t.g_lr_lower, f"×{fmt_number(t.g_lr_lower)}")
    text = (
        "The discriminator can no longer tell real from generated images and its loss keeps "
        "climbing, so G stops getting useful feedback. Lower "
        f"{lower_g}, or raise {raise_d}; `cxrgan train --resume RUN` takes the new rates."
    )
    summary = f"{_balance(s)} > loss_G={fmt_number(s.loss_g)}"
    action = f"try {_flag_short('--g-lr', g, 1 / t.g_lr_lower)}"
    return Advice(TITLES[D_TOO_WEAK], text, action, summary)


def _oscillating(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    calm = _lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{fmt_number(t.lr_calm)}")
    text = (
        "The losses swing up and down for many records in a row: G and D keep overshooting "
        f"each other. Lower both learning rates, {calm} (`cxrgan train --resume RUN` takes "
        "them)."
    )
    summary = f"swing loss_D={fmt_number(s.swing_d)}, loss_G={fmt_number(s.swing_g)}"
    return Advice(TITLES[OSCILLATING], text, f"try {calm}", summary)


def _healthy(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    summary = f"loss_D={fmt_number(s.loss_d)}, loss_G={fmt_number(s.loss_g)}, D(x)={fmt_p(s.d_x)}"
    equilibrium = _equilibrium(s, t, run)
    values = fwd.values
    if len(values) < t.fwd_min_evals:
        measured = (
            f" {fwd.noun_at_start} {fmt_number(fwd.latest)} after {len(values)} evaluation(s)"
            f"{_beside_floor(fwd)}; its trend needs {t.fwd_min_evals}."
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
            f"better than before the last evaluations{_beside_floor(fwd)}): train longer."
            + equilibrium
        )
        return Advice("Healthy — still improving", text, "train longer", summary)
    if fwd.latest >= fwd.best * (1 + t.fwd_worse):
        return _past_best(s, fwd, t, run, summary)
    return _plateau(s, fwd, t, run, improvement, summary)


def _getting_worse(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    """Past the best for several evaluations: use `best`, and next time what fits the recipe."""
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
    half_d = _lr_pair(s.lr_g, s.lr_d / t.lr_calm, f"D's ÷{fmt_number(t.lr_calm)}")
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


def _past_best(
    s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext, summary: str
) -> Advice:
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
    """FWD no longer improves: converged near the data, or stalled far from it."""
    plateau = (
        f"{fwd.noun} has plateaued (best {fmt_number(fwd.best)}; the last evaluations improved "
        f"it by {fmt_pct(max(improvement, 0.0))}, < {fmt_pct(t.fwd_improving)})"
    )
    if not (math.isfinite(fwd.ratio) and fwd.ratio >= t.fwd_floor_ratio):
        text = f"{plateau[0].upper()}{plateau[1:]}{_beside_floor(fwd)}: you have converged, stop."
        return Advice("Healthy — converged", text, "converged: stop", summary)
    at = f", n={fmt_number(fwd.floor_n)} per side" if math.isfinite(fwd.floor_n) else ""
    text = (
        f"Losses are balanced and {plateau}, but at ×{fmt_ratio(fwd.ratio)} "
        f"{fwd.floor_name} ({fmt_number(fwd.floor)}: FWD between two disjoint samples of the "
        f"evaluation images{at}; ≥ ×{fmt_number(t.fwd_floor_ratio)} counts as far). The "
        "model has stalled far from the data; it has not converged to it, and more steps "
        f"at the same rates are unlikely to close the gap. {_closer(s, t, run)}"
    )
    calm = _lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{fmt_number(t.lr_calm)}")
    action = f"stalled at ×{fmt_ratio(fwd.ratio)} the floor: try {calm}"
    return Advice("Healthy — stalled far from the data", text, action, summary)


def _closer(s: WindowStats, t: Thresholds, run: RunContext) -> str:
    """What can still bring a stalled model closer to the data: rates, budget, recipe."""
    calm = _lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{fmt_number(t.lr_calm)}")
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


# ------------------------------------------------------------------------------------------------
# FWD and flags in words


def fwd_summary(fwd: FwdTrack) -> str:
    """', FWD=0.107 (floor 4e-3)' for the hint: the latest FWD beside the floor."""
    if not len(fwd.values):
        return ""
    floor = f" (floor {fmt_number(fwd.floor)})" if math.isfinite(fwd.floor) else ""
    return f", {fwd.name}={fmt_number(fwd.latest)}{floor}"


def _beside_floor(fwd: FwdTrack) -> str:
    """'; best ×27 the real-vs-real floor 4e-3', or nothing without a floor."""
    if not math.isfinite(fwd.ratio):
        return ""
    return f"; best ×{fmt_ratio(fwd.ratio)} {fwd.floor_name} {fmt_number(fwd.floor)}"


def _lr_flag(flag: str, lr: float, factor: float, how: str) -> str:
    """'--g-lr ×5 (to 1e-3)' — or just the factor when the current rate is unknown."""
    if math.isfinite(lr) and lr > 0:
        return f"{flag} {how} (from {fmt_lr(lr)} to {fmt_lr(lr * factor)})"
    return f"{flag} {how}"


def _flag_short(flag: str, lr: float, factor: float) -> str:
    if math.isfinite(lr) and lr > 0:
        return f"{flag} {fmt_lr(lr * factor)}"
    how = f"×{fmt_number(factor)}" if factor >= 1 else f"÷{fmt_number(1 / factor)}"
    return f"{flag} {how}"


def _lr_pair(g: float, d: float, how: str) -> str:
    if math.isfinite(g) and math.isfinite(d) and g > 0 and d > 0:
        return f"--g-lr {fmt_lr(g)} --d-lr {fmt_lr(d)}"
    return f"--g-lr and --d-lr {how}"
