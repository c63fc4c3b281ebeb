"""Fréchet distance: closed forms, invariances and near-singular covariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxrgan.metrics.frechet import frechet_distance, frechet_distances, psd_sqrt


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, 2 * d))
    return a @ a.T / (2 * d)


def _rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def test_identical_gaussians_are_at_distance_zero() -> None:
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=8), _random_spd(rng, 8)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-10)


def test_diagonal_gaussians_match_the_closed_form() -> None:
    # For commuting (diagonal) covariances: |mu1 - mu2|² + sum (sqrt(a_i) - sqrt(b_i))².
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 1.0 + 0.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert expected == 7.0
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(7.0, rel=1e-12)


def test_distance_is_invariant_to_a_common_rotation() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    q = _rotation(rng, 6)
    got = frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


def test_rank_deficient_covariances_give_a_finite_real_result() -> None:
    # Rank-1 covariances in 5-D (a few samples, or constant features): sqrtm(S1 S2) is singular.
    u, v = np.ones(5) / np.sqrt(5), np.eye(5)[0]
    s1, s2 = 2.0 * np.outer(u, u), 3.0 * np.outer(v, v)
    got = frechet_distance(np.zeros(5), s1, np.zeros(5), s2)
    # tr sqrt(S1 S2): S1 S2 has rank 1 with eigenvalue 6 (u·v)² = 6/5.
    expected = 2.0 + 3.0 - 2.0 * np.sqrt(6.0 / 5.0)
    assert np.isfinite(got) and isinstance(got, float)
    # Zero eigenvalues come out as ~±1e-16, whose square roots (~1e-8) bound the accuracy.
    assert got == pytest.approx(expected, rel=1e-7)


def test_near_singular_sample_covariance_from_few_samples() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 40)), rng.normal(size=(5, 40)) + 0.5  # 5 samples, 40 dims
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    got = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    assert np.isfinite(got) and got > 0
    # Same answer via an independent route: sqrt of the (PSD) product's eigenvalues, numpy only.
    w1, v1 = np.linalg.eigh(s1)
    r1 = (v1 * np.sqrt(w1.clip(0))) @ v1.T
    tr = np.sqrt(np.linalg.eigvalsh(r1 @ s2 @ r1).clip(0)).sum()
    ref = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr
    assert got == pytest.approx(ref, rel=1e-8)


def test_replicated_channels_multiply_the_distance_by_three() -> None:
    # Why FWD uses one gray channel: RGB copies of a gray image give exactly 3x, rank-deficient.
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    s1, s2 = _random_spd(rng, 4), _random_spd(rng, 4)
    ones = np.ones((3, 3))
    gray = frechet_distance(mu1, s1, mu2, s2)
    rgb = frechet_distance(np.tile(mu1, 3), np.kron(ones, s1), np.tile(mu2, 3), np.kron(ones, s2))
    assert rgb == pytest.approx(3 * gray, rel=1e-8)


def test_batched_distances_match_one_by_one_and_reuse_the_root() -> None:
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    s1 = np.stack([_random_spd(rng, 5) for _ in range(3)])
    s2 = np.stack([_random_spd(rng, 5) for _ in range(3)])
    batched = frechet_distances(mu1, s1, mu2, s2, sqrt_sigma1=psd_sqrt(s1))
    single = [frechet_distance(mu1[i], s1[i], mu2[i], s2[i]) for i in range(3)]
    assert batched.dtype == torch.float64
    np.testing.assert_allclose(batched.numpy(), single, rtol=1e-10)


def test_psd_sqrt_squares_back() -> None:
    s = _random_spd(np.random.default_rng(5), 6)
    root = psd_sqrt(s).numpy()
    np.testing.assert_allclose(root @ root, s, atol=1e-12)
