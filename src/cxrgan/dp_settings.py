"""The settings of differentially private training (docs/privacy.md), declared once.
TrainConfig (cxrgan.config) lists each under its name, e.g.

    dp_epsilon: float | None = dp.DP_EPSILON

so the field keeps its place among the run's settings while its default, help and checks live
here. None are resumable: the noise was chosen for the whole run's budget.
"""

from __future__ import annotations

from typing import Any

from cxrgan.settings import setting

DP_EXTRA = "dp"  # pip install 'cxrgan[dp]': Opacus

DP_EPSILON: Any = setting(
    None,
    "differentially private training (DP-SGD on D's real-image gradients through Opacus, "
    "Poisson-sampled batches, batch norm in D replaced by group norm): the privacy budget ε "
    "for the whole run, --epochs × steps per epoch; training stops when it is spent. "
    f"Needs the '{DP_EXTRA}' extra; see docs/privacy.md",
    group="privacy",
    above=0,
)

DP_DELTA: Any = setting(
    1e-5,
    "with --dp-epsilon: the δ of the (ε, δ) guarantee; it must be below 1 / the number of "
    "training images",
    group="privacy",
    above=0,
    below=1,
)

DP_MAX_GRAD_NORM: Any = setting(
    1.0,
    "with --dp-epsilon: each real image's gradient of D is clipped to this L2 norm before "
    "the noise is added (DP-SGD's C)",
    group="privacy",
    above=0,
)

# What ADA's p reached midway through 30 minutes of the default recipe on the Kaggle split
# (0.08-0.10 at 20 minutes, 0.28 at the end, 0.0 at 10): docs/privacy.md.
DP_ADA_P: Any = setting(
    0.1,
    "with --dp-epsilon and --augment ada (the default recipe's): ADA's strength p, fixed for "
    "the whole run. ADA adapts p from sign(D(x)) on real images, a statistic DP-SGD does not "
    "privatise, so under DP it does not adapt: each transform is applied to each image with "
    "this probability (the default is what ADA reaches midway through the default recipe's "
    "30 minutes on the Kaggle split); see docs/privacy.md",
    group="privacy",
    min=0,
    max=0.99,
)


def augment_options(cfg: Any) -> dict[str, Any]:
    """The keyword arguments of --augment's module: ADA at the fixed --dp-ada-p under DP (no
    feedback from real images), the module's own defaults otherwise."""
    if cfg.dp_epsilon is not None and cfg.augment == "ada":
        return {"target": None, "p": cfg.dp_ada_p}
    return {}


def dp_problem(cfg: Any) -> str | None:
    """What cannot be combined with --dp-epsilon, or None (docs/privacy.md says why)."""
    if cfg.dp_epsilon is None:
        return None
    if cfg.r1_gamma > 0:
        return "--dp-epsilon needs --r1-gamma 0: R1's gradient on real images is not privatised"
    if cfg.balance == "auto":
        return "--dp-epsilon needs --balance off: it sets G's rate from D(x) on real images"
    if cfg.precision == "fp16" or cfg.compile:
        return "--dp-epsilon runs in fp32 or bf16 without --compile (Opacus's per-sample hooks)"
    return None
