"""Synthetic Secondary Capture DICOM files: every tag a PACS-side tool looks at, the exact
pixels back through pydicom, and cxrgan's own loader reading a folder of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import config
from pydicom.uid import UID, ExplicitVRLittleEndian

from cxrgan.data.decode import read_gray
from cxrgan.data.dicom_write import (
    SECONDARY_CAPTURE,
    SyntheticSeries,
    synthetic_dataset,
    write_synthetic_dicom,
)
from cxrgan.data.folder import load_folder
from cxrgan.errors import CxrganError

CREATED = datetime(2026, 12, 1, 14, 5, 6, 789, tzinfo=UTC)
SOFTWARE = "cxrgan 0.2.0"
# What a real chest X-ray's header carries about a person; none of it may appear.
IDENTIFYING = (
    "PatientBirthTime", "OtherPatientIDs", "OtherPatientNames", "PatientAddress", "PatientAge",
    "PatientWeight", "PatientSize", "InstitutionName", "InstitutionAddress", "OperatorsName",
    "PerformingPhysicianName", "StationName", "DeviceSerialNumber", "IssuerOfPatientID",
)  # fmt: skip


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read back with pydicom raising on any value that breaks its VR's rules."""
    monkeypatch.setattr(config.settings, "reading_validation_mode", config.RAISE)


