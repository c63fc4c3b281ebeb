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


def dp_problem(cfg: Any) -> str | None:
    """What cannot be combined with --dp-epsilon, or None (docs/privacy.md says why)."""
    if cfg.dp_epsilon is None:
        return None
    if cfg.r1_gamma > 0:
        return "--dp-epsilon needs --r1-gamma 0: R1's gradient on real images is not privatised"
    if cfg.augment == "ada":
        return (
            "--dp-epsilon cannot use --augment ada: its strength adapts to D's outputs on real "
            "images, which DP-SGD does not privatise (use --augment diff or none)"
        )
    if cfg.balance == "auto":
        return "--dp-epsilon needs --balance off: it sets G's rate from D(x) on real images"
    if cfg.precision == "fp16" or cfg.compile:
        return "--dp-epsilon runs in fp32 or bf16 without --compile (Opacus's per-sample hooks)"
    return None
