"""The texture metric: the mean |Laplacian| of generated over real images, at their own size."""

import numpy as np
import pytest

from cxrgan.metrics import evaluate_sets


def _energy(images: np.ndarray) -> np.ndarray:
    """Mean |4-neighbour Laplacian| per uint8 image, in [0, 1] units, written independently."""
    x = images / 255.0
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return np.abs(lap).mean(axis=(1, 2))


def _box_blur(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64)
    out = (x + np.roll(x, 1, -1) + np.roll(x, -1, -1) + np.roll(x, 1, -2) + np.roll(x, -1, -2)) / 5
    return np.round(out).astype(np.uint8)


def test_laplacian_ratio_against_numpy_and_its_direction(real64):
    real = real64[:40]
    noisy = np.clip(real + np.random.default_rng(0).normal(0, 12, real.shape), 0, 255)
    cases = {"same": real, "blurred": _box_blur(real), "noisy": noisy.astype(np.uint8)}
    got = {k: evaluate_sets(real, v, seed=0)["laplacian_ratio"] for k, v in cases.items()}
    for k, fake in cases.items():
        assert got[k] == pytest.approx(_energy(fake).mean() / _energy(real).mean(), rel=1e-9)
    assert got["same"] == pytest.approx(1.0)
    assert got["blurred"] < 0.8 < 1.25 < got["noisy"]
