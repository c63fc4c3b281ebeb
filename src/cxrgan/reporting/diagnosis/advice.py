"""What to do about a state, in words and in cxrgan's flags: the advice, a few words of it for
the hint (`action`), and the key numbers (`summary`). The rates in the advice are the run's
current ones times the factors of `Thresholds`."""

from __future__ import annotations

import math
from collections.abc import Mapping

from cxrgan.reporting.diagnosis.quality_advice import getting_worse, healthy
from cxrgan.reporting.diagnosis.rules import RunContext
from cxrgan.reporting.diagnosis.stats import FwdTrack, WindowStats
from cxrgan.reporting.diagnosis.words import Advice, flag_short, fwd_summary, lr_flag, lr_pair
from cxrgan.reporting.formatting import (
    fmt_gamma,
    fmt_number,
    fmt_p,
)
from cxrgan.reporting.thresholds import (
    D_OVERFITS,
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    DIVERGED,
    GETTING_WORSE,
    MODE_COLLAPSE,
    OSCILLATING,
    TITLES,
    TOO_EARLY,
    Thresholds,
)


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
            GETTING_WORSE: getting_worse,
            D_OVERFITS: _overfits,
            D_OVERPOWERS_G: _overpowers,
            D_TOO_WEAK: _too_weak,
            OSCILLATING: _oscillating,
        }
        advice = explainers.get(state, healthy)(s, fwd, t, run)
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
    calm = lr_pair(s.lr_g / 10, s.lr_d / 10, "÷10")
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
    lower = lr_flag(flag, rate, 1 / t.g_lr_lower, f"÷{fmt_number(t.g_lr_lower)}")
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
    short = flag_short(flag, rate, 1 / t.g_lr_lower)
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
    action = f"try {flag_short('--d-lr', d, 1 / t.overfit_d_lr)} or more images"
    return Advice(TITLES[D_OVERFITS], text, action, summary)


def _overfit_levers(s: WindowStats, t: Thresholds, run: RunContext) -> list[str]:
    """More images, a slower D, a smaller D, and R1 when the run has none."""
    lower_d = lr_flag("--d-lr", s.lr_d, 1 / t.overfit_d_lr, f"÷{fmt_number(t.overfit_d_lr)}")
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
    raise_g = lr_flag("--g-lr", g, t.g_lr_raise, f"×{fmt_number(t.g_lr_raise)}")
    lower_d = lr_flag("--d-lr", d, 1 / t.g_lr_raise, f"÷{fmt_number(t.g_lr_raise)}")
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
    action = f"try {flag_short('--g-lr', g, t.g_lr_raise)}"
    return Advice(TITLES[D_OVERPOWERS_G], text, action, _balance(s))


def _too_weak(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    g, d = s.lr_g, s.lr_d
    lower_g = lr_flag("--g-lr", g, 1 / t.g_lr_lower, f"÷{fmt_number(t.g_lr_lower)}")
    raise_d = lr_flag("--d-lr", d, t.g_lr_lower, f"×{fmt_number(t.g_lr_lower)}")
    text = (
        "The discriminator can no longer tell real from generated images and its loss keeps "
        "climbing, so G stops getting useful feedback. Lower "
        f"{lower_g}, or raise {raise_d}; `cxrgan train --resume RUN` takes the new rates."
    )
    summary = f"{_balance(s)} > loss_G={fmt_number(s.loss_g)}"
    action = f"try {flag_short('--g-lr', g, 1 / t.g_lr_lower)}"
    return Advice(TITLES[D_TOO_WEAK], text, action, summary)


def _oscillating(s: WindowStats, fwd: FwdTrack, t: Thresholds, run: RunContext) -> Advice:
    calm = lr_pair(s.lr_g / t.lr_calm, s.lr_d / t.lr_calm, f"÷{fmt_number(t.lr_calm)}")
    text = (
        "The losses swing up and down for many records in a row: G and D keep overshooting "
        f"each other. Lower both learning rates, {calm} (`cxrgan train --resume RUN` takes "
        "them)."
    )
    summary = f"swing loss_D={fmt_number(s.swing_d)}, loss_G={fmt_number(s.swing_g)}"
    return Advice(TITLES[OSCILLATING], text, f"try {calm}", summary)
