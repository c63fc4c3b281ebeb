"""Build small DICOM files with pydicom, for tests.

Import it from any test under tests/ as `from dicom_factory import write_dicom`: pytest's
default ("prepend") import mode puts tests/ on sys.path when it loads tests/conftest.py.

    write_dicom(tmp_path / "a.dcm", np.full((32, 48), 1000, np.uint16), bits_stored=12,
                window=(1024, 2048), photometric="MONOCHROME1")

Every file carries made-up patient data (name, id, birth date) so privacy tests can check
that it never leaks; pass `patient_name=` to choose a distinctive one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)

__all__ = ["PATIENT_BIRTH_DATE", "PATIENT_ID", "PATIENT_NAME", "write_dicom"]

PATIENT_NAME = "Testperson^Dicomfactory"
PATIENT_ID = "DF-PID-000042"
PATIENT_BIRTH_DATE = "19120623"


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    slope: float = 1.0,
    intercept: float = 0.0,
    window: tuple[float, float] | None = None,
    voi_lut_function: str | None = None,
    voi_lut: tuple[int, np.ndarray] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    patient_name: str = PATIENT_NAME,
    patient_id: str = PATIENT_ID,
    birth_date: str = PATIENT_BIRTH_DATE,
    preamble: bool = True,
    with_pixels: bool = True,
    fake_encapsulated: bool = False,
) -> Path:
    """Write a DX (digital X-ray) DICOM file holding `pixels` and return `path`.

    pixels: uint8, uint16 or int16; (rows, cols) gray, (frames, rows, cols) multi-frame or
        (rows, cols, 3) with photometric="RGB".
    bits_stored: defaults to the dtype's full width (8 or 16).
    slope, intercept: written as Rescale Slope/Intercept unless they are 1 and 0.
    window: (center, width) written as Window Center/Width; voi_lut_function optional.
    voi_lut: (first_mapped_value, uint16 table) written as a one-item VOI LUT Sequence.
    transfer_syntax: a compressed one is encoded with pydicom's encoders (RLE Lossless always
        works; JPEG-LS / JPEG 2000 need the optional codecs), unless `fake_encapsulated`,
        which wraps the raw bytes in an encapsulated frame: undecodable on purpose, for
        testing what happens with syntaxes no installed handler supports.
    preamble: False writes a bare dataset (no preamble, no file meta), like some old exports.
    with_pixels: False leaves out Pixel Data entirely.
    """
    pixels = np.ascontiguousarray(pixels)
    ds = _base_dataset(patient_name, patient_id, birth_date)
    ds.set_pixel_data(pixels, photometric, bits_stored or pixels.dtype.itemsize * 8)
    _set_rescale_and_window(ds, slope, intercept, window, voi_lut_function)
    if voi_lut is not None:
        _set_voi_lut(ds, *voi_lut)
    _encode(ds, UID(transfer_syntax), fake_encapsulated)
    if not with_pixels:
        del ds.PixelData
    path = Path(path)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        ds.file_meta = FileMetaDataset()
        ds.preamble = None
        pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=True)
    return path


def _base_dataset(patient_name: str, patient_id: str, birth_date: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = "O"
    ds.StudyDate = "20240102"
    ds.AccessionNumber = "ACC-DF-777"
    ds.InstitutionName = "Dicomfactory General Hospital"
    return ds


def _set_rescale_and_window(
    ds: Dataset,
    slope: float,
    intercept: float,
    window: tuple[float, float] | None,
    voi_lut_function: str | None,
) -> None:
    if slope != 1.0 or intercept != 0.0:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.RescaleType = "US"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if voi_lut_function is not None:
        ds.VOILUTFunction = voi_lut_function


def _set_voi_lut(ds: Dataset, first_mapped: int, table: np.ndarray) -> None:
    item = Dataset()
    # VR given explicitly: both are ambiguous (US/SS, US/OW) in the dictionary.
    item.add_new("LUTDescriptor", "US", [len(table) % 2**16, first_mapped, 16])  # 0 = 65536
    item.add_new("LUTData", "US", [int(v) for v in np.asarray(table, dtype=np.uint16)])
    ds.VOILUTSequence = [item]


def _encode(ds: Dataset, transfer_syntax: UID, fake_encapsulated: bool) -> None:
    if not transfer_syntax.is_compressed:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        return
    if fake_encapsulated:
        ds.PixelData = encapsulate([bytes(ds.PixelData)])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        return
    ds.compress(transfer_syntax, generate_instance_uid=False)