def _images(n: int, rows: int = 24, cols: int = 32, seed: int = 0) -> np.ndarray:
    images = np.random.default_rng(seed).integers(0, 256, (n, rows, cols), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = 0, 255  # the whole 8-bit range, both ends
    return images


def _write(folder: Path, images: np.ndarray, series: SyntheticSeries) -> list[tuple[Path, str]]:
    out = []
    for i, img in enumerate(images):
        path = folder / f"{i:05d}.dcm"
        out.append((path, write_synthetic_dicom(path, img, series, i + 1, f"seed 7, image {i}")))
    return out


def test_every_file_has_the_secondary_capture_tags_and_its_pixels(tmp_path: Path, strict) -> None:
    images = _images(4)  # 24 rows × 32 columns: rows and columns cannot be swapped unseen
    series = SyntheticSeries.new("PNEUMONIA", 2, CREATED, SOFTWARE)
    written = _write(tmp_path, images, series)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:05d}.dcm" for i in range(4)]
    for i, (path, uid) in enumerate(written):
        raw = path.read_bytes()
        assert raw[:128] == b"\x00" * 128 and raw[128:132] == b"DICM"  # the file format
        ds = pydicom.dcmread(path)  # no force=True: a valid Part 10 file
        meta = ds.file_meta
        assert meta.MediaStorageSOPClassUID == SECONDARY_CAPTURE == ds.SOPClassUID
        assert SECONDARY_CAPTURE == "1.2.840.10008.5.1.4.1.1.7"
        assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == uid
        assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert meta.ImplementationClassUID
        assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
        assert ds.Modality == "OT" and ds.ConversionType == "SYN"
        assert ds.SeriesDescription == "SYNTHETIC cxrgan PNEUMONIA"
        assert ds.StudyDescription.startswith("SYNTHETIC")
        assert "SYNTHETIC" in ds.ImageComments and "PNEUMONIA" in ds.ImageComments
        assert "PNEUMONIA" in ds.DerivationDescription
        assert f"seed 7, image {i}" in ds.DerivationDescription
        assert ds.BurnedInAnnotation == "NO"
        assert ds.PatientName == "SYNTHETIC" and ds.PatientID == "SYNTHETIC"
        assert ds.PatientBirthDate == "" and ds.PatientSex == ""
        assert not [k for k in IDENTIFYING if k in ds]
        assert ds.InstanceNumber == i + 1 and ds.SeriesNumber == 2
        assert ds.StudyDate == ds.SeriesDate == ds.ContentDate == "20261201"
        assert ds.SecondaryCaptureDeviceSoftwareVersions == SOFTWARE
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert (ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (1, 8, 8, 7)
        assert ds.PixelRepresentation == 0
        assert (ds.Rows, ds.Columns) == (24, 32)
        assert "NumberOfFrames" not in ds
        # No window or rescale: the stored bytes are the image, for every reader.
        assert not [k for k in ("WindowCenter", "RescaleSlope", "VOILUTSequence") if k in ds]
        pixels = ds.pixel_array
        assert pixels.dtype == np.uint8
        np.testing.assert_array_equal(pixels, images[i])
        np.testing.assert_array_equal(np.asarray(read_gray(path)), images[i])  # cxrgan's reader


def test_uids_are_fresh_per_file_and_shared_per_series_and_study(tmp_path: Path) -> None:
    normal = SyntheticSeries.new("NORMAL", 1, CREATED, SOFTWARE)
    pneumonia = SyntheticSeries.new("PNEUMONIA", 2, CREATED, SOFTWARE, normal.study_uid)
    other_call = SyntheticSeries.new("NORMAL", 1, CREATED, SOFTWARE)
    files = [
        *_write(tmp_path / "a", _images(3), normal),
        *_write(tmp_path / "b", _images(3), pneumonia),
        *_write(tmp_path / "c", _images(2), other_call),
    ]
    headers = [pydicom.dcmread(path) for path, _ in files]
    sops = [str(ds.SOPInstanceUID) for ds in headers]
    assert len(set(sops)) == len(sops)  # a fresh SOP Instance UID per image
    every_uid = [*sops, *(str(ds.StudyInstanceUID) for ds in headers),
                 *(str(ds.SeriesInstanceUID) for ds in headers)]  # fmt: skip
    assert all(UID(u).is_valid for u in every_uid)
    study = {str(ds.StudyInstanceUID) for ds in headers[:6]}
    assert study == {normal.study_uid}  # one study per generate call
    assert {str(ds.SeriesInstanceUID) for ds in headers[:3]} == {normal.series_uid}
    assert {str(ds.SeriesInstanceUID) for ds in headers[3:6]} == {pneumonia.series_uid}
    assert normal.series_uid != pneumonia.series_uid
    assert other_call.study_uid != normal.study_uid  # another call: another study


def test_cxrgan_loads_a_folder_of_them_with_their_classes(tmp_path: Path) -> None:
    images = {"NORMAL": _images(3, 32, 32, seed=1), "PNEUMONIA": _images(2, 32, 32, seed=2)}
    first = SyntheticSeries.new("NORMAL", 1, CREATED, SOFTWARE)
    for k, (name, imgs) in enumerate(images.items()):
        series = SyntheticSeries.new(name, k + 1, CREATED, SOFTWARE, first.study_uid)
        _write(tmp_path / name, imgs, series)
    data = load_folder(tmp_path, 32, progress=False, workers=1)
    assert data.classes == ["NORMAL", "PNEUMONIA"] and not data.skipped
    assert data.class_counts == {"NORMAL": 3, "PNEUMONIA": 2}
    np.testing.assert_array_equal(data.images, np.concatenate(list(images.values())))


def test_odd_sizes_and_non_ascii_class_names_survive(tmp_path: Path, strict) -> None:
    image = _images(1, 7, 9)[0]  # 63 bytes of pixels: padded to an even length on disk
    series = SyntheticSeries.new("Pneumonie-virale-é", 3, CREATED, SOFTWARE)
    path = tmp_path / "odd.dcm"
    write_synthetic_dicom(path, image, series, 1)
    ds = pydicom.dcmread(path)
    assert ds.SeriesDescription == "SYNTHETIC cxrgan Pneumonie-virale-é"
    assert (ds.Rows, ds.Columns) == (7, 9)
    np.testing.assert_array_equal(ds.pixel_array, image)


def test_an_unconditional_series_names_no_class() -> None:
    series = SyntheticSeries.new("", 1, CREATED, SOFTWARE)
    ds = synthetic_dataset(_images(1)[0], series, 1)
    assert ds.SeriesDescription == "SYNTHETIC cxrgan"
    assert "unconditional" in ds.ImageComments


def test_only_one_gray_uint8_image_is_accepted(tmp_path: Path) -> None:
    series = SyntheticSeries.new("NORMAL", 1, CREATED, SOFTWARE)
    for bad in (np.zeros((8, 8), np.float32), np.zeros((2, 8, 8), np.uint8)):
        with pytest.raises(CxrganError, match="one \\(rows, cols\\) uint8 image"):
            write_synthetic_dicom(tmp_path / "bad.dcm", bad, series, 1)
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(ValueError, match="timezone-aware"):
        SyntheticSeries.new("NORMAL", 1, datetime(2026, 1, 1), SOFTWARE)
