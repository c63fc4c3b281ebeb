"""The utility score's statistics against hand-computed values, and the bootstrap's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from cxrgan.utility.stats import (
    METRICS,
    accuracy,
    balanced_accuracy,
    binary_auc,
    bootstrap_scores,
    interval,
    mean_std,
    roc_auc,
    score_vector,
    stratified_resample,
)


def one_hot(predicted: list[int], k: int = 2) -> np.ndarray:
    return np.eye(k)[predicted]


def test_accuracy_and_balanced_accuracy_by_hand() -> None:
    labels = np.array([0, 0, 0, 1])
    probs = one_hot([0, 0, 1, 1])
    assert accuracy(probs, labels) == pytest.approx(3 / 4)
    assert balanced_accuracy(probs, labels) == pytest.approx((2 / 3 + 1) / 2)


def test_always_the_majority_class_is_accurate_but_not_balanced() -> None:
    labels = np.array([0] * 9 + [1])
    probs = one_hot([0] * 10)
    assert accuracy(probs, labels) == pytest.approx(0.9)
    assert balanced_accuracy(probs, labels) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("scores", "labels", "auc"),
    [
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 3 of 4 pairs ranked right
        ([0.5, 0.5, 0.9], [0, 1, 1], 0.75),  # one tie (half) and one win, of 2 pairs
        ([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1], 0.5),  # all tied
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
    ],
)
def test_binary_auc_by_hand(scores: list[float], labels: list[int], auc: float) -> None:
    assert binary_auc(np.array(scores), np.array(labels) == 1) == pytest.approx(auc)


def test_binary_auc_needs_both_kinds() -> None:
    assert np.isnan(binary_auc(np.array([0.2, 0.7]), np.array([True, True])))


def test_two_class_auc_ranks_by_the_second_column() -> None:
    p1 = np.array([0.1, 0.4, 0.35, 0.8])
    probs = np.stack([1 - p1, p1], axis=1)
    assert roc_auc(probs, np.array([0, 0, 1, 1])) == pytest.approx(0.75)


def test_three_class_auc_is_the_macro_one_vs_rest_by_hand() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.6, 0.3, 0.1],
            [0.1, 0.5, 0.4],
            [0.3, 0.2, 0.5],
            [0.2, 0.4, 0.4],
            [0.1, 0.6, 0.3],
        ]
    )
    # Class 0: both positives above all four negatives, 1. Class 1: 0.5 beats 0.1, 0.3, 0.4 and
    # 0.2 beats 0.1: 4 of 8. Class 2: 0.4 beats 0.1, 0.1 and ties 0.4; 0.3 beats 0.1, 0.1: 4.5/8.
    assert roc_auc(probs, labels) == pytest.approx((1 + 4 / 8 + 4.5 / 8) / 3)
    # Row 4's tie between classes 1 and 2 goes to the first: rows 0, 1, 2 right.
    assert accuracy(probs, labels) == pytest.approx(0.5)
    assert balanced_accuracy(probs, labels) == pytest.approx((1 + 0.5 + 0) / 3)


def scored(n: int, seed: int, signal: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """n balanced test images with probabilities that rank them fairly well."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    p1 = 1 / (1 + np.exp(-(signal * (2 * labels - 1) + rng.normal(0, 1, n))))
    return np.stack([1 - p1, p1], axis=1), labels


def test_stratified_resample_keeps_every_class_count() -> None:
    labels = np.array([0] * 7 + [1] * 3 + [2] * 5)
    by_class = [np.flatnonzero(labels == k) for k in range(3)]
    idx = stratified_resample(by_class, np.random.default_rng(0))
    assert np.bincount(labels[idx]).tolist() == [7, 3, 5]
    assert len(set(idx.tolist())) < len(idx)  # with replacement


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_images() -> None:
    widths = []
    for n in (40, 2000):
        probs, labels = scored(n, seed=n)
        draws = bootstrap_scores({"set": [probs]}, labels, 500, seed=0)["set"]
        assert draws.shape == (500, len(METRICS))
        point = score_vector(probs, labels)
        for j in range(len(METRICS)):
            lo, hi = interval(draws[:, j])
            assert lo <= point[j] <= hi
        lo, hi = interval(draws[:, METRICS.index("auc")])
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 4  # ~1/sqrt(50) as wide with 50× the images


def test_bootstrap_averages_the_seeds_on_each_resample() -> None:
    a, labels = scored(60, seed=1)
    b, _ = scored(60, seed=2)
    draws = bootstrap_scores({"both": [a, b], "a": [a], "b": [b]}, labels, 100, seed=3)
    np.testing.assert_allclose(draws["both"], (draws["a"] + draws["b"]) / 2)


def test_paired_differences_of_one_model_are_exactly_zero() -> None:
    probs, labels = scored(80, seed=4)
    better, _ = scored(80, seed=4, signal=3.0)  # the same noise, a stronger signal
    draws = bootstrap_scores({"a": [probs], "same": [probs], "better": [better]}, labels, 200)
    auc = METRICS.index("auc")
    assert interval(draws["same"][:, auc] - draws["a"][:, auc]) == (0.0, 0.0)
    assert interval(draws["better"][:, auc] - draws["a"][:, auc])[0] > 0


def test_mean_and_sample_std_over_seeds() -> None:
    mean, std = mean_std([0.8, 0.9, 1.0])
    assert mean == pytest.approx(0.9) and std == pytest.approx(0.1)  # ddof 1
    assert mean_std([0.7]) == (0.7, None)
