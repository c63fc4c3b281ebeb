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
    share of the budget), then floor + (1 - floor) × shape over the rest of the budget;
    `constant` is 1 whatever the floor.

    Why a start: a decay over the whole budget slows a short run while G is still far from
    the data (at 128 px, 10 minutes are ~550 steps on 2 cores); holding the rates first and
    decaying over the last part keeps the early progress and still lets G settle at the end.
    """
    if shape == "constant":
        return 1.0
    p = min(max(progress, 0.0), 1.0)
    p = max(p - start, 0.0) / (1.0 - start)
    return floor + (1.0 - floor) * SHAPES[shape](p)


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
