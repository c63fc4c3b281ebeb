"""Label files of each format read into one table, and the rules that choose classes from it,
counted on the small collections of tests/label_sets.py."""

from __future__ import annotations

import time
from pathlib import Path

import label_sets as ls
import numpy as np
import pytest

from cxrgan.data.labels.options import LabelOptions, LabelRule
from cxrgan.data.labels.registry import detect, read_labels
from cxrgan.data.labels.rules import select
from cxrgan.data.labels.table import read_header
from cxrgan.data.scan import scan_files
from cxrgan.errors import CxrganError

THREE = ("No Finding", "Pneumonia", "Cardiomegaly")
GENERIC = LabelOptions(path_column="file", label_column="diagnosis", label_separator=";",
                       patient_column="mrn")  # fmt: skip


def _present(root: Path) -> set[str]:
    return {e.rel for e in scan_files(root)}


@pytest.fixture
def nih(png128, tmp_path):
    root = tmp_path / "nih"
    return root, read_labels(ls.nih(png128, root), root, LabelOptions())


@pytest.fixture
def chexpert(png128, tmp_path):
    csv_file = ls.chexpert(png128, tmp_path / "cx")
    root = tmp_path / "cx" / "CheXpert-v1.0-small"
    return root, read_labels(csv_file, root, LabelOptions())


@pytest.fixture
def mimic(png128, tmp_path):
    root = tmp_path / "mimic"
    return root, read_labels(ls.mimic(png128, root), root, LabelOptions())


def test_the_header_tells_the_format(png128, tmp_path) -> None:
    makers = {"nih": ls.nih, "chexpert": ls.chexpert, "mimic": ls.mimic, "generic": ls.generic}
    files = {name: make(png128, tmp_path / name, n=5) for name, make in makers.items()}
    for name, path in files.items():
        assert detect(read_header(path), GENERIC) == name
    assert detect(["file", "x"], LabelOptions()) is None


def test_nih_columns_paths_patients_views(nih) -> None:
    _, table = nih
    assert table.format == "nih" and len(table) == 60
    assert table.findings == ["Cardiomegaly", "Effusion", "No Finding", "Pneumonia"]
    assert table.paths[:3] == ["images_001/images/00000001_000.png",
                               "images_001/images/00000001_001.png",
                               "images_001/images/00000002_000.png"]  # found by name
    assert table.paths[59].startswith("images_003/")
    assert table.patients[:4] == ["1", "1", "2", "2"]
    assert table.views.count("AP") == 10 and table.views.count("PA") == 50
    both = table.values[3]  # "Pneumonia|Cardiomegaly"
    assert both.tolist() == [1.0, 0.0, 0.0, 1.0]


def test_nih_rules_counts(nih) -> None:
    root, table = nih
    s = select(table, LabelRule(classes=THREE), _present(root))
    assert s.counts() == {"No Finding": 12, "Pneumonia": 12, "Cardiomegaly": 12}
    assert s.dropped == {"duplicate row": 0, "file missing": 0, "view": 0,
                         "no chosen finding": 12, "several chosen findings": 12}  # fmt: skip
    first = select(table, LabelRule(classes=("No Finding", "Cardiomegaly", "Pneumonia"),
                                    multi_label="first"))  # fmt: skip
    assert first.counts() == {"No Finding": 12, "Cardiomegaly": 24, "Pneumonia": 12}
    pa = select(table, LabelRule(classes=THREE, views=("pa",)))
    assert pa.counts() == {"No Finding": 10, "Pneumonia": 10, "Cardiomegaly": 10}
    assert pa.dropped["view"] == 10
    record = pa.record()
    assert record["rule"] == {"classes": list(THREE), "multi_label": "drop", "uncertain": "zero",
                              "views": ["pa"]}  # fmt: skip
    assert record["kept"] == 30 and record["rows"] == 60 and record["patients"] == 22


def test_chexpert_paths_under_the_root_patients_and_laterals(chexpert) -> None:
    root, table = chexpert
    assert table.paths[0] == "train/patient00001/study1/view1_frontal.jpg"  # root name dropped
    assert all(p in _present(root) for p in table.paths)
    assert table.patients[:3] == ["patient00001", "patient00001", "patient00002"]
    assert table.views.count("LATERAL") == 7
    assert np.isnan(table.values[0, 1]) and table.values[3, 7] == -1.0  # blank, uncertain


@pytest.mark.parametrize(("uncertain", "counts", "dropped"), [
    ("zero", {"No Finding": 10, "Pneumonia": 11, "Cardiomegaly": 21},
     {"several chosen findings": 11}),
    ("one", {"No Finding": 10, "Pneumonia": 11, "Cardiomegaly": 10},
     {"several chosen findings": 22}),
    ("drop", {"No Finding": 10, "Pneumonia": 11, "Cardiomegaly": 10},
     {"uncertain": 11, "several chosen findings": 11}),
])  # fmt: skip
def test_uncertain_policies(chexpert, uncertain, counts, dropped) -> None:
    _, table = chexpert
    s = select(table, LabelRule(classes=THREE, uncertain=uncertain))
    assert s.counts() == counts
    assert s.dropped["view"] == 7  # laterals are left out unless asked for
    assert {k: v for k, v in s.dropped.items() if k in dropped} == dropped


