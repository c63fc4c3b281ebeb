"""FWD end to end against an independent reference written from the paper, on real radiographs.

pytorchfwd itself cannot run in CI (it pins scipy 1.11.1 and needs torchvision, whose PyPI wheels
pull a CUDA torch; tests/metrics/compare_pytorchfwd.py is the manual comparison). The reference
here follows Veeramacheneni et al. (2025) with PyWavelets and numpy only, sharing no code with
cxrgan.metrics: pixels in [0, 1]; Haar wavelet-packet tree of level 4 (PyWavelets'
`WaveletPacket2D`, packets in its natural order); per packet, each image's coefficients are one
feature vector, whose mean and unbiased covariance (`numpy.cov`) give a Gaussian per image set;
Fréchet distance per packet with tr((S1 S2)^½) from the eigenvalues of S1 S2; FWD = their mean.

cxrgan accumulates the statistics in chunks of `CHUNK` images (memory): both its multi-chunk
route (more than 1,024 images, and a forced small chunk with a ragged last chunk) and the
accumulator on its own are checked against numpy.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import pywt
import torch

from cxrgan.metrics.fwd import StatsAccumulator, fwd, fwd_per_packet, packet_statistics
from cxrgan.metrics.wavelets import wavelet_packets

pytestmark = pytest.mark.shared_data
# The module, not the function `cxrgan.metrics.fwd` that the package exports under its name.
fwd_module = importlib.import_module("cxrgan.metrics.fwd")

LEVEL = 4  # the paper's and pytorchfwd's default; cxrgan's default at 64 px
# Measured agreement: 4e-14, 3e-12 (log-scaled) and 2e-15 relative (eigenvalues of S1 S2 here,
# cxrgan's symmetric square root there); 1e-9 leaves room for BLAS and catches any real change.
RTOL = 1e-9


def _reference_per_packet(real: np.ndarray, fake: np.ndarray, log_scale: bool) -> np.ndarray:
    """The paper's FWD per packet, natural packet order, from uint8 (N, H, W) image sets."""

    def gaussians(images: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        x = images.astype(np.float64) / 255.0
        tree = pywt.WaveletPacket2D(x, "haar", mode="reflect", maxlevel=LEVEL, axes=(-2, -1))
        out = []
        for node in tree.get_level(LEVEL, order="natural"):
            c = node.data.reshape(len(x), -1)  # (N, h*w): one feature vector per image
            if log_scale:
                c = np.log(np.abs(c) + 1e-6)
            out.append((c.mean(0), np.cov(c, rowvar=False)))
        return out

    distances = []
    for (m1, s1), (m2, s2) in zip(gaussians(real), gaussians(fake), strict=True):
        # S1 S2 is similar to a PSD matrix: its eigenvalues are real and >= 0 (up to rounding).
        eig = np.linalg.eigvals(s1 @ s2)
        tr_sqrt = np.sqrt(eig.real.clip(min=0)).sum()
        distances.append(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)
    return np.array(distances)


@pytest.mark.parametrize("log_scale", [False, True], ids=["plain", "log-scaled"])
def test_fwd_matches_the_paper_through_small_chunks(
    patient_halves: tuple[np.ndarray, np.ndarray], monkeypatch, log_scale: bool
) -> None:
    """Two disjoint patient halves (~700 images each) through chunks of 96: 7-8 chunks per set,
    the last one ragged. Per packet and averaged."""
    a, b = patient_halves
    assert len(a) % 96 and len(b) % 96 and min(len(a), len(b)) > 5 * 96
    monkeypatch.setattr(fwd_module, "CHUNK", 96)
    want = _reference_per_packet(a, b, log_scale)
    ref = packet_statistics(a, log_scale=log_scale)
    got = fwd_per_packet(ref, packet_statistics(b, ref.level, log_scale=log_scale)).numpy()
    assert ref.level == LEVEL and got.shape == want.shape == (4**LEVEL,)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12)
    total = fwd(a, b, log_scale=log_scale)
    assert total == pytest.approx(want.mean(), rel=RTOL)
    # Not vacuous: the halves are close but not equal (docs/metrics.md: 0.0040 without log).
    assert want.mean() > (0.1 if log_scale else 1e-3)


def test_fwd_of_more_than_one_chunk_matches_the_paper(real64: np.ndarray) -> None:
    """All 1,414 radiographs against a 3-px shift of them, at the default chunk of 1,024."""
    assert len(real64) > fwd_module.CHUNK
    shifted = np.empty_like(real64)
    shifted[:, 3:, 3:] = real64[:, :-3, :-3]
    shifted[:, :3, :], shifted[:, :, :3] = 0, 0
    want = _reference_per_packet(real64, shifted, log_scale=False).mean()
    assert fwd(real64, shifted) == pytest.approx(want, rel=RTOL)
    assert want > 0.05


def _cov_per_packet(packets: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    feats = packets.flatten(2).numpy()  # (N, P, D)
    mu = feats.mean(0)
    sigma = np.stack([np.cov(feats[:, p], rowvar=False) for p in range(feats.shape[1])])
    return mu, sigma


@pytest.mark.parametrize("sizes", [[700], [1, 99, 256, 344], [350, 350]])
def test_the_accumulator_equals_numpy_cov(
    patient_halves: tuple[np.ndarray, np.ndarray], sizes: list[int]
) -> None:
    """Mean and covariance of 700 real images' packets, however they are split into chunks."""
    x = torch.from_numpy(patient_halves[0][:700]).to(torch.float64) / 255.0
    packets = wavelet_packets(x, LEVEL)
    acc = StatsAccumulator()
    start = 0
    for size in sizes:
        acc.add(packets[start : start + size])
        start += size
    assert start == len(packets) == acc.n
    stats = acc.result(LEVEL, "haar", log_scale=False)
    mu, sigma = _cov_per_packet(packets)
    np.testing.assert_allclose(stats.mu.numpy(), mu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(stats.sigma.numpy(), sigma, rtol=1e-9, atol=1e-14)


def test_the_accumulator_stays_exact_far_from_zero() -> None:
    """Features of mean 1e6 and spread 1: sum-of-squares minus squared sum would lose every
    digit (1e12 - 1e12 in float64); summing around the first chunk's mean keeps them."""
    rng = np.random.default_rng(0)
    feats = 1e6 + rng.normal(size=(300, 2, 3, 3))  # (N, P, h, w)
    acc = StatsAccumulator()
    for part in np.array_split(feats, 4):
        acc.add(torch.from_numpy(part))
    stats = acc.result(1, "haar", log_scale=False)
    mu, sigma = _cov_per_packet(torch.from_numpy(feats))
    np.testing.assert_allclose(stats.mu.numpy(), mu, rtol=1e-14)
    np.testing.assert_allclose(stats.sigma.numpy(), sigma, rtol=1e-8, atol=1e-10)
