"""The statistics of a reading study, in plain Python (no scipy): exact binomial test, ROC AUC
from confidence ratings, Cohen's and Fleiss' kappa."""

from __future__ import annotations

import math
from collections.abc import Sequence

# scipy.stats.binomtest's tolerance: outcomes this close to the observed one's probability count
# as "at least as extreme" (floating-point ties between k and n - k when p = 0.5).
REL_TOL = 1 + 1e-7


def binom_pmf(k: int, n: int, p: float) -> float:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def binom_two_sided(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test of k successes in n trials against chance p: the total
    probability of every outcome no more likely than k (as scipy.stats.binomtest)."""
    if n == 0:
        return 1.0
    observed = binom_pmf(k, n, p)
    total = sum(q for i in range(n + 1) if (q := binom_pmf(i, n, p)) <= observed * REL_TOL)
    return min(1.0, total)


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """Area under the ROC curve: the chance that a positive scores above a negative, ties half
    (the Mann–Whitney statistic). None without both kinds."""
    if not positive or not negative:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in positive for q in negative)
    return wins / (len(positive) * len(negative))


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's κ of two raters' labels of the same items; None for no items, 1.0 when both
    agree perfectly on a single label (chance agreement 1)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    labels = sorted(set(a) | set(b))
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in labels)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' κ: `ratings[i]` holds every rater's label of item i (the same number each).
    None below two items or two raters."""
    if len(ratings) < 2 or len(ratings[0]) < 2:
        return None
    m = len(ratings[0])
    labels = sorted({x for item in ratings for x in item})
    n = len(ratings)
    p_items = [(sum(item.count(c) ** 2 for c in labels) - m) / (m * (m - 1)) for item in ratings]
    p_bar = sum(p_items) / n
    shares = [sum(item.count(c) for item in ratings) / (n * m) for c in labels]
    p_e = sum(s * s for s in shares)
    if p_e == 1.0:
        return 1.0 if p_bar == 1.0 else 0.0
    return (p_bar - p_e) / (1 - p_e)
