"""What diagnose judges and by which numbers: the states, and every threshold with its reason.

Kept apart from the rules (reporting/diagnosis/) and free of numpy, so that `cxrgan diagnose
--help` can quote the thresholds without loading the numeric stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TOO_EARLY = "too_early"
DIVERGED = "diverged"
MODE_COLLAPSE = "mode_collapse"
GETTING_WORSE = "getting_worse"
D_OVERFITS = "d_overfits"
D_OVERPOWERS_G = "d_overpowers_g"
D_TOO_WEAK = "d_too_weak"
OSCILLATING = "oscillating"
HEALTHY = "healthy"
# Precedence: the first state whose rule applies is the diagnosis.
STATES = (
    TOO_EARLY,
    DIVERGED,
    MODE_COLLAPSE,
    GETTING_WORSE,
    D_OVERFITS,
    D_OVERPOWERS_G,
    D_TOO_WEAK,
    OSCILLATING,
    HEALTHY,
)

TITLES = {
    TOO_EARLY: "Too early to judge",
    DIVERGED: "Diverged",
    MODE_COLLAPSE: "Mode collapse",
    GETTING_WORSE: "Getting worse",
    D_OVERFITS: "D overfits (ADA's p pinned high)",
    D_OVERPOWERS_G: "D overpowers G",
    D_TOO_WEAK: "D too weak (G overpowers D)",
    OSCILLATING: "Oscillating",
    HEALTHY: "Healthy",
}

DEFAULT_WINDOW = 40  # training records judged: ~5 epochs of the Kaggle set at --log-every 10

DEFAULT_LOSS = "bce"  # what a run without a `loss` setting trained with (cxrgan 0.1)
# The losses diagnose knows, by the family whose ranges they share: ns is bce's maths.
LOSS_FAMILY = {"bce": "bce", "ns": "bce", "hinge": "hinge"}


@dataclass(frozen=True)
class LossRanges:
    """The thresholds that depend on what loss_D and loss_G measure: one set per loss family.

    The probabilities (`overpower_d_x`, `overpower_d_g_z`) are D's outputs as σ(logit), like the
    records' `d_x` and `d_g_z1`, for every loss; the other fields are on the loss's own scale.
    """

    overpower_loss_d: float  # loss_D at most this: D is right about nearly every image ...
    overpower_d_x: float  # ... D(x) at least this ...
    overpower_d_g_z: float  # ... D(G(z)) at most this ...
    overpower_loss_g: float  # ... and loss_G at least this (or rising): G is crushed
    # D wins outright: D(x) at least `outright_d_x` and D(G(z)) at most `outright_d_g_z` in
    # every record of the last `Thresholds.outright_steps` steps; or, a stronger signal needing
    # fewer steps, `crush_d_x` / `crush_d_g_z` for the last `Thresholds.crush_steps` steps.
    # Judged however few records there are (these are steps, whatever --log-every is).
    outright_d_x: float
    outright_d_g_z: float
    crush_d_x: float
    crush_d_g_z: float
    weak_loss_d: float  # loss_D at least this: D is worse than a coin (counts as "rising")
    explode_loss: float  # |loss| this large: saturated, the weights broke
    swing_floor: float  # swings are measured relative to at least this loss level
    coin_loss_d: float  # loss_D of a D that cannot tell (every logit 0, σ = 0.5)
    coin_loss_g: float  # loss_G of the same D


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of every rule. A rule fires at its threshold (`>=` / `<=`), except
    `max_nonfinite`, a count that must be exceeded."""

    # --- what to look at -------------------------------------------------------------------
    # Fewer records than this cannot separate a trend from the noise of the first iterations
    # (one epoch of the Kaggle set at batch 64 and --log-every 10 is about 8 records). It gates
    # the rules that read trends, medians over thirds and swings; it does not gate the evidence
    # that needs no trend: a NaN/inf record (diverged) and D winning outright for a number of
    # steps (d_overpowers_g), which are judged from the first record on.
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
    # D wins outright, judged by steps rather than records: D(x) ≥ 0.99 and D(G(z)) ≤ 0.01
    # (logits beyond ±4.6: D right at 99:1 odds on both sides) in every record covering the
    # last 200 steps. The PyTorch DCGAN tutorial's published CelebA logs (single iterations,
    # printed every 50) show a healthy start doing this for up to ~150 iterations (D(x) 0.99 –
    # 0.9994 with D(G(z)) 0.0000 at iterations 50–150 in some runs, back to D(x) ≈ 0.5 by
    # 200–250); 200 steps outlast that. The blog's setting on the Kaggle set never comes close
    # (D(x) 0.73–0.76, D(G(z)) 0.38–0.42 over its first 50 steps). Both rates at 2e-4 on the
    # Kaggle set (lightweight model, batch 64), where D crushes G for good, log 0.995 / 0.0065
    # over steps 51–100 and 0.999 / 0.001 by step 250: judged at step 250 with --log-every 50,
    # not after 8 records (step 400).
    outright_d_x: float = 0.99
    outright_d_g_z: float = 0.01
    outright_steps: int = 200
    # ... or a stronger signal, judged sooner: D(x) ≥ 0.999 and D(G(z)) ≤ 0.001 (logits beyond
    # ±6.9) for the last 30 steps. A run with --d-lr 2e-3 --g-lr 2e-5 logs D(x) ≈ 0.9999,
    # D(G(z)) ≈ 0.0004 from step 20: judged at step 40 (4 records at --log-every 10), where
    # counting records said "too early" until step 80; a run crushed from step 11 is judged at
    # the end of one epoch of the Kaggle set at batch 128 (41 steps, 4 records).
    crush_d_x: float = 0.999
    crush_d_g_z: float = 0.001
    crush_steps: int = 30
    # Before this step a D that wins outright may still be the start-up transient above (the
    # tutorial's runs recover by iteration 200–250): the advice says so, and when to look again.
    transient_steps: int = 250

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

    # --- loss scales -------------------------------------------------------------------------
    # The fields above whose meaning depends on the loss (overpower_*, weak_loss_d,
    # explode_loss, swing_floor) are bce's, and ns's: the same non-saturating logistic loss. A
    # D answering σ = 0.5 everywhere has loss_D = 2 ln 2 and loss_G = ln 2 there.
    coin_loss_d: float = 2 * math.log(2)
    coin_loss_g: float = math.log(2)
    # The hinge loss (SNGAN, BigGAN): D minimises relu(1 − l_real) + relu(1 + l_fake), G
    # minimises −l_fake. Logits are margins, not log-odds: D stops caring once a real logit
    # passes +1 and a generated one −1, so a healthy hinge D sits near ±1 (σ ≈ 0.73 / 0.27),
    # a coin-tossing D (logits ≈ 0) has loss_D = 2 and loss_G = 0, and loss_G is negative when
    # G's images score above 0.
    hinge: LossRanges = LossRanges(
        # D crushes G: both sides past their margin. Logits spread ±1 around ±2 leave
        # E relu(1 − l) ≈ 0.08 per side, so 0.2 means nearly every logit clears its margin.
        overpower_loss_d=0.2,
        # σ(2) ≈ 0.88: real logits a whole margin beyond +1 (bce's 0.9 is σ(2.2), the same
        # confidence) ...
        overpower_d_x=0.88,
        # ... and generated ones beyond −2 (σ(−2) ≈ 0.12).
        overpower_d_g_z=0.12,
        # loss_G = −mean generated logit: ≥ 2 means G's images score below −2 on average.
        overpower_loss_g=2.0,
        # Outright and crushing wins, as probabilities: the same certainty as bce's (logits
        # beyond ±4.6 and ±6.9, i.e. 3.6 and 5.9 past the hinge's margin). Only a D whose
        # logits run away (no spectral norm) gets there; a D that merely clears its margins
        # is left to the windowed rule above.
        outright_d_x=0.99,
        outright_d_g_z=0.01,
        crush_d_x=0.999,
        crush_d_g_z=0.001,
        # The same 8% above the coin's 2 as bce's 1.5 is above 2 ln 2 (a D tossing a coin
        # with logits spread ±1 scores ≈ 2.17: it counts as worse than a coin).
        weak_loss_d=2.15,
        # |loss| 30 means logits of ∓30: σ saturated at e^−30, as for bce. Unbounded logits
        # (no spectral norm) running away get there; a working hinge GAN stays within ±10.
        explode_loss=30.0,
        # The margin: loss_G hovers around 0, so its swings are measured against 1 (one
        # margin), not against its own near-zero level.
        swing_floor=1.0,
        coin_loss_d=2.0,
        coin_loss_g=0.0,
    )

    # --- d_overfits (ADA's p) ----------------------------------------------------------------
    # ADA raises p while more than 80% of the real images get a positive logit (r_t =
    # E sign(l_real) > 0.6) and lowers it otherwise, so p measures how much augmentation it takes
    # to keep D from memorising the training set. p near 0 is normal (D is not overfitting).
    # StyleGAN2-ADA found most augmentations start to leak into the generated images above
    # p ≈ 0.8; 0.7 is the level where augmentation does most of the work and little headroom is
    # left: p at or above it ...
    ada_p_high: float = 0.7
    # ... for at least this share of the window's records ("pinned", not one passing rise;
    # p moves slowly, by 1 per 100k images at most) ...
    ada_persist: float = 0.8
    # ... or p's latest value (median of the last `latest` records) at least this while p
    # rose over the window: climbing towards its 0.99 cap, where augmentation can do no more.
    ada_p_cap: float = 0.9
    # Advice: divide --d-lr and --ndf by this (a slower, smaller D memorises less).
    overfit_d_lr: float = 2.0
    overfit_ndf: float = 2.0
    # Advice: StyleGAN2's R1 heuristic, γ = this × resolution² / batch, when R1 is off.
    r1_heuristic: float = 0.0002

    def for_loss(self, loss: str | None) -> LossRanges:
        """The loss-dependent thresholds of `loss` (bce's for bce, ns and unknown losses)."""
        if LOSS_FAMILY.get(loss or DEFAULT_LOSS) == "hinge":
            return self.hinge
        return LossRanges(
            overpower_loss_d=self.overpower_loss_d,
            overpower_d_x=self.overpower_d_x,
            overpower_d_g_z=self.overpower_d_g_z,
            overpower_loss_g=self.overpower_loss_g,
            outright_d_x=self.outright_d_x,
            outright_d_g_z=self.outright_d_g_z,
            crush_d_x=self.crush_d_x,
            crush_d_g_z=self.crush_d_g_z,
            weak_loss_d=self.weak_loss_d,
            explode_loss=self.explode_loss,
            swing_floor=self.swing_floor,
            coin_loss_d=self.coin_loss_d,
            coin_loss_g=self.coin_loss_g,
        )

    # --- healthy: improving or converged ----------------------------------------------------
    # FWD trend needs at least this many evaluation records.
    fwd_min_evals: int = 3
    # Best FWD of the last third of evaluations at least this much (relative) below the best
    # before it: still improving. Less: plateaued, converged.
    fwd_improving: float = 0.05
    # Latest FWD this much (relative) above the best: past its best, use best.safetensors.
    fwd_worse: float = 0.10
    # ... and in each of this many latest evaluations: getting worse, a state of its own that
    # wins over the loss-based ones (long runs of a constant-rate recipe lost a class after
    # 4,000 steps while their losses looked balanced: docs/utility.md). One or two evaluations
    # above the best can be noise of the evaluation's n; three in a row is a trend.
    fwd_worse_evals: int = 3
    # A plateau is convergence only near the data. The real-vs-real floor (FWD between two
    # disjoint halves of the evaluation images, `fwd_floor` of the evaluation records) is what
    # a generator that draws from the data itself would score; the best FWD at least this many
    # times the floor is "stalled far from the data", not "converged". Measured on the Kaggle
    # set at 64 px: halves 0.004, the training split against the separate test split 0.017
    # (×4: two real samples of one source, told apart by FWD), the blog's setting plateaued at
    # 0.107–0.110 (×27) with samples far from X-rays. 10 lies between the two (their geometric
    # mean), so a model as close as the test split is to the training split is not flagged.
    fwd_floor_ratio: float = 10.0
    # A plateau while a decaying schedule still has more than this share of its decay to go
    # (lr_scale above lr_floor + this × (1 − lr_floor)) is not the end: version 3 of small-data
    # plateaued at ~20 of 30 minutes and its EMA sharpened in the last minutes, at the lowest
    # rates (docs/performance.md, long runs). 5 % is the last ~15 % of a cosine's budget.
    decay_left: float = 0.05
    # FWD past its best while KID (of the same class, for a conditional run) has fallen to at
    # most this share of its value at the best: the two disagree, and plain FWD prefers blur.
    # Version 3's conditional 60-minute run: the worst class's FWD 2.5 x its best at the end
    # while its KID fell 13-fold, and TSTR from `last` was 0.96 x TRTR against 0.88 x from
    # `best` (docs/performance.md). Half is far outside KID's evaluation noise (±3 % there).
    kid_disagrees: float = 0.5


DEFAULT_THRESHOLDS = Thresholds()
