"""pixels: uint8 ↔ [-1, 1], for numpy and torch alike, and the two directions agree."""

from __future__ import annotations

import numpy as np
import torch

from cxrgan.data.pixels import from_uint8, to_uint8

ALL_LEVELS = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)


def test_from_uint8_ends_and_dtype() -> None:
    x = from_uint8(ALL_LEVELS)
    assert x.dtype == np.float32 and x.shape == ALL_LEVELS.shape
    assert x.min() == -1.0 and x.max() == 1.0


def test_from_uint8_numpy_and_torch_are_bit_identical() -> None:
    as_tensor = from_uint8(torch.from_numpy(ALL_LEVELS))
    assert as_tensor.dtype == torch.float32
    np.testing.assert_array_equal(as_tensor.numpy(), from_uint8(ALL_LEVELS))


def test_from_uint8_leaves_its_input_alone() -> None:
    t = torch.from_numpy(ALL_LEVELS.copy())
    from_uint8(t)
    np.testing.assert_array_equal(t.numpy(), ALL_LEVELS)
    f = torch.full((2, 2), 255.0)
    from_uint8(f)
    assert (f == 255.0).all()  # a float tensor is copied, not scaled in place


def test_round_trip_every_level() -> None:
    np.testing.assert_array_equal(to_uint8(from_uint8(ALL_LEVELS)), ALL_LEVELS)
    np.testing.assert_array_equal(to_uint8(from_uint8(torch.from_numpy(ALL_LEVELS))), ALL_LEVELS)


def test_to_uint8_shapes_clipping_and_uint8_passthrough() -> None:
    x = torch.tensor([[[[-2.0, -1.0], [0.0, 3.0]]]])  # (1, 1, 2, 2): channel axis dropped
    np.testing.assert_array_equal(to_uint8(x), [[[0, 0], [128, 255]]])
    assert to_uint8(ALL_LEVELS) is ALL_LEVELS
