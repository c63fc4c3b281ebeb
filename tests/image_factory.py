"""Small random gray images on disk, for tests that need a folder of real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, width: int = 40, height: int = 30, seed: int = 0) -> Path:
    """Write a width×height 8-bit gray image of seeded noise (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return path
