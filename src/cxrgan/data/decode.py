"""Decode one image file into an 8-bit grayscale PIL image: the single entry point for formats.

Formats: JPEG (baseline or progressive; L, RGB, CMYK), PNG (8- or 16-bit), TIFF and DICOM
(through pydicom). The decisions below are explained for users in docs/data-formats.md:

- 16-bit PNG/TIFF: scaled linearly, never clipped and never min-max stretched. The scale is
  the smallest power-of-two range (at least 8 bits) that holds the image's maximum, so a
  full-range image maps 65535 → 255 and 10/12-bit data kept in a 16-bit container is not
  left nearly black. 0 stays black.
- DICOM: Modality LUT or Rescale Slope/Intercept first, then the first VOI LUT or Window
  Center/Width, whose output range maps to 0..255. Without a window: unsigned data of at
  most 8 bits is a display image (scaled by its Bits Stored range, so 8-bit is unchanged);
  anything else is min-max stretched over the image's own values.
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

import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    get_decoder,
)
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from cxrgan.errors import UnreadableImage

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".dcm", ".dicom"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})

# JPEG draft decoding keeps the decoded shorter side at least this many times the target,
# so the LANCZOS resize that follows still shrinks by >= 2x and antialiases properly.
DRAFT_MARGIN = 2
_DRAFT_SCALES = (8, 4, 2)  # what libjpeg's DCT scaling offers

_PREAMBLE_LEN = 132  # 128-byte preamble + b"DICM"
_WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}
_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError)
# Patient module and other identifying elements: their values are scrubbed from messages.
_IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "AccessionNumber",
    "StudyID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "InstitutionName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "DeviceSerialNumber",
)


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
    here (they may quote patient data; see `_quiet_pydicom`)."""
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
    that are decoded at 1/2, 1/4 or 1/8 scale (see `draft_scale`). Raises UnreadableImage
    ("<path>: <reason>") on any failure, including a truncated file.
    """
    path = Path(path)
    with _unreadable_with_path(path):
        if _is_dicom(path):
            with _quiet_pydicom():
                return _dicom_gray(_read_dicom(path))
        return _pillow_gray(path, target_size)


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
            with _quiet_pydicom():
                return _describe_dicom(_read_dicom(path, defer=True))
        return _describe_pillow(path)


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


@contextmanager
def _unreadable_with_path(path: Path) -> Iterator[None]:
    try:
        yield
    except UnreadableImage as exc:
        raise UnreadableImage(f"{path}: {exc}") from exc


# --- JPEG / PNG / TIFF (Pillow) ----------------------------------------------------------


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


def _pillow_gray(path: Path, target_size: int | None) -> Image.Image:
    with _open_pillow(path) as img:
        stored_size = img.size
        scale = _request_draft(img, target_size) if target_size and img.format == "JPEG" else 1
        img.load()  # decode everything now: a truncated file must fail here, not pass half-gray
        upright = ImageOps.exif_transpose(_true_extent(img, stored_size, scale))
    gray = _to_gray8(upright)
    gray.info = {}  # no EXIF, comments or ICC profiles travel further
    return gray


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
        return Image.fromarray(_wide_to_uint8(np.asarray(img)))
    return img.convert("L")  # L, P, RGB(A), CMYK, LA, 1: Pillow's ITU-R 601 luma


def _wide_to_uint8(arr: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit int / float) gray → uint8 by scaling, never by clipping."""
    if np.issubdtype(arr.dtype, np.integer) and arr.size and arr.min() >= 0 and arr.max() < 2**16:
        bits = max(8, int(arr.max()).bit_length())
        return _scale_to_uint8(arr, 0.0, float(2**bits - 1))
    return _scale_to_uint8(arr, float(arr.min()), float(arr.max()))  # no natural range


