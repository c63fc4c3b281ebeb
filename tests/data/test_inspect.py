"""`inspect_folder`: counts, sizes, DICOM facts, unreadable files, duplicates, contact sheet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import PATIENT_BIRTH_DATE, PATIENT_ID, write_dicom
from image_factory import write_image
from PIL import Image
from pydicom.uid import MPEG2MPML

from cxrgan.data.inspect import format_report, inspect_folder

SECRET_NAME = "Zyxwvutsrq^Inspectpatient"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inspect") / "mixed"
    write_image(root / "NORMAL" / "a.png", 40, 30, seed=1)  # 1.33
    write_image(root / "NORMAL" / "b.png", 90, 30, seed=2)  # 3.0: wider than 2:1
    write_image(root / "NORMAL" / "c.jpg", 30, 40, seed=3)  # 0.75
    write_image(root / "PNEUMONIA" / "d.png", 40, 40, seed=4)  # 1.0
    shutil.copy(root / "NORMAL" / "a.png", root / "PNEUMONIA" / "dup.png")  # same bytes
    ramp = (np.arange(32 * 48, dtype=np.uint16).reshape(32, 48) * 2) % 4096
    write_dicom(
        root / "PNEUMONIA" / "e.dcm",
        ramp,
        bits_stored=12,
        photometric="MONOCHROME1",
        patient_name=SECRET_NAME,
    )  # fmt: skip  (48 x 32: 1.5)
    write_dicom(root / "PNEUMONIA" / "f.dcm", ramp, bits_stored=12, transfer_syntax=MPEG2MPML,
                fake_encapsulated=True, patient_name=SECRET_NAME)  # fmt: skip
    cut = write_image(root / "PNEUMONIA" / "cut.jpg", 64, 64, seed=5)
    cut.write_bytes(cut.read_bytes()[:300])
    (root / "NORMAL" / "empty.png").write_bytes(b"")
    (root / "NORMAL" / "text.png").write_text("hello, I am not a PNG\n" * 10)
    (root / "notes.txt").write_text("scanner notes")
    return root


@pytest.fixture(scope="module")
def report(mixed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    sheet = tmp_path_factory.mktemp("sheet") / "sheet.png"
    return inspect_folder(mixed, image_size=32, workers=1, progress=False, sheet=sheet)


def test_counts_per_class_and_format(report: dict) -> None:
    assert (report["files"], report["images"], report["unreadable"], report["not_images"]) == (
        11, 6, 4, 1)  # fmt: skip
    assert report["classes"] == {"NORMAL": 3, "PNEUMONIA": 3}
    formats = report["formats"]
    assert {k: v["count"] for k, v in formats.items()} == {"PNG": 4, "JPEG": 1, "DICOM": 1}
    assert formats["DICOM"]["modes"] == {"I;16": 1} and formats["DICOM"]["bit_depths"] == {"16": 1}
    assert formats["PNG"]["modes"] == {"L": 4}


def test_sizes_and_aspect_ratios(report: dict) -> None:
    assert report["width"] == {"min": 30, "median": 40, "max": 90}
    assert report["height"] == {"min": 30, "median": 31, "max": 40}
    aspect = report["aspect"]
    assert aspect["min"] == pytest.approx(0.75) and aspect["max"] == pytest.approx(3.0)
    assert aspect["median"] == pytest.approx(4 / 3)
    assert aspect["wider_than_2_1"] == 1 and aspect["wider_than_2_1_share"] == pytest.approx(1 / 6)


def test_dicom_facts(report: dict) -> None:
    d = report["dicom"]
    assert d["count"] == 2 and d["unreadable"] == 1
    assert d["photometric_interpretation"] == {"MONOCHROME1": 1, "MONOCHROME2": 1}
    assert d["bits_stored"] == {"12": 2} and d["bits_allocated"] == {"16": 2}
    assert set(d["transfer_syntax"]) == {"Explicit VR Little Endian", MPEG2MPML.name}


def test_unreadable_files_with_reasons(report: dict) -> None:
    reasons = {u["path"]: u["reason"] for u in report["unreadable_files"]}
    assert sorted(reasons) == ["NORMAL/empty.png", "NORMAL/text.png", "PNEUMONIA/cut.jpg",
                               "PNEUMONIA/f.dcm"]  # fmt: skip
    assert "empty file" in reasons["NORMAL/empty.png"]
    assert "not a recognised image" in reasons["NORMAL/text.png"]
    assert "truncated" in reasons["PNEUMONIA/cut.jpg"]
    assert "transfer syntax" in reasons["PNEUMONIA/f.dcm"]
    assert "not supported" in reasons["PNEUMONIA/f.dcm"]
    assert report["not_image_files"] == ["notes.txt"]


def test_exact_duplicates_across_classes(report: dict) -> None:
    assert [g["paths"] for g in report["duplicates"]] == [["NORMAL/a.png", "PNEUMONIA/dup.png"]]
    assert report["duplicates"][0]["classes"] == ["NORMAL", "PNEUMONIA"]


def test_contact_sheet_shows_preprocessed_images(report: dict, mixed: Path) -> None:
    sheet = Image.open(report["sheet"])
    # 6 readable images at 32 px, enlarged 3x to 96 px tiles, 6 columns, 2 px gaps.
    assert sheet.mode == "L" and sheet.size == (6 * 98 + 2, 98 + 2)
    assert sorted(report["sheet_files"]) == ["NORMAL/a.png", "NORMAL/b.png", "NORMAL/c.jpg",
                                             "PNEUMONIA/d.png", "PNEUMONIA/dup.png",
                                             "PNEUMONIA/e.dcm"]  # fmt: skip
    from cxrgan.data.decode import read_gray
    from cxrgan.data.preprocess import fit_square

    first = fit_square(read_gray(mixed / report["sheet_files"][0], 32), 32, "crop")
    tile = np.asarray(sheet)[2:98:3, 2:98:3]  # every 3rd pixel of the first tile
    np.testing.assert_array_equal(tile, first)


def test_text_report_is_readable_and_has_no_patient_data(report: dict) -> None:
    text = format_report(report)
    assert "classes       NORMAL 3 (50.0 %), PNEUMONIA 3 (50.0 %)" in text
    assert "wider than 2:1: 1 (16.7 %)" in text
    assert "MONOCHROME1 1" in text and "PNEUMONIA/cut.jpg:" in text
    assert "NORMAL/a.png = PNEUMONIA/dup.png  (different classes!)" in text
    dumped = text + json.dumps(report)
    for secret in ("Zyxwvutsrq", "Inspectpatient", PATIENT_ID, PATIENT_BIRTH_DATE):
        assert secret not in dumped


@pytest.mark.shared_data
def test_inspect_real_originals(originals: Path) -> None:
    report = inspect_folder(originals / "chest_xray" / "test", image_size=32, progress=False,
                            sheet=None)  # fmt: skip
    assert report["classes"] == {"NORMAL": 6, "PNEUMONIA": 26}
    assert report["formats"]["JPEG"]["count"] == 32 and report["unreadable"] == 0
    assert report["width"]["max"] > 1000 and report["aspect"]["min"] > 0.5
    assert report["duplicates"] == [] and report["sheet"] is None
    assert len(report["sheet_files"]) == 32


# A zero-byte file whose name would print a fake log line (issue 22, defect 6).
FORGED = "2026-12-07T00:00:00+00:00 completed: all good"
EVIL = f"evil\n{FORGED}.jpeg"


def test_names_with_control_characters_print_escaped_on_one_line(tmp_path, capsys) -> None:
    from cxrgan.cli.main import main

    root = tmp_path / "data"
    write_image(root / "A" / "a.png", 40, 40, seed=1)
    write_image(root / "B\x1b[2J" / "b.png", 40, 40, seed=2)  # an ANSI "clear screen" class
    (root / "A" / EVIL).write_bytes(b"")
    out_json = tmp_path / "inspect.json"
    argv = ["data", "inspect", str(root), "--no-progress", "--json", str(out_json)]
    assert main([*argv, "--sheet", str(tmp_path / "sheet.png")]) == 0
    out = capsys.readouterr().out
    assert not any(line.startswith(FORGED[:10]) for line in out.splitlines()), out
    assert "\x1b" not in out
    assert f"  A/evil\\n{FORGED}.jpeg: empty file (0 bytes)" in out.splitlines()
    assert "classes       A 1 (50.0 %), B\\x1b[2J 1 (50.0 %)" in out.splitlines()
    # The JSON keeps the names as they are (JSON escapes them itself).
    summary = json.loads(out_json.read_text())
    assert summary["unreadable_files"] == [{"path": f"A/{EVIL}", "reason": "empty file (0 bytes)"}]
    assert summary["classes"] == {"A": 1, "B\x1b[2J": 1}
