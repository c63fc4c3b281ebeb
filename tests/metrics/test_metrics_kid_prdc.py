"""KID (unbiased MMD²) and precision/recall/density/coverage on synthetic point clouds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxrgan.metrics.kid import kid, polynomial_kernel, subset_indicators
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
    mean, std = kid(x, y, subsets=7, subset_size=50, seed=3)
    ref = _naive_kid(x, y, subsets=7, m=50, seed=3)
    assert mean == pytest.approx(ref.mean(), rel=1e-10)
    assert std == pytest.approx(ref.std(), rel=1e-8)


def test_kid_is_unbiased_for_one_distribution() -> None:
    # Averaged over many independent pairs of small samples, KID must centre on 0 (FID would not).
    rng = np.random.default_rng(1)
    means = [
        kid(rng.normal(size=(150, 8)), rng.normal(size=(150, 8)), subsets=5, subset_size=100)[0]
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