def _scale_to_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map lo..hi linearly onto 0..255 (rounded); a constant image becomes 0."""
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (np.asarray(arr, dtype=np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _orientation(img: Image.Image) -> int:
    # A PNG whose eXIf chunk is not before the pixel data would need a full decode to find
    # it: describe() stays cheap and reports 1 then (read_gray still honours it).
    if img.format == "PNG" and "exif" not in img.info:
        return 1
    return int(img.getexif().get(274, 1) or 1)


def _describe_pillow(path: Path) -> dict[str, Any]:
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


# --- DICOM (pydicom) ---------------------------------------------------------------------


@contextmanager
def _quiet_pydicom() -> Iterator[None]:
    # pydicom's validation warnings quote element values ("Invalid value for VR DA: '...'"),
    # patient data included, and warnings end up in logs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _read_dicom(path: Path, defer: bool = False) -> Dataset:
    try:
        # force: accept .dcm files without the preamble/file meta; defer: leave the pixel
        # data on disk when we only want the header.
        return pydicom.dcmread(path, force=True, defer_size="64 KB" if defer else None)
    except Exception as exc:  # any library error: it could quote header bytes
        # Our own words only, and no chained cause.
        raise UnreadableImage(f"not a readable DICOM file ({type(exc).__name__})") from None


def _dicom_gray(ds: Dataset) -> Image.Image:
    _check_has_pixels(ds)
    _check_single_frame(ds)
    ts = _transfer_syntax(ds)
    _check_decodable(ts)
    with _scrubbed(ds, f"cannot decode or window DICOM pixel data ({_ts_label(ts)})"):
        arr = ds.pixel_array  # YBR is converted to RGB by pydicom
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        if photometric in ("MONOCHROME1", "MONOCHROME2"):
            gray = _monochrome_to_uint8(arr, ds, invert=photometric == "MONOCHROME1")
        elif photometric == "PALETTE COLOR":
            gray = _rgb_to_gray(apply_color_lut(arr, ds))
        elif arr.ndim == 3 and arr.shape[-1] == 3:
            gray = _rgb_to_gray(arr)
        else:
            raise UnreadableImage(f"unsupported DICOM photometric interpretation {photometric!r}")
    return Image.fromarray(gray)


def _check_has_pixels(ds: Dataset) -> None:
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise UnreadableImage("DICOM file has no pixel data (e.g. a report or DICOMDIR)")


def _check_single_frame(ds: Dataset) -> None:
    frames = _frames(ds)
    if frames > 1:
        raise UnreadableImage(
            f"multi-frame DICOM ({frames} frames) is not supported: expected one radiograph"
        )


def _frames(ds: Dataset) -> int:
    try:
        return int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return 1


def _transfer_syntax(ds: Dataset) -> UID:
    ts = getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID")
    if ts is None:
        # A bare dataset without file meta: use the encoding pydicom found when reading it.
        implicit, little = getattr(ds, "original_encoding", (True, True))
        ts = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        if not little:
            ts = ExplicitVRBigEndian
        ds.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ts
    return UID(str(ts))


def _ts_label(ts: UID) -> str:
    name = ts.name
    return f"{name} ({ts})" if name != str(ts) else str(ts)


def _decoder_available(ts: UID) -> bool | None:
    """True/False: a pydicom decoder exists and is / is not usable; None: none exists."""
    try:
        return bool(get_decoder(ts).is_available)
    except NotImplementedError:
        return None


def _check_decodable(ts: UID) -> None:
    available = _decoder_available(ts)
    if available is None:
        raise UnreadableImage(
            f"DICOM transfer syntax {_ts_label(ts)} is not supported (no decoder exists)"
        )
    if not available:
        raise UnreadableImage(
            f"DICOM transfer syntax {_ts_label(ts)} needs a decoder that is not installed "
            "(pip install 'cxrgan[dicom-codecs]')"
        )


def _monochrome_to_uint8(arr: np.ndarray, ds: Dataset, invert: bool) -> np.ndarray:
    if _has_voi_lut(ds) or _has_window(ds):
        gray = _windowed(apply_modality_lut(arr, ds), ds)
    elif _is_plain_8bit(ds):  # already a display image: 8 bits as stored, 1-7 bits scaled
        gray = _scale_to_uint8(arr, 0.0, float(2 ** int(ds.BitsStored) - 1))
    else:
        values = apply_modality_lut(arr, ds)
        gray = _scale_to_uint8(values, float(values.min()), float(values.max()))
    return 255 - gray if invert else gray


def _windowed(values: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply the first VOI LUT (preferred, as pydicom does) or window, output range → 0..255."""
    if _has_voi_lut(ds):
        apply: Callable[[np.ndarray, Dataset], np.ndarray] = apply_voi
        values = np.rint(values).astype(np.int64)  # a LUT is indexed by integers
        first, count = _lut_domain(ds)
        probe = np.arange(first, first + count)  # every LUT entry: its min and max
    else:
        apply = apply_windowing
        probe = np.array([-np.inf, np.inf])  # pydicom's own output floor and ceiling
    out_range = apply(probe, ds)
    return _scale_to_uint8(apply(values, ds), float(out_range.min()), float(out_range.max()))


