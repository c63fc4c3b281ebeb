"""Decode one image file into an 8-bit grayscale PIL image: the single entry point for formats.

Formats: JPEG (baseline or progressive; L, RGB, CMYK), PNG (8- or 16-bit), TIFF and DICOM
(through pydicom). This module decides which decoder reads a file; the decisions below are
explained for users in docs/data-formats.md:

- JPEG, PNG, TIFF (decode_pillow.py): 16-bit images are scaled linearly, never clipped and
  never min-max stretched. The scale is the smallest power-of-two range (at least 8 bits) that
  holds the image's maximum, so a full-range image maps 65535 → 255 and 10/12-bit data kept in
  a 16-bit container is not left nearly black. 0 stays black (gray_levels.py).
- DICOM (decode_dicom.py): Modality LUT or Rescale Slope/Intercept first, then the first VOI
  LUT or Window Center/Width, whose output range maps to 0..255. Without a window: unsigned
  data of at most 8 bits is a display image (scaled by its Bits Stored range, so 8-bit is
  unchanged); anything else is min-max stretched over the image's own values.
  MONOCHROME1 is inverted last, so 0 is always black.
- Multi-frame DICOM is rejected with a reason: a training folder should hold one radiograph
  per file, and silently taking frame 0 of a series would hide that.
- Nothing from a DICOM header that identifies a patient ever goes into a message or a
  return value: messages are built from our own text, and scrubbed of identifier values in
  case a library message quotes one.
- Warnings raised while decoding (Pillow's "Corrupt EXIF data" or "Truncated File Read" for a
  broken EXIF block, DecompressionBombWarning for a very large image) never reach stderr
  from the folder loader: `collect_warnings` catches them so that the loader can put them in
  its log and in the skip reasons, next to the file they belong to.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image

from cxrgan.data.decode_dicom import describe_dicom, dicom_gray
from cxrgan.data.decode_pillow import describe_pillow, pillow_gray
from cxrgan.errors import UnreadableImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".dcm", ".dicom"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})

_PREAMBLE_LEN = 132  # 128-byte preamble + b"DICM"


# --- what to try -------------------------------------------------------------------------


def is_image_candidate(path: Path) -> bool:
    """Whether a file looks like an image we should try to decode.

    By suffix; files with no suffix or a numeric one (DICOM exports are often named
    `IM0001` or by UID, `1.2.840.….478`) are sniffed for the 'DICM' preamble: one 132-byte read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return True
    if suffix == "" or suffix[1:].isdigit():
        return path.name.upper() != "DICOMDIR" and _has_dicm_preamble(path)
    return False


def _has_dicm_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(_PREAMBLE_LEN)
    except OSError:
        return False
    return head[128:_PREAMBLE_LEN] == b"DICM"


def _is_dicom(path: Path) -> bool:
    """Content decides (DICM preamble); the suffix only for preamble-less .dcm files."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableImage(f"cannot read file ({exc.strerror or exc})") from exc
    if size == 0:
        raise UnreadableImage("empty file (0 bytes)")
    return path.suffix.lower() in DICOM_SUFFIXES or _has_dicm_preamble(path)


# --- public API --------------------------------------------------------------------------


@contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Catch every warning raised inside the block instead of printing it.

    Yields a list that holds, once the block ends, each distinct warning as one line
    ("UserWarning: Corrupt EXIF data. ..."). pydicom's warnings are dropped before they get
    here (they may quote patient data; see decode_dicom.py)."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield found
        finally:  # also when the block raises: the warnings explain the failure
            for w in caught:
                line = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
                if line not in found:
                    found.append(line)


def read_gray(path: Path, target_size: int | None = None) -> Image.Image:
    """Read `path` as a mode-"L" (8-bit) image, EXIF/TIFF orientation applied, no metadata.

    `target_size` is the final square size the caller will fit to; JPEGs much larger than
    that are decoded at 1/2, 1/4 or 1/8 scale (see `decode_pillow.draft_scale`). Raises
    UnreadableImage ("<path>: <reason>") on any failure, including a truncated file.
    """
    path = Path(path)
    with _unreadable_with_path(path):
        if _is_dicom(path):
            return dicom_gray(path)
        return pillow_gray(path, target_size)


def describe(path: Path) -> dict[str, Any]:
    """Header facts for `cxrgan data inspect`: cheap (no full decode) and free of patient data.

    Keys: format (JPEG/PNG/TIFF/DICOM/...), mode, width, height (as read_gray returns it,
    orientation applied), bit_depth, frames; Pillow formats add exif_orientation (and
    progressive for JPEG); DICOM adds photometric_interpretation, bits_stored,
    bits_allocated, signed, samples_per_pixel, modality, transfer_syntax,
    transfer_syntax_uid, compressed, decodable (a handler is installed), windowing
    (VOI LUT or Window Center/Width present) and rescale (modality LUT or non-identity
    slope/intercept). Raises UnreadableImage for files we cannot even parse.
    """
    path = Path(path)
    with _unreadable_with_path(path):
        if _is_dicom(path):
            return describe_dicom(path)
        return describe_pillow(path)


@contextmanager
def _unreadable_with_path(path: Path) -> Iterator[None]:
    try:
        yield
    except UnreadableImage as exc:
        raise UnreadableImage(f"{path}: {exc}") from exc
