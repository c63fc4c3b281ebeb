"""Haar wavelet packets: equal to PyWavelets' (hence ptwt's and pytorchfwd's), fast path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxrgan.data.pixels import from_uint8
from cxrgan.metrics.images import to_unit
from cxrgan.metrics.wavelets import (
    default_level,
    haar_packets,
    packet_paths,
    pywt_packets,
    wavelet_packets,
)

# Asserts use numpy: torch.testing's first call spends seconds on lazy imports.


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_haar_packets_equal_pywavelets_in_natural_order(level: int) -> None:
    x = torch.rand(3, 32, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours, ref = haar_packets(x, level), pywt_packets(x, level, "haar")
    assert ours.shape == (3, 4**level, 32 // 2**level, 48 // 2**level)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=0, atol=1e-12)


def test_packet_order_and_scaling() -> None:
    assert packet_paths(1) == ["a", "h", "v", "d"]
    assert packet_paths(2)[:5] == ["aa", "ah", "av", "ad", "ha"]
    x = torch.zeros(1, 8, 8, dtype=torch.float64)
    x[0, :4, :4] = 1.0  # one bright 4x4 block
    p = haar_packets(x, 2)
    # 'aa' is the block sum / 2**level (orthonormal); every other packet of a flat block is 0.
    assert p[0, 0, 0, 0].item() == pytest.approx(16 / 4)
    assert p[0, 1:, 0, 0].abs().max().item() == pytest.approx(0.0, abs=1e-12)


def test_transform_is_orthonormal() -> None:
    x = torch.rand(2, 64, 64, dtype=torch.float64)
    p = haar_packets(x, 4)
    assert p.pow(2).sum().item() == pytest.approx(x.pow(2).sum().item(), rel=1e-12)


def test_default_level_keeps_packets_at_least_4x4() -> None:
    assert [default_level(s) for s in (8, 16, 32, 64, 128, 256)] == [1, 2, 3, 4, 4, 4]


def test_odd_sizes_are_centre_cropped_to_a_multiple() -> None:
    x = torch.rand(1, 70, 70, dtype=torch.float64)
    np.testing.assert_array_equal(
        haar_packets(x, 4).numpy(), haar_packets(x[:, 3:67, 3:67], 4).numpy()
    )


def test_log_scale_matches_pytorchfwd_formula() -> None:
    x = torch.rand(2, 16, 16, dtype=torch.float64)
    lin, log = wavelet_packets(x, 2), wavelet_packets(x, 2, log_scale=True)
    np.testing.assert_allclose(log.numpy(), np.log(np.abs(lin.numpy()) + 1e-6), rtol=1e-12)


def test_other_wavelets_go_through_pywavelets() -> None:
    x = torch.rand(2, 32, 32, dtype=torch.float64)
    assert wavelet_packets(x, 2, "db2").shape[:2] == (2, 16)


def test_to_unit_reads_uint8_and_tanh_range_alike() -> None:
    u8 = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    as_float = torch.from_numpy(from_uint8(u8)).unsqueeze(1)  # (N, 1, H, W)
    np.testing.assert_allclose(to_unit(u8).numpy(), to_unit(as_float).numpy(), rtol=0, atol=1e-6)
    assert to_unit(u8).dtype == torch.float64
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        to_unit(np.full((1, 2, 2), 3.0))
    with pytest.raises(ValueError, match="gray"):
        to_unit(np.zeros((1, 3, 4, 4), dtype=np.uint8))
