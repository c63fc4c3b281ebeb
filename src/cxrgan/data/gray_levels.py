"""Decoded values of any range → 8-bit gray levels: by linear scaling, never by clipping.

Shared by the Pillow (JPEG/PNG/TIFF) and DICOM decoders; docs/data-formats.md explains the
choices (decode.py's docstring sums them up).
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def scale_to_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map lo..hi linearly onto 0..255 (rounded); a constant image becomes 0."""
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (np.asarray(arr, dtype=np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def wide_to_uint8(arr: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit int / float) gray → uint8 by scaling, never by clipping.

    Non-negative integers below 2**16 are scaled by the smallest power-of-two range (at least
    8 bits) that holds their maximum; anything else is min-max stretched (no natural range)."""
    if np.issubdtype(arr.dtype, np.integer) and arr.size and arr.min() >= 0 and arr.max() < 2**16:
        bits = max(8, int(arr.max()).bit_length())
        return scale_to_uint8(arr, 0.0, float(2**bits - 1))
    return scale_to_uint8(arr, float(arr.min()), float(arr.max()))


def rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB of any integer depth → (H, W) uint8 luma (Pillow's ITU-R 601)."""
    if rgb.dtype != np.uint8:
        rgb = scale_to_uint8(rgb, 0.0, float(np.iinfo(rgb.dtype).max))
    return np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
