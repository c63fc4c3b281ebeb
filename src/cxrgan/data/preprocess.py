"""Fit a decoded grayscale image to the training square: `crop`, `pad` or `squash`.

Chest X-rays are rarely square (the Kermany originals run from 0.84:1 to 3.18:1 width:height,
median 1.21 NORMAL / 1.50 PNEUMONIA), so every policy gives something up:

- `crop` (default): resize the shorter side to the target (LANCZOS, antialiased), then cut
  the centre square: the tutorial's Resize + CenterCrop, and how `png128/` was made. Full
  resolution, no distortion, but the longer side loses 1 - 1/aspect of its length: 17 % at
  1.21:1 and 33 % at 1.5:1, mostly outside the ribcage. About 2 % of Kaggle images are wider
  than 2:1; they lose half or more of their width, and with it the lateral lung edges and
  costophrenic angles.
- `pad`: resize the longer side to the target and fill the rest of the square; each band
  takes the median level of the image edge it touches (top band: top edge, and so on), so
  it continues the border instead of adding a hard black bar that the GAN would have to
  learn. Keeps all anatomy undistorted, but a 1.5:1 image uses only 2/3 of the rows, and
  the generator must learn bands whose height varies with the aspect ratio.
- `squash`: resize to target x target ignoring the aspect ratio. Keeps everything and uses
  every pixel, but distorts anatomy (a 1.5:1 chest becomes a third narrower); matches the
  public 224x224 Kaggle copies, so use it when comparing against or mixing with those.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from cxrgan.data.fit import FIT_POLICIES

# FIT_POLICIES: the names accepted by `fit_square(..., fit=)` (the module docstring explains the
# trade-offs); they live in data/fit.py so that listing them imports no image code.

_LANCZOS = Image.Resampling.LANCZOS


def fit_square(img: Image.Image, size: int, fit: str = "crop") -> np.ndarray:
    """Return a (size, size) uint8 array of `img` fitted by policy `fit` (see module doc)."""
    if fit not in FIT_POLICIES:
        raise ValueError(f"unknown fit policy {fit!r}; choose one of {', '.join(FIT_POLICIES)}")
    if img.mode != "L":
        img = img.convert("L")
    if fit == "crop":
        return _crop(img, size)
    if fit == "pad" and img.width != img.height:
        return _pad(img, size)
    return np.asarray(img.resize((size, size), _LANCZOS), dtype=np.uint8)


def _crop(img: Image.Image, size: int) -> np.ndarray:
    # Resize only the centred square, located with sub-pixel precision (Pillow's `box`):
    # rounding the intermediate size, then the crop offset, could shift the result by a
    # whole output pixel between two decodes of one image at different resolutions.
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    box = (left, top, left + side, top + side)
    return np.asarray(img.resize((size, size), _LANCZOS, box=box), dtype=np.uint8)


def _pad(img: Image.Image, size: int) -> np.ndarray:
    # Extend the image with its pad bands at source resolution, then resize the square around
    # it in one go, placed with sub-pixel precision: the content/band boundary is antialiased
    # like any edge, and two decodes of one image at different resolutions (full vs JPEG
    # draft) give the same result rather than differing by a rounded row.
    w, h = img.size
    side = max(w, h)
    vertical = w > h  # bands above and below
    band = max(1, round(side / size))  # source pixels per output pixel
    extra = (side - min(w, h)) / 2  # band thickness in source pixels
    room = math.ceil(extra) + 3 * band  # + the LANCZOS kernel's reach (3 output pixels)
    canvas = _with_bands(img, room, pad_levels(np.asarray(img), band, vertical), vertical)
    start = room - extra
    box = (0, start, w, start + side) if vertical else (start, 0, start + side, h)
    return np.asarray(canvas.resize((size, size), _LANCZOS, box=box), dtype=np.uint8)


def _with_bands(
    img: Image.Image, room: int, levels: tuple[int, int], vertical: bool
) -> Image.Image:
    w, h = img.size
    if vertical:
        canvas = Image.new("L", (w, h + 2 * room), levels[0])
        canvas.paste(levels[1], (0, room + h, w, h + 2 * room))
        canvas.paste(img, (0, room))
    else:
        canvas = Image.new("L", (w + 2 * room, h), levels[0])
        canvas.paste(levels[1], (room + w, 0, w + 2 * room, h))
        canvas.paste(img, (room, 0))
    return canvas


def pad_levels(arr: np.ndarray, band: int, vertical: bool) -> tuple[int, int]:
    """Fill levels for the two pad bands: the median of the image edge each band touches,
    `band` pixels deep (top and bottom rows when `vertical`, else left and right columns)."""
    edges = (arr[:band], arr[-band:]) if vertical else (arr[:, :band], arr[:, -band:])
    return round(float(np.median(edges[0]))), round(float(np.median(edges[1])))