def test_views_laterals_only_when_asked(chexpert) -> None:
    _, table = chexpert
    every = select(table, LabelRule(classes=THREE, views=("all",)))
    assert every.dropped["view"] == 0 and len(every.rows) == 48  # 60 less the 12 with both
    frontal = select(table, LabelRule(classes=THREE, views=("PA", "AP")))
    assert len(frontal.rows) == 42 and "LATERAL" not in {table.views[i] for i in frontal.rows}


def test_mimic_join_by_study_and_official_split(mimic) -> None:
    root, table = mimic
    assert table.paths[0] == ("files/p10/p10000001/s50000001/"
                              "00000000-0000abcd-1111ef01-2222aaaa-3333bbbb.jpg")  # fmt: skip
    assert all(p in _present(root) for p in table.paths)
    assert table.patients[:3] == ["10000001", "10000001", "10000002"]
    # both images of a study carry the study's findings
    assert np.array_equal(table.values[0], table.values[1], equal_nan=True)
    assert table.splits.count("test") == 10 and table.splits.count("train") == 50
    none = read_labels(table.source, root, LabelOptions(official_split="none"))
    assert set(none.splits) == {""}


def test_generic_multi_label_and_patients(png128, tmp_path) -> None:
    root = tmp_path / "g"
    table = read_labels(ls.generic(png128, root), root, GENERIC)
    assert table.format == "generic"
    assert table.patients[:4] == ["MRN0000"] * 3 + ["MRN0001"]
    s = select(table, LabelRule(classes=THREE))
    assert s.counts() == {"No Finding": 12, "Pneumonia": 12, "Cardiomegaly": 12}
    one = read_labels(root / "labels.csv", root, LabelOptions(path_column="file",
                                                              label_column="diagnosis"))
    assert "Pneumonia;Cardiomegaly" in one.findings  # no separator: one label a cell
    assert one.patients[0] == "export/IMG_0000.png"  # no patient column: each file its own


def test_missing_files_and_repeated_rows_are_dropped_and_counted(nih) -> None:
    root, table = nih
    (root / table.paths[0]).unlink()
    table.paths[2] = table.paths[1]
    s = select(table, LabelRule(classes=THREE), _present(root))
    assert s.dropped["file missing"] == 1 and s.dropped["duplicate row"] == 1


def test_bad_label_files_one_clear_line(png128, tmp_path, nih) -> None:
    root, table = nih
    bad = tmp_path / "bad.csv"
    bad.write_text("Image Index,Finding Labels,View Position\nx.png,Pneumonia,PA\n")
    with pytest.raises(CxrganError, match="has no column 'Patient ID'"):
        read_labels(bad, root, LabelOptions())
    bad.write_text("name,finding\nx.png,Pneumonia\n")
    with pytest.raises(CxrganError, match=r"cannot tell the format .* --labels-format"):
        read_labels(bad, root, LabelOptions())
    with pytest.raises(CxrganError, match="unknown label format 'dicom'"):
        read_labels(bad, root, LabelOptions(format="dicom"))
    bad.write_text("path,label\n../outside.png,Pneumonia\n")
    with pytest.raises(CxrganError, match=r"line 2: path '\.\./outside.png' is outside the data"):
        read_labels(bad, root, LabelOptions())
    with pytest.raises(CxrganError, match="no image left after the rules"):
        select(table, LabelRule(classes=("Effusion",), views=("LATERAL",)))
    with pytest.raises(CxrganError, match=r"class 'No Finding' has 2 image\(s\) .* minimum of 8"):
        select(table, LabelRule(classes=THREE, views=("AP",)))
    with pytest.raises(CxrganError, match="'Fibrosis' not a finding"):
        select(table, LabelRule(classes=("Fibrosis",)))
    cx = ls.chexpert(png128, tmp_path / "cx", n=3)
    cx.write_text(cx.read_text().replace(",1.0", ",2.0", 1))
    with pytest.raises(CxrganError, match=r"No Finding is '2\.0'; expected 1\.0, 0\.0, -1\.0"):
        read_labels(cx, tmp_path / "cx", LabelOptions())


ROWS = 100_000


def test_a_large_file_parses_in_seconds(tmp_path) -> None:
    """100,000 CheXpert-style rows read and selected in a few seconds (no pixels read; 400,000
    took 5 s on a shared 2-core machine)."""
    header = ",".join(["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *ls.CHEXPERT_OBS])
    cells = ["1.0", "", "0.0", "-1.0", "", "", "", "1.0", "", "", "", "", "", "1.0"]
    lines = [header] + [f"train/patient{i // 3:05d}/study{i % 3}/view1_frontal.jpg,F,50,Frontal,PA,"
                        + ",".join(cells[(i + k) % 14] for k in range(14)) for i in range(ROWS)]
    path = tmp_path / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    table = read_labels(path, tmp_path, LabelOptions())
    s = select(table, LabelRule(classes=THREE, multi_label="first"))
    seconds = time.perf_counter() - start
    # row i holds cells rotated by i: a chosen finding (columns 0, 2, 7) is 1.0 for 7 of 14
    wanted = sum(any((i + k) % 14 in (0, 7, 13) for k in (0, 2, 7)) for i in range(ROWS))
    assert len(table) == ROWS and len(s.rows) == wanted == 49_999
    assert seconds < 10, seconds
