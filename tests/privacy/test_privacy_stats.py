"""The attack statistics on constructed cases with known answers: AUC (Mann-Whitney, ties
half), its vectorised bootstrap against a plain one, TPR at 1 % FPR, the ROC curve, verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from cxrgan.privacy.stats import auc, bootstrap_auc, interval, roc_curve, tpr_at_fpr
from cxrgan.privacy.verdict import INCONCLUSIVE, LEAK, NO_EVIDENCE, level, overall, sentence


def test_auc_counts_pairs_and_ties_half() -> None:
    # pairs: 3>1, 3>2, 2>1, 2=2 (half): 3.5 of 4
    assert auc(np.array([3.0, 2.0]), np.array([1.0, 2.0])) == 0.875
    assert auc(np.array([0.0]), np.array([1.0])) == 0.0
    assert auc(np.full(5, 7.0), np.full(9, 7.0)) == 0.5


def test_auc_matches_counting_every_pair() -> None:
    rng = np.random.default_rng(3)
    m, n = rng.integers(0, 6, 37).astype(float), rng.integers(0, 6, 23).astype(float)  # many ties
    wins = (m[:, None] > n[None, :]).sum() + 0.5 * (m[:, None] == n[None, :]).sum()
    assert auc(m, n) == pytest.approx(wins / (37 * 23), abs=1e-12)


def test_vectorised_bootstrap_is_the_plain_bootstrap() -> None:
    """Same seed, same resamples: each resample's AUC equals auc() of the films it drew."""
    rng = np.random.default_rng(1)
    m, n = rng.integers(0, 8, 30).astype(float), rng.integers(0, 8, 45).astype(float)
    fast = bootstrap_auc(m, n, 200, seed=7)
    draws = np.random.default_rng(7)
    cm = draws.multinomial(30, np.full(30, 1 / 30), size=200)
    cn = draws.multinomial(45, np.full(45, 1 / 45), size=200)
    slow = [auc(np.repeat(m, cm[b]), np.repeat(np.sort(n), cn[b])) for b in range(200)]
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    assert len(set(np.round(fast, 9))) > 50  # the resamples differ


def test_identical_score_distributions_put_chance_inside_the_interval() -> None:
    rng = np.random.default_rng(0)
    m, n = rng.normal(size=400), rng.normal(size=400)
    lo, hi = interval(bootstrap_auc(m, n, 1000, seed=0))
    assert lo < 0.5 < hi and hi - lo < 0.1
    assert level((lo, hi)) == NO_EVIDENCE
    same = rng.normal(size=300)
    assert auc(same, same) == 0.5
    lo, hi = interval(bootstrap_auc(same, same, 1000, seed=0))
    assert lo < 0.5 < hi


def test_exact_copies_score_auc_one() -> None:
    """Members at distance 0 from a generated image, non-members farther: score = −distance."""
    rng = np.random.default_rng(0)
    members, nonmembers = -np.zeros(50), -rng.uniform(0.1, 1.0, 50)
    assert auc(members, nonmembers) == 1.0
    assert interval(bootstrap_auc(members, nonmembers, 500, seed=0)) == (1.0, 1.0)
    assert tpr_at_fpr(members, nonmembers) == 1.0


def test_tpr_at_one_percent_fpr_allows_two_of_two_hundred_false_positives() -> None:
    nonmembers = np.arange(200.0)  # the threshold must pass 197: 198 and 199 may be flagged
    members = np.r_[np.full(50, 1000.0), np.full(40, 197.5), np.full(10, 197.0)]
    assert tpr_at_fpr(members, nonmembers) == 0.9  # 197.5 is caught, 197 (tied) is not


def test_tpr_with_fewer_than_a_hundred_nonmembers_allows_no_false_positive() -> None:
    nonmembers = np.r_[np.arange(49.0), 49.0]
    assert tpr_at_fpr(np.array([49.5, 60.0, 49.0, 10.0]), nonmembers) == 0.5
    assert tpr_at_fpr(np.array([1.0]), np.array([0.0]), fpr=1.0) == 1.0


def test_roc_curve_runs_corner_to_corner_and_its_area_is_the_auc() -> None:
    rng = np.random.default_rng(2)
    m, n = rng.integers(0, 5, 60).astype(float), rng.integers(0, 4, 80).astype(float)
    fpr, tpr = roc_curve(m, n)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # ties: a diagonal step
    assert area == pytest.approx(auc(m, n), abs=1e-12)


@pytest.mark.parametrize(
    ("ci", "expected"),
    [((0.53, 0.61), LEAK), ((0.51, 0.6), INCONCLUSIVE), ((0.48, 0.54), NO_EVIDENCE),
     ((0.3, 0.45), NO_EVIDENCE)],
)  # fmt: skip
def test_verdict_levels_follow_the_lower_bound(ci: tuple[float, float], expected: str) -> None:
    assert level(ci) == expected


def test_verdict_words() -> None:
    quiet = {"auc": 0.512, "ci95": [0.481, 0.543]}
    assert sentence(quiet) == (
        "no evidence of membership leakage at this sample size: AUC 0.51 [0.48, 0.54]"
    )
    loud = {"auc": 0.93, "ci95": [0.88, 0.97]}
    assert sentence(loud).startswith("membership leakage: ")
    attacks = {
        "white_box": {"title": "W", "skipped": "skipped: no D"},
        "a": {"title": "A", "overall": quiet},
        "b": {"title": "B", "overall": loud},
    }
    v = overall(attacks)
    assert (v["level"], v["attack"]) == (LEAK, "b")
    assert v["text"].endswith("(B, the strongest attack)")
    assert overall({"white_box": attacks["white_box"]})["level"] is None
