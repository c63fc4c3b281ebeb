"""Counting classes and sharing a number of images out over them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def class_counts(labels: Sequence[str] | np.ndarray) -> dict[str, int]:
    """Images per named class, in order of first appearance ("" = no class: left out)."""
    labels = np.asarray(labels)
    return {str(c): int(np.count_nonzero(labels == c)) for c in dict.fromkeys(labels.tolist()) if c}


def split_in_proportion(total: int, counts: dict[str, int]) -> dict[str, int]:
    """`total` shared out in proportion to `counts`; the largest remainders take what rounding
    down leaves (ties: the earlier class)."""
    whole = sum(counts.values())
    if whole <= 0:
        raise ValueError("counts must hold at least one image")
    exact = {c: total * k / whole for c, k in counts.items()}
    out = {c: int(x) for c, x in exact.items()}
    rest = total - sum(out.values())
    for c in sorted(exact, key=lambda c: out[c] - exact[c])[:rest]:  # stable: ties keep order
        out[c] += 1
    return out


def first_of_each_class(labels: Sequence[str] | np.ndarray, share: dict[str, int]) -> np.ndarray:
    """Indices (ascending) of the first share[c] images labelled c, for every c."""
    labels = np.asarray(labels)
    picked = [np.flatnonzero(labels == c)[:k] for c, k in share.items()]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)
