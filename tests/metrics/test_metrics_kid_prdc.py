"""KID (unbiased MMD²) and precision/recall/density/coverage on synthetic point clouds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxrgan.metrics.evaluate import evaluate_sets, format_metrics, skipped_metrics
from cxrgan.metrics.kid import KidReference, kid, polynomial_kernel, subset_indicators
from cxrgan.metrics.prdc import knn_radii, prdc


def _naive_kid(x: np.ndarray, y: np.ndarray, subsets: int, m: int, seed: int) -> np.ndarray:
    """Textbook per-subset loop (Bińkowski et al.), with the same subset draws as `kid`."""
    ind_x = subset_indicators(len(x), m, subsets, np.random.default_rng(seed)).numpy()
    ind_y = subset_indicators(len(y), m, subsets, np.random.default_rng(seed + 1)).numpy()
    out = []
    for s in range(subsets):
        a = torch.from_numpy(x[ind_x[:, s] > 0])
        b = torch.from_numpy(y[ind_y[:, s] > 0])
        kxx, kyy, kxy = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
        off = m * (m - 1)
        mmd = (kxx.sum() - kxx.trace()) / off + (kyy.sum() - kyy.trace()) / off - 2 * kxy.mean()
        out.append(float(mmd))
    return np.array(out)


def test_kid_equals_the_textbook_estimator() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 6)), rng.normal(0.2, 1.1, size=(90, 6))
    mean, std, subsets = kid(x, y, subsets=7, subset_size=50, seed=3)
    ref = _naive_kid(x, y, subsets=7, m=50, seed=3)
    assert mean == pytest.approx(ref.mean(), rel=1e-10)
    assert std == pytest.approx(ref.std(), rel=1e-8)
    assert subsets == 7


def test_kid_with_one_subset_reports_no_spread() -> None:
    # Both sets no larger than the subset size: every "subset" is the whole set, so there is
    # one estimate and no spread (it used to print a rounding residue such as 8.7e-17).
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(60, 4)), rng.normal(size=(40, 4))
    whole = kid(x[:40], y, subsets=100, subset_size=1000)
    assert whole.subsets == 1 and whole.std is None
    m = 40 * 39
    kxx = polynomial_kernel(torch.from_numpy(x[:40]), torch.from_numpy(x[:40]))
    kyy = polynomial_kernel(torch.from_numpy(y), torch.from_numpy(y))
    kxy = polynomial_kernel(torch.from_numpy(x[:40]), torch.from_numpy(y))
    exact = (kxx.sum() - kxx.trace()) / m + (kyy.sum() - kyy.trace()) / m - 2 * kxy.mean()
    assert whole.mean == pytest.approx(float(exact), rel=1e-10)
    # One side larger than the subset: subsets differ, so there is a spread again.
    assert kid(x, y, subsets=10, subset_size=1000).subsets == 10
    ref = KidReference.build(x[:40], subsets=100)
    assert ref.indicators.shape[1] == 1  # drawn once, not 100 identical copies
    many = ref.compare(np.concatenate([y, y + 0.1]))  # more fakes than the whole real set
    assert many.subsets == 100 and many.std is not None and many.std > 0
    assert ref.compare(y).subsets == 1


def test_kid_is_unbiased_for_one_distribution() -> None:
    # Averaged over many independent pairs of small samples, KID must centre on 0 (FID would not).
    rng = np.random.default_rng(1)
    means = [
        kid(rng.normal(size=(150, 8)), rng.normal(size=(150, 8)), subsets=5, subset_size=100).mean
        for _ in range(40)
    ]
    stderr = np.std(means) / np.sqrt(len(means))
    assert abs(np.mean(means)) < 3 * stderr
    shifted = kid(rng.normal(size=(150, 8)), rng.normal(0.5, 1.0, size=(150, 8)), subsets=5)[0]
    assert shifted > 20 * stderr  # and a real difference stands far out of that noise


def test_kid_grows_with_the_shift() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 10))
    values = [kid(x, rng.normal(d, 1.0, size=(300, 10)), subsets=20)[0] for d in (0.25, 0.5, 1.0)]
    assert values[0] < values[1] < values[2]


def test_prdc_identical_sets_are_perfect() -> None:
    x = np.random.default_rng(3).normal(size=(200, 5))
    assert prdc(x, x, k=5) == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}


def test_prdc_far_apart_sets_score_zero() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + 100.0
    assert prdc(x, y, k=5) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_half_copies_half_outliers() -> None:
    # Fakes: 50 exact copies of reals plus 50 far outliers -> precision is exactly 1/2; every
    # real whose own ball holds its copy is covered, so coverage >= 1/2; the outliers add none.
    rng = np.random.default_rng(5)
    real = rng.normal(size=(100, 2))
    fake = np.concatenate([real[:50], rng.normal(size=(50, 2)) + 50.0])
    got = prdc(real, fake, k=5)
    assert got["precision"] == 0.5
    assert 0.5 <= got["coverage"] <= 1.0
    # Density counts real balls per fake: the outliers contribute 0, copies about 1 each.
    assert 0.3 < got["density"] < 0.8


def test_prdc_mode_dropping_halves_recall_and_coverage() -> None:
    # Reals in two far clusters; fakes copy one cluster only: fidelity perfect, diversity half.
    rng = np.random.default_rng(6)
    real = np.concatenate([rng.normal(size=(60, 2)) - 20.0, rng.normal(size=(60, 2)) + 20.0])
    got = prdc(real, real[:60], k=5)
    # Each covered real's ball holds its own copy and k - 1 neighbours' copies: density is 1.
    assert got == {"precision": 1.0, "recall": 0.5, "density": 1.0, "coverage": 0.5}


def test_knn_radius_is_the_kth_other_point() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    np.testing.assert_allclose(knn_radii(x, 1).numpy(), [1.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(knn_radii(x, 2).numpy(), [3.0, 2.0, 3.0, 5.0])


def test_too_few_images_skip_metrics_with_the_minimum_named() -> None:
    rng = np.random.default_rng(8)
    real = rng.integers(0, 256, (40, 32, 32), dtype=np.uint8)
    five = evaluate_sets(real, real[:5] // 2 + 60)
    assert five["fwd"] is not None and five["kid_mean"] is not None
    assert five["kid_subsets"] == 100.0  # subsets of 5 of the 40 real images differ
    assert evaluate_sets(real[:5], real[5:10])["kid_std"] is None  # both whole: one subset
    assert all(five[k] is None for k in ("precision", "recall", "density", "coverage"))
    assert five["memorised_share"] is not None
    one = evaluate_sets(real, real[:1])
    assert one["fwd"] is None and one["kid_mean"] is None and one["precision"] is None
    assert one["memorised_share"] == 1.0  # the one "generated" image is a training image
    assert set(one) == set(five)  # the same keys whatever was skipped
    why = skipped_metrics(40, 5)
    assert list(why) == ["prdc"]
    assert "need at least 6 images per side" in why["prdc"] and "got 5 generated" in why["prdc"]
    why = skipped_metrics(40, 1, n_train=1)
    assert set(why) == {"fwd", "kid", "prdc", "texture", "memorisation"}
    assert "need at least 2 images per side" in why["fwd"]
    assert "at least 2 training images, got 1" in why["memorisation"]
    table = format_metrics(five)
    assert "precision" in table and "—" in table
