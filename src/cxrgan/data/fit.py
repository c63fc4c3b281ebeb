"""The names of the fit policies (how a non-square image becomes square) and the check of a
target square, without the image code: settings and `--help` list them without importing numpy
or Pillow. The policies themselves are in data/preprocess.py."""

from __future__ import annotations

from cxrgan.errors import CxrganError

FIT_POLICIES = ("crop", "pad", "squash")


def check_target(image_size: int, fit: str) -> None:
    """The square every image is fitted to must make sense before any file is touched."""
    if fit not in FIT_POLICIES:
        raise CxrganError(f"fit must be one of {', '.join(FIT_POLICIES)}, got {fit!r}")
    if image_size < 1:
        raise CxrganError(f"image size must be positive, got {image_size}")
