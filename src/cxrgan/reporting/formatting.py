"""Numbers as text, one function per way of writing them: in a sentence (the diagnosis, its
hint, `cxrgan diagnose`), on a report page, in the sweep's text table, and the special forms
(learning rates, probabilities near 1, logits, ratios, percentages). Also `as_number`, which
reads a record's value as a float. No HTML escaping here: the pages escape what they show."""

from __future__ import annotations

import math
from typing import Any


def as_number(value: Any) -> float:
    """A record's value as a float; NaN for anything but an int or float (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def fmt_number(x: float) -> str:
    """A number in a sentence: 0.98, 0.041, 1.5e-3, 1234; NaN, inf and non-numbers as str()."""
    if not isinstance(x, int | float) or not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    if abs(x) < 0.01:
        return fmt_lr(x)
    return f"{x:.3g}"


def fmt_value(value: Any, digits: int = 3) -> str:
    """A record's value on a report page: 0.98, 1.5e-3, 12 345 (thousands grouped by a space);
    "—" when missing (None, text, a dict or list), "nan" or "inf" as such."""
    x = as_number(value)
    if not math.isfinite(x):
        return "—" if value is None or isinstance(value, str | dict | list) else str(value)
    if x == int(x) and abs(x) < 1e7:
        return f"{int(x):,}".replace(",", " ") if abs(x) >= 10000 else str(int(x))
    if 0 < abs(x) < 0.01:
        return fmt_lr(x)
    return f"{x:.{digits}g}"


def fmt_column(value: Any, digits: int = 3) -> str:
    """A value in a fixed-width text table: floats to `digits` decimals, "-" when missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return str(value)


def fmt_setting(x: float) -> str:
    """A float setting as a user types it: 2e-4, 0.5, 64."""
    return fmt_lr(x) if 0 < abs(x) < 0.01 else f"{x:g}"


def fmt_lr(x: float) -> str:
    """A learning rate as a user types it: 0.001 → 1e-3, 0.00025 → 2.5e-4."""
    if not math.isfinite(x) or x == 0:
        return str(x)
    mantissa, exponent = f"{x:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def fmt_p(p: float) -> str:
    """A probability near 1 with the digits that tell it from 1: 0.9999, 0.99946 (else
    fmt_number)."""
    if not (isinstance(p, int | float) and 0.99 <= p < 1):
        return fmt_number(p)
    digits = math.ceil(-math.log10(1 - p)) + 1
    return f"{p:.{digits}f}".rstrip("0")


def fmt_with_logit(p: float) -> str:
    """A probability with the logit it stands for, '0.9 = σ(2.2)' (just the number outside
    (0, 1))."""
    if not 0 < p < 1:
        return fmt_number(p)
    logit = math.log(p / (1 - p))
    return f"{fmt_number(p)} = σ({f'{logit:.2g}'.replace('-', '−')})"  # a real minus sign


def fmt_ratio(x: float) -> str:
    """A ratio to the FWD floor: 27, 4.2, 1.3."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def fmt_gamma(x: float) -> str:
    """R1's γ as a user types it: 0.0064, 0.05, 1.2."""
    return f"{x:.2g}" if x >= 1e-4 else fmt_lr(x)


def fmt_pct(x: float) -> str:
    """A share as a whole percentage: 0.8 → 80%."""
    return f"{x * 100:.0f}%"


def fmt_signed_pct(x: float) -> str:
    """A relative change as a signed whole percentage: 0.12 → +12%."""
    return f"{x * 100:+.0f}%"
