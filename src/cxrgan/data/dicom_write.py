"""Synthetic images as DICOM files: Secondary Capture, marked SYNTHETIC, with no patient.

A generated chest X-ray is not an acquisition, so it is written as a Secondary Capture Image
(SOP Class 1.2.840.10008.5.1.4.1.1.7), the IOD DICOM provides for images that no modality
acquired, with Conversion Type SYN ("synthetic image", a defined term of the SC Equipment
module). Choices, explained for users in docs/generate.md:

- Modality OT ("other"), not DX: the DX IOD describes an exposure by an X-ray detector
  (detector, exposure and positioning attributes) that a generator never made, and a viewer
  or PACS that trusts Modality DX would file the image among real radiographs.
- Image Type DERIVED\\SECONDARY; Series Description "SYNTHETIC cxrgan <class>"; Study
  Description and Image Comments say SYNTHETIC too; Burned In Annotation NO.
- No patient identity: Patient's Name and Patient ID are the fixed marker "SYNTHETIC" (empty
  ones are legal but many archives refuse or merge instances without a Patient ID, and the
  marker makes every patient list say what the images are); birth date and sex are empty.
- Fresh UIDs from pydicom's generate_uid: one Study Instance UID per `cxrgan generate` call,
  one Series Instance UID per class within it (a series has one description, and the
  description names the class), a new SOP Instance UID per file.
- Pixels: 8-bit unsigned MONOCHROME2 (0 = black), exactly the uint8 image the generator drew,
  no window and no rescale, so every reader (cxrgan's included) gets those bytes back.
- Explicit VR Little Endian with a complete file meta header (preamble, DICM, group 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path

SECONDARY_CAPTURE = UID("1.2.840.10008.5.1.4.1.1.7")  # Secondary Capture Image Storage
SYNTHETIC = "SYNTHETIC"
MODALITY = "OT"
CONVERSION_TYPE = "SYN"  # PS3.3 C.8.6.1: "Synthetic Image"
_LO_MAX = 64  # Long String: Series/Study Description, Manufacturer
_ST_MAX = 1024  # Short Text: Derivation Description


@dataclass(frozen=True)
class SyntheticSeries:
    """What every file of one series shares: its study, its own UID, its class, when."""

    study_uid: str
    series_uid: str
    series_number: int
    label: str  # the class the series draws ("" for an unconditional generator)
    created: datetime  # timezone-aware; study, series, content and creation date/time
    software: str  # e.g. "cxrgan 0.2.0": manufacturer's model / software versions

    @classmethod
    def new(
        cls,
        label: str,
        series_number: int,
        created: datetime,
        software: str,
        study_uid: str | None = None,
    ) -> SyntheticSeries:
        """A series with a fresh Series Instance UID (and a fresh study unless given one)."""
        if created.tzinfo is None:
            raise ValueError("created must be timezone-aware (its offset is written)")
        return cls(study_uid or generate_uid(), generate_uid(), series_number, label, created,
                   software)  # fmt: skip

    @property
    def description(self) -> str:
        return f"{SYNTHETIC} cxrgan {self.label}".strip()[:_LO_MAX]


def synthetic_dataset(
    pixels: np.ndarray, series: SyntheticSeries, instance_number: int, derivation: str = ""
) -> Dataset:
    """A Secondary Capture dataset (with file meta) holding `pixels`, (rows, cols) uint8.

    derivation: how the image was made (checkpoint, seed, ...), kept in Derivation Description.
    """
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise CxrganError(
            f"a synthetic DICOM holds one (rows, cols) uint8 image, got {pixels.dtype} "
            f"{pixels.shape}"
        )
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.preamble = b"\x00" * 128
    # UTF-8, so any class folder's name can be written.
    ds.SpecificCharacterSet = "ISO_IR 192"
    _sop_common(ds, sop_uid, series)
    _patient(ds)
    _study_and_series(ds, series)
    _equipment(ds, series)
    _image(ds, series, instance_number, derivation)
    # generate_instance_uid=False: the SOP Instance UID above is the one in the file meta.
    ds.set_pixel_data(pixels, "MONOCHROME2", 8, generate_instance_uid=False)
    return ds


def write_synthetic_dicom(
    path: Path,
    pixels: np.ndarray,
    series: SyntheticSeries,
    instance_number: int,
    derivation: str = "",
) -> str:
    """Write `pixels` to `path` as a synthetic Secondary Capture file, atomically (a temporary
    file, then a rename); its SOP Instance UID."""
    ds = synthetic_dataset(pixels, series, instance_number, derivation)
    with atomic_path(Path(path), ".dcm") as tmp:
        # enforce_file_format: preamble, DICM and a validated group-2 header (pydicom >= 3).
        ds.save_as(tmp, enforce_file_format=True)
    return str(ds.SOPInstanceUID)


def _date(when: datetime) -> str:
    return when.strftime("%Y%m%d")


def _time(when: datetime) -> str:
    return when.strftime("%H%M%S.%f")


def _sop_common(ds: Dataset, sop_uid: str, series: SyntheticSeries) -> None:
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = _date(series.created)
    ds.InstanceCreationTime = _time(series.created)
    ds.TimezoneOffsetFromUTC = series.created.strftime("%z")


def _patient(ds: Dataset) -> None:
    # Type 2 elements of the Patient module: present; identity is the marker, nothing else.
    ds.PatientName = SYNTHETIC
    ds.PatientID = SYNTHETIC
    ds.PatientBirthDate = ""
    ds.PatientSex = ""


def _study_and_series(ds: Dataset, series: SyntheticSeries) -> None:
    ds.StudyInstanceUID = series.study_uid
    ds.StudyDate = _date(series.created)
    ds.StudyTime = _time(series.created)
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"{SYNTHETIC} chest X-rays drawn by a GAN (cxrgan)"[:_LO_MAX]
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = series.series_number
    ds.SeriesDate = _date(series.created)
    ds.SeriesTime = _time(series.created)
    ds.SeriesDescription = series.description
    ds.Modality = MODALITY


def _equipment(ds: Dataset, series: SyntheticSeries) -> None:
    ds.Manufacturer = "cxrgan"
    ds.ConversionType = CONVERSION_TYPE
    ds.SecondaryCaptureDeviceManufacturer = "cxrgan"
    ds.SecondaryCaptureDeviceManufacturerModelName = series.software[:_LO_MAX]
    ds.SecondaryCaptureDeviceSoftwareVersions = series.software[:_LO_MAX]
    ds.SoftwareVersions = series.software[:_LO_MAX]


def _image(ds: Dataset, series: SyntheticSeries, instance_number: int, derivation: str) -> None:
    ds.InstanceNumber = instance_number
    ds.ContentDate = _date(series.created)
    ds.ContentTime = _time(series.created)
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""  # Type 2C; a generated image has no known orientation
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    what = f"class {series.label}" if series.label else "unconditional generator"
    ds.ImageComments = f"{SYNTHETIC} image drawn by a GAN, not an image of a patient; {what}"
    ds.DerivationDescription = (
        f"{SYNTHETIC}: drawn by a generative adversarial network (cxrgan); {what}"
        + (f"; {derivation}" if derivation else "")
    )[:_ST_MAX]
