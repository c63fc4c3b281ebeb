"""fit_square: output shape, and where the content lands under each fit policy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxrgan.data.preprocess import FIT_POLICIES, fit_square, pad_levels

BACKGROUND, LEFT, RIGHT, TOP, BOTTOM = 100, 250, 180, 20, 230


def wide_2to1() -> Image.Image:
    """200x100: a bright stripe on the left edge, a lighter one on the right, a dark band
    along the top and a bright band along the bottom (between the stripes)."""
    arr = np.full((100, 200), BACKGROUND, np.uint8)
    arr[:10, 20:180] = TOP
    arr[90:, 20:180] = BOTTOM
    arr[:, :20] = LEFT
    arr[:, 180:] = RIGHT
    return Image.fromarray(arr)


def near(arr: np.ndarray, value: int, tol: int = 1) -> bool:
    """Every pixel within `tol` levels of `value` (LANCZOS rings a little at hard edges)."""
    return bool(np.all(np.abs(arr.astype(int) - value) <= tol))


@pytest.mark.parametrize("fit", FIT_POLICIES)
@pytest.mark.parametrize("shape", [(100, 200), (200, 100), (64, 64), (5, 10), (140, 445)])
def test_every_policy_returns_a_square_uint8(fit: str, shape: tuple[int, int]) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    out = fit_square(img, 32, fit)
    assert out.shape == (32, 32)
    assert out.dtype == np.uint8


@pytest.mark.parametrize("fit", FIT_POLICIES)
def test_a_flat_image_stays_flat_exactly(fit: str) -> None:
    out = fit_square(Image.new("L", (300, 170), 77), 48, fit)
    assert np.all(out == 77)


def test_rgb_input_is_converted_to_gray() -> None:
    out = fit_square(Image.new("RGB", (40, 40), (90, 90, 90)), 16, "crop")
    assert np.all(out == 90)


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fit policy 'stretch'"):
        fit_square(Image.new("L", (10, 10)), 8, "stretch")


def test_crop_keeps_the_centre_and_removes_left_and_right_edges() -> None:
    out = fit_square(wide_2to1(), 50, "crop")
    # The centre 100x100 square of the source: no stripe survives, top/bottom bands do.
    assert out.max() < 240
    assert np.all(out[10:40, :] == BACKGROUND)
    assert near(out[:3], TOP) and near(out[-3:], BOTTOM)


def test_crop_of_a_tall_image_removes_top_and_bottom() -> None:
    arr = np.full((200, 100), BACKGROUND, np.uint8)
    arr[:20], arr[-20:] = 0, 255
    out = fit_square(Image.fromarray(arr), 40, "crop")
    assert np.all(out == BACKGROUND)


def test_crop_is_centred_with_sub_pixel_precision() -> None:
    # 101x50: the centre square starts at x = 25.5, which rounding would shift by half a
    # source pixel; a mirror-symmetric image must stay mirror-symmetric.
    ramp = np.abs(np.arange(101) - 50).astype(np.uint8) * 5
    out = fit_square(Image.fromarray(np.tile(ramp, (50, 1))), 25, "crop").astype(int)
    assert np.abs(out - out[:, ::-1]).max() <= 1


def test_pad_keeps_both_edges_and_fills_bands_with_the_nearest_edge_level() -> None:
    out = fit_square(wide_2to1(), 50, "pad")
    # Content: 50 x 25 rows 12.5..37.5; bands above and below.
    assert np.all(out[:9] == TOP)  # top band continues the dark top edge
    assert np.all(out[41:] == BOTTOM)  # bottom band continues the bright bottom edge
    middle = out[17:33]
    assert near(middle[:, :3], LEFT, 3)  # left stripe kept (5 px wide)
    assert near(middle[:, -3:], RIGHT, 3)  # right stripe kept
    assert near(middle[:, 8:42], BACKGROUND)


def test_pad_of_a_tall_image_pads_left_and_right() -> None:
    arr = np.full((200, 100), BACKGROUND, np.uint8)
    arr[:, :5], arr[:, -5:] = 10, 240
    out = fit_square(Image.fromarray(arr), 40, "pad")
    assert near(out[:, :8], 10) and near(out[:, 32:], 240)
    assert near(out[:, 12:28], BACKGROUND, 2)


def test_pad_levels_are_medians_of_the_touching_edges() -> None:
    arr = np.zeros((10, 10), np.uint8)
    arr[0] = [5] * 6 + [200] * 4  # median 5 despite bright text in a corner
    arr[-1] = 90
    assert pad_levels(arr, 1, vertical=True) == (5, 90)
    assert pad_levels(arr.T, 1, vertical=False) == (5, 90)


def test_squash_keeps_both_edges_and_distorts() -> None:
    out = fit_square(wide_2to1(), 50, "squash")
    # x is scaled by 1/4 and y by 1/2: 20-px stripes become 5 columns, 10-row bands 5 rows.
    assert near(out[8:42, :3], LEFT, 3) and near(out[8:42, -3:], RIGHT, 3)
    assert near(out[:3, 8:42], TOP) and near(out[-3:, 8:42], BOTTOM)
    assert near(out[8:42, 8:42], BACKGROUND)
    # The 20x10 (w x h) corner features come out 5x5: the aspect ratio is not kept.
    assert _run(out[25], LEFT) == 5 and _run(out[:, 25], TOP) == 5
    pad = fit_square(wide_2to1(), 50, "pad")
    assert _run(pad[25], LEFT) == 5  # same x scale under pad...
    assert _run(pad[:, 25], TOP) == 15  # ...but y too: 12.5 band rows + 2.5 content rows


def _run(line: np.ndarray, value: int, tol: int = 12) -> int:
    """Length of the run of pixels near `value` at the start of `line`."""
    close = np.abs(line.astype(int) - value) <= tol
    return int(np.argmin(close)) if not close.all() else len(line)
