"""DICOM through pydicom: an 8-bit gray image, or header facts, and never any patient data.

- Modality LUT or Rescale Slope/Intercept first, then the first VOI LUT or Window
  Center/Width, whose output range maps to 0..255. Without a window: unsigned data of at
  most 8 bits is a display image (scaled by its Bits Stored range, so 8-bit is unchanged);
  anything else is min-max stretched over the image's own values. MONOCHROME1 is inverted
  last, so 0 is always black.
- Multi-frame DICOM is rejected with a reason (one radiograph per file).
- Nothing from a header that identifies a patient goes into a message or a return value:
  messages are built from our own text, and scrubbed of identifier values in case a library
  message quotes one; pydicom's warnings, which may quote element values, are dropped.

docs/data-formats.md explains these choices to users; decode.py is the entry point.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
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

from cxrgan.data.gray_levels import rgb_to_gray, scale_to_uint8
from cxrgan.errors import UnreadableImage

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


def dicom_gray(path: Path) -> Image.Image:
    """The DICOM file at `path` as a mode-"L" image (see decode.read_gray)."""
    with _quiet_pydicom():
        return _dicom_gray(_read_dicom(path))


def describe_dicom(path: Path) -> dict[str, Any]:
    """Header facts, pixel data left on disk (see decode.describe for the keys)."""
    with _quiet_pydicom():
        return _describe_dicom(_read_dicom(path, defer=True))


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
            gray = rgb_to_gray(apply_color_lut(arr, ds))
        elif arr.ndim == 3 and arr.shape[-1] == 3:
            gray = rgb_to_gray(arr)
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
            "(pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg: the dicom-codecs extra)"
        )


def _monochrome_to_uint8(arr: np.ndarray, ds: Dataset, invert: bool) -> np.ndarray:
    if _has_voi_lut(ds) or _has_window(ds):
        gray = _windowed(apply_modality_lut(arr, ds), ds)
    elif _is_plain_8bit(ds):  # already a display image: 8 bits as stored, 1-7 bits scaled
        gray = scale_to_uint8(arr, 0.0, float(2 ** int(ds.BitsStored) - 1))
    else:
        values = apply_modality_lut(arr, ds)
        gray = scale_to_uint8(values, float(values.min()), float(values.max()))
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
    return scale_to_uint8(apply(values, ds), float(out_range.min()), float(out_range.max()))


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
