"""The advice's shared words: the `Advice` record, FWD beside its floor, and learning-rate
flags as the advice names them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cxrgan.reporting.diagnosis.stats import FwdTrack
from cxrgan.reporting.formatting import fmt_lr, fmt_number, fmt_ratio


@dataclass
class Advice:
    """A state explained: its title, what to do, and the short forms the one-line hint uses."""

    title: str
    text: str  # the advice, in sentences (`Diagnosis.advice`)
    action: str  # the advice in a few words
    summary: str  # the key numbers in a few words


def fwd_summary(fwd: FwdTrack) -> str:
    """', FWD=0.107 (floor 4e-3)' for the hint: the latest FWD beside the floor."""
    if not len(fwd.values):
        return ""
    floor = f" (floor {fmt_number(fwd.floor)})" if math.isfinite(fwd.floor) else ""
    return f", {fwd.name}={fmt_number(fwd.latest)}{floor}"


def beside_floor(fwd: FwdTrack) -> str:
    """'; best ×27 the real-vs-real floor 4e-3', or nothing without a floor."""
    if not math.isfinite(fwd.ratio):
        return ""
    return f"; best ×{fmt_ratio(fwd.ratio)} {fwd.floor_name} {fmt_number(fwd.floor)}"


def lr_flag(flag: str, lr: float, factor: float, how: str) -> str:
    """'--g-lr ×5 (to 1e-3)' — or just the factor when the current rate is unknown."""
    if math.isfinite(lr) and lr > 0:
        return f"{flag} {how} (from {fmt_lr(lr)} to {fmt_lr(lr * factor)})"
    return f"{flag} {how}"


def flag_short(flag: str, lr: float, factor: float) -> str:
    if math.isfinite(lr) and lr > 0:
        return f"{flag} {fmt_lr(lr * factor)}"
    how = f"×{fmt_number(factor)}" if factor >= 1 else f"÷{fmt_number(1 / factor)}"
    return f"{flag} {how}"


def lr_pair(g: float, d: float, how: str) -> str:
    if math.isfinite(g) and math.isfinite(d) and g > 0 and d > 0:
        return f"--g-lr {fmt_lr(g)} --d-lr {fmt_lr(d)}"
    return f"--g-lr and --d-lr {how}"
