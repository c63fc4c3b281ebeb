"""Scores of a classifier's predictions on held-out images, and bootstrap intervals.

`probs` is (N, K): each test image's predicted class probabilities; `labels` is (N,): its true
class index. The scores are plain numpy (no scikit-learn), checked against hand-computed values
in tests/utility/test_utility_stats.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cxrgan.utility.defaults import CONFIDENCE

METRICS = ("accuracy", "balanced_accuracy", "auc")
METRIC_TITLES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "auc": "ROC AUC",
}


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of images whose most probable class is the true one."""
    return float(np.mean(probs.argmax(axis=1) == labels))


def balanced_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present of the share of that class's images called that class
    (the mean recall): a classifier that always says the majority class scores 1/K."""
    predicted = probs.argmax(axis=1)
    recalls = [np.mean(predicted[labels == k] == k) for k in np.unique(labels)]
    return float(np.mean(recalls))


def binary_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive scores above a negative, ties counted
    half (the Mann–Whitney U statistic, from ranks). NaN without both kinds."""
    n_pos = int(np.count_nonzero(positive))
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_ranks = ends - (counts - 1) / 2  # 1-based rank of each distinct score, ties averaged
    rank_sum = float(mid_ranks[inverse][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def roc_auc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Binary AUC of class 1's probability for two classes; for more, the macro average of each
    class's one-vs-rest AUC on its own probability."""
    k = probs.shape[1]
    if k == 2:
        return binary_auc(probs[:, 1], labels == 1)
    return float(np.mean([binary_auc(probs[:, c], labels == c) for c in range(k)]))


def scores(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": accuracy(probs, labels),
        "balanced_accuracy": balanced_accuracy(probs, labels),
        "auc": roc_auc(probs, labels),
    }


def score_vector(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`scores` as an array in METRICS order."""
    s = scores(probs, labels)
    return np.array([s[m] for m in METRICS])


def stratified_resample(by_class: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Indices of a resample with replacement that keeps every class's count: every resample
    holds every class, so each score (AUC, balanced accuracy) is defined on each."""
    return np.concatenate([rng.choice(idx, size=len(idx), replace=True) for idx in by_class])


def bootstrap_scores(
    predictions: Mapping[str, Sequence[np.ndarray]],
    labels: np.ndarray,
    n_resamples: int,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per training set, (n_resamples, len(METRICS)): on each resample of the test images, the
    mean over seeds of each seed's score.

    `predictions[set]` holds one (N, K) array per seed. Every set and seed is scored on the same
    resample, so differences and ratios between sets are paired.
    """
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    draws = {key: np.empty((n_resamples, len(METRICS))) for key in predictions}
    for r in range(n_resamples):
        idx = stratified_resample(by_class, rng)
        y = labels[idx]
        for key, per_seed in predictions.items():
            draws[key][r] = np.mean([score_vector(p[idx], y) for p in per_seed], axis=0)
    return draws


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval that holds `confidence` of the bootstrap values."""
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1; None for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), (float(arr.std(ddof=1)) if len(arr) > 1 else None)