def _lut_domain(ds: Dataset) -> tuple[int, int]:
    entries, first, _bits = ds.VOILUTSequence[0].LUTDescriptor
    return int(first), int(entries or 2**16)


def _has_voi_lut(ds: Dataset) -> bool:
    seq = ds.get("VOILUTSequence")
    return bool(seq) and "LUTDescriptor" in seq[0] and "LUTData" in seq[0]


def _has_window(ds: Dataset) -> bool:
    return ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None


def _has_rescale(ds: Dataset) -> bool:
    if ds.get("ModalityLUTSequence"):
        return True
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    return (slope is not None and float(slope) != 1.0) or (
        intercept is not None and float(intercept) != 0.0
    )


def _is_plain_8bit(ds: Dataset) -> bool:
    return (
        int(ds.get("BitsStored", 16)) <= 8
        and int(ds.get("PixelRepresentation", 0)) == 0
        and not _has_rescale(ds)
    )


def _rgb_to_gray(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype != np.uint8:
        rgb = _scale_to_uint8(rgb, 0.0, float(np.iinfo(rgb.dtype).max))
    return np.asarray(Image.fromarray(rgb, "RGB").convert("L"))


def _describe_dicom(ds: Dataset) -> dict[str, Any]:
    _check_has_pixels(ds)
    with _scrubbed(ds, "unreadable DICOM header"):
        ts = _transfer_syntax(ds)
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        bits_allocated = int(ds.get("BitsAllocated", 0))
        samples = int(ds.get("SamplesPerPixel", 1))
        return {
            "format": "DICOM",
            "mode": _dicom_mode(photometric, samples, bits_allocated),
            "width": int(ds.get("Columns", 0)),
            "height": int(ds.get("Rows", 0)),
            "bit_depth": bits_allocated,
            "frames": _frames(ds),
            "photometric_interpretation": photometric,
            "bits_stored": int(ds.get("BitsStored", bits_allocated)),
            "bits_allocated": bits_allocated,
            "signed": int(ds.get("PixelRepresentation", 0)) == 1,
            "samples_per_pixel": samples,
            "modality": str(ds.get("Modality", "")),
            "transfer_syntax": ts.name,
            "transfer_syntax_uid": str(ts),
            "compressed": bool(ts.is_compressed),
            "decodable": bool(_decoder_available(ts)),
            "windowing": _has_voi_lut(ds) or _has_window(ds),
            "rescale": _has_rescale(ds),
        }


def _dicom_mode(photometric: str, samples: int, bits_allocated: int) -> str:
    """The Pillow-style mode of the stored pixels (before read_gray maps them to L)."""
    if photometric == "PALETTE COLOR":
        return "P"
    if samples == 3:
        return "RGB"
    return "L" if bits_allocated <= 8 else "I;16"


@contextmanager
def _scrubbed(ds: Dataset, what: str) -> Iterator[None]:
    """Turn library errors into UnreadableImage, with identifier values blanked out."""
    try:
        yield
    except UnreadableImage as exc:
        raise UnreadableImage(_scrub(str(exc), ds)) from None
    except Exception as exc:  # whatever the library raises, its text is scrubbed here
        raise UnreadableImage(_scrub(f"{what}: {exc}", ds)) from None


def _scrub(text: str, ds: Dataset) -> str:
    for value in _identifier_values(ds):
        text = text.replace(value, "***")
    return text


def _identifier_values(ds: Dataset) -> list[str]:
    values: list[str] = []
    for keyword in _IDENTIFYING_KEYWORDS:
        elem = ds.get(keyword)
        if elem is None:
            continue
        items = elem if isinstance(elem, list | tuple | MultiValue) else [elem]
        for item in items:
            text = str(item).strip()
            values.extend(v for v in {text, *text.split("^")} if len(v.strip()) >= 3)
    return sorted(set(values), key=len, reverse=True)  # longest first: no partial leftovers
