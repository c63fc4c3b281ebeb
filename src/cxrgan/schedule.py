"""Learning-rate schedules that know the budget: a factor on G's and D's rates, from 1 at the
start down to `floor` at the end of the run (`--minutes`, or `--epochs` × steps per epoch).

Why: at a constant rate an EMA generator averages a G that never settles, so its samples blur
(texture is averaged away), and in long runs D pulls ahead of G. A rate that decays with the
budget lets G settle, so the EMA has a settled G to average. To add a shape, add one line to
`SHAPES`: a function of progress p in [0, 1] that falls from 1 to 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

SHAPES: dict[str, Callable[[float], float]] = {
    "constant": lambda p: 1.0,
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),
}


def rate_factor(shape: str, progress: float, floor: float, start: float = 0.0) -> float:
    """The multiplier of the base rates at `progress` (clamped to [0, 1]): 1 until `start` (a
    share of the budget, from `hold_share`), then floor + (1 - floor) × shape over the rest of
    the budget; `constant`, or a start at the budget's end, is 1 whatever the floor."""
    if shape == "constant" or start >= 1.0:
        return 1.0
    p = min(max(progress, 0.0), 1.0)
    p = max(p - start, 0.0) / (1.0 - start)
    return floor + (1.0 - floor) * SHAPES[shape](p)


def hold_share(progress: float, images: int, hold_images: float) -> float:
    """The share of the budget the rates hold before they decay: `hold_images` over the images
    the whole budget will show, estimated from the run so far (`images` / `progress`; exact for
    a budget in steps, at the run's mean speed for one in minutes). 1 when the budget ends
    before the hold.

    Why a hold in images and not a share of the budget: G first needs its full rate to find
    the anatomy, and that takes a number of images, not a share of whatever budget the user
    chose. A decay from the first step cost 1.6 × the FWD at 128 px in 10 minutes (~8,800
    images) and nothing at 64 px (~35,000); a share held (half) still cost 1.4 × (issue 20).
    """
    if hold_images <= 0:
        return 0.0
    if images <= 0 or progress <= 0:
        return 1.0
    return min(progress * hold_images / images, 1.0)


def budget_progress(
    step: int, total_steps: int | None, elapsed_s: float, budget_s: float | None
) -> float:
    """How far through its budget a run is: the larger of its share of the steps and of the
    training time, since the run ends at whichever limit comes first (0 without either)."""
    shares = [0.0]
    if total_steps:
        shares.append(step / total_steps)
    if budget_s:
        shares.append(elapsed_s / budget_s)
    return min(max(shares), 1.0)
