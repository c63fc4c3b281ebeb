"""The statistics of a membership-inference attack: ROC AUC, its bootstrap interval, the
true-positive rate at a low false-positive rate, and the ROC curve.

Every attack gives each query film a score, higher meaning "more likely a member" (a training
film). `members` and `nonmembers` are those scores as 1-d arrays. Plain numpy (no
scikit-learn), checked on constructed cases in tests/privacy/test_privacy_stats.py.
"""

from __future__ import annotations

import numpy as np

from cxrgan.privacy.defaults import CONFIDENCE, FPR

# Bootstrap resamples are scored this many (resample × film) cells at a time: ~32 MB of floats.
CELLS = 4_000_000


def auc(members: np.ndarray, nonmembers: np.ndarray) -> float:
    """The chance that a member scores above a non-member, ties counted half: the Mann-Whitney
    U statistic from mid-ranks of the pooled scores, divided by n_members × n_nonmembers."""
    m, n = len(members), len(nonmembers)
    if m == 0 or n == 0:
        raise ValueError("AUC needs members and non-members")
    pooled = np.concatenate([members, nonmembers]).astype(np.float64)
    _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    mid_ranks = np.cumsum(counts) - (counts - 1) / 2  # 1-based, tied scores share their mean rank
    rank_sum = float(mid_ranks[inverse][:m].sum())
    return (rank_sum - m * (m + 1) / 2) / (m * n)


def bootstrap_auc(
    members: np.ndarray, nonmembers: np.ndarray, n_resamples: int, seed: int
) -> np.ndarray:
    """AUCs of `n_resamples` resamples, members and non-members each resampled with replacement
    on their own (so every resample keeps both counts), vectorised over resamples.

    A resample is a count per film (multinomial). Against non-members sorted by score, member i
    beats the non-members below `lo[i]` and ties those in [lo[i], hi[i]); with cumulative counts
    of the resampled non-members, its wins in every resample are two look-ups.
    """
    members = np.asarray(members, np.float64)
    sorted_non = np.sort(np.asarray(nonmembers, np.float64))
    m, n = len(members), len(sorted_non)
    lo = np.searchsorted(sorted_non, members, "left")
    hi = np.searchsorted(sorted_non, members, "right")
    rng = np.random.default_rng(seed)
    out = np.empty(n_resamples)
    step = max(1, CELLS // max(m, n + 1))
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        member_counts = rng.multinomial(m, np.full(m, 1 / m), size=b)
        non_counts = rng.multinomial(n, np.full(n, 1 / n), size=b)
        below = np.zeros((b, n + 1))
        np.cumsum(non_counts, axis=1, out=below[:, 1:])
        wins = below[:, lo] + 0.5 * (below[:, hi] - below[:, lo])
        out[start : start + b] = (member_counts * wins).sum(1) / (m * n)
    return out


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval that holds `confidence` of the bootstrap values."""
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def tpr_at_fpr(members: np.ndarray, nonmembers: np.ndarray, fpr: float = FPR) -> float:
    """The largest share of members caught by a threshold that flags at most `fpr` of the
    non-members: calling "member" above the (k+1)-th highest non-member score, k = ⌊fpr·n⌋.
    With fewer than 1/fpr non-members no false positive is allowed at all."""
    ranked = np.sort(np.asarray(nonmembers, np.float64))[::-1]
    k = int(np.floor(fpr * len(ranked) + 1e-9))
    if k >= len(ranked):
        return 1.0
    return float(np.mean(np.asarray(members) > ranked[k]))


def roc_curve(members: np.ndarray, nonmembers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) of every threshold, from (0, 0) to (1, 1);
    tied scores make one step."""
    scores = np.concatenate([members, nonmembers]).astype(np.float64)
    is_member = np.concatenate([np.ones(len(members)), np.zeros(len(nonmembers))])
    order = np.argsort(-scores, kind="stable")
    scores, is_member = scores[order], is_member[order]
    last_of_tie = np.r_[np.diff(scores) != 0, True]
    tp = np.cumsum(is_member)[last_of_tie]
    fp = np.cumsum(1 - is_member)[last_of_tie]
    fpr = np.r_[0.0, fp / max(len(nonmembers), 1)]
    tpr = np.r_[0.0, tp / max(len(members), 1)]
    return fpr, tpr
