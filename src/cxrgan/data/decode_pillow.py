"""JPEG, PNG and TIFF through Pillow: an 8-bit gray image, or cheap header facts.

JPEGs much larger than the training size are decoded at 1/2, 1/4 or 1/8 scale by libjpeg
(`draft_scale`); 16-bit and wider images are scaled to 8 bits, never clipped (gray_levels.py).
decode.py is the entry point that picks this module or decode_dicom.py for a file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cxrgan.data.gray_levels import wide_to_uint8
from cxrgan.errors import UnreadableImage

# JPEG draft decoding keeps the decoded shorter side at least this many times the target,
# so the LANCZOS resize that follows still shrinks by >= 2x and antialiases properly.
DRAFT_MARGIN = 2
_DRAFT_SCALES = (8, 4, 2)  # what libjpeg's DCT scaling offers

_WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}
_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError)


def draft_scale(size: tuple[int, int], target_size: int) -> int:
    """JPEG DCT scale denominator (8, 4, 2 or 1) for decoding an image of `size` for
    `target_size`: the largest that keeps the decoded SHORTER side >= DRAFT_MARGIN × target.

    The shorter side is the binding one for `crop` and `squash` (they shrink it to the
    target); `pad` shrinks the longer side, so this rule is conservative for it too. read_gray
    does not know the fit policy, so one rule serves all three. It is also orientation-proof:
    EXIF rotation happens after decoding and does not change the shorter side.
    """
    shorter = min(size)
    for scale in _DRAFT_SCALES:
        if shorter // scale >= DRAFT_MARGIN * target_size:
            return scale
    return 1


def pillow_gray(path: Path, target_size: int | None) -> Image.Image:
    """`path` as a mode-"L" image, orientation applied, no metadata (see decode.read_gray)."""
    with _open_pillow(path) as img:
        stored_size = img.size
        scale = _request_draft(img, target_size) if target_size and img.format == "JPEG" else 1
        img.load()  # decode everything now: a truncated file must fail here, not pass half-gray
        upright = ImageOps.exif_transpose(_true_extent(img, stored_size, scale))
    gray = _to_gray8(upright)
    gray.info = {}  # no EXIF, comments or ICC profiles travel further
    return gray


def describe_pillow(path: Path) -> dict[str, Any]:
    """Header facts without a full decode (see decode.describe for the keys)."""
    with _open_pillow(path) as img:
        orientation = _orientation(img)
        width, height = img.size
        # TIFF reports the upright size already; JPEG/PNG report the stored one.
        if img.format != "TIFF" and orientation in (5, 6, 7, 8):
            width, height = height, width
        info: dict[str, Any] = {
            "format": img.format,
            "mode": img.mode,
            "width": width,
            "height": height,
            "bit_depth": _MODE_BITS.get(img.mode, 8),
            "frames": int(getattr(img, "n_frames", 1)),
            "exif_orientation": orientation,
        }
        if img.format == "JPEG":
            info["progressive"] = bool(img.info.get("progressive"))
    return info


@contextmanager
def _open_pillow(path: Path) -> Iterator[Image.Image]:
    # Open through a file object, not a filename: Pillow 13 memory-maps uncompressed TIFFs
    # opened by name and then scrambles those with orientation 5-8.
    try:
        with path.open("rb") as fh, Image.open(fh) as img:
            yield img
    except UnidentifiedImageError as exc:
        raise UnreadableImage("not a recognised image file (JPEG, PNG, TIFF or DICOM)") from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(f"image too large to decode safely ({exc})") from exc
    except _PILLOW_ERRORS as exc:
        raise UnreadableImage(f"corrupt or truncated image: {exc}") from exc


def _request_draft(img: Image.Image, target_size: int) -> int:
    """Ask libjpeg to decode at 1/scale (DCT scaling); returns that scale (1: no draft)."""
    scale = draft_scale(img.size, target_size)
    if scale > 1:
        # Pillow picks the largest power of two <= min(w // rw, h // rh): asking for
        # (w // scale, h // scale) yields exactly `scale`. "L" decodes only the luma channel.
        img.draft("L", (img.width // scale, img.height // scale))
    return scale


def _true_extent(img: Image.Image, stored_size: tuple[int, int], scale: int) -> Image.Image:
    """A w x h JPEG drafted at 1/scale decodes to ceil(w/scale) x ceil(h/scale): the last
    row/column stands for a partial block, which would shift a later centre crop by up to
    half an output pixel. Resample the true extent (w/scale x h/scale) to whole pixels."""
    w, h = stored_size[0] / scale, stored_size[1] / scale
    if (w, h) == img.size:
        return img  # no draft, or sides divisible by the scale
    return img.resize((round(w), round(h)), Image.Resampling.LANCZOS, box=(0, 0, w, h))


def _to_gray8(img: Image.Image) -> Image.Image:
    if img.mode in _WIDE_MODES:
        return Image.fromarray(wide_to_uint8(np.asarray(img)))
    return img.convert("L")  # L, P, RGB(A), CMYK, LA, 1: Pillow's ITU-R 601 luma


def _orientation(img: Image.Image) -> int:
    # A PNG whose eXIf chunk is not before the pixel data would need a full decode to find
    # it: describe() stays cheap and reports 1 then (read_gray still honours it).
    if img.format == "PNG" and "exif" not in img.info:
        return 1
    return int(img.getexif().get(274, 1) or 1)
