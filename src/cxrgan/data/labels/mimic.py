"""MIMIC-CXR-JPG: mimic-cxr-2.0.0-metadata.csv joined with mimic-cxr-2.0.0-chexpert.csv by
study, and mimic-cxr-2.0.0-split.csv (docs/labels-mimic.md).

--labels names the metadata CSV (`dicom_id`, `subject_id`, `study_id`, `ViewPosition`); the
chexpert CSV (`subject_id`, `study_id` and the 14 CheXpert observations) and the split CSV
(`dicom_id`, `split`) are found beside it under their official names, plain or .gz
(--official-split names another split CSV, or none). The file of each image is
files/pNN/pSUBJECT/sSTUDY/DICOM_ID.jpg under --data (pNN: the subject id's first two digits;
when --data is the files/ folder itself, without files/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxrgan.data.labels.chexpert import OBSERVATIONS
from cxrgan.data.labels.options import LabelOptions
from cxrgan.data.labels.table import (
    LabelTable,
    Observations,
    read_rows,
    strip_root_name,
    view_of,
)
from cxrgan.errors import CxrganError, printable

COLUMNS = ["dicom_id", "subject_id", "study_id", "ViewPosition"]
CHEXPERT = "mimic-cxr-2.0.0-chexpert.csv"
SPLIT = "mimic-cxr-2.0.0-split.csv"
Study = tuple[str, str]  # (subject_id, study_id)


def matches(header: list[str]) -> bool:
    return {"dicom_id", "subject_id", "study_id"} <= set(header) and "ViewPosition" in header


def read(path: Path, root: Path, options: LabelOptions) -> LabelTable:
    studies = _studies(_beside(path, CHEXPERT, required=True))
    paths, rows, patients, views, lines, dicoms = [], [], [], [], [], []
    blank = [float("nan")] * len(OBSERVATIONS)
    for line, row in read_rows(path, COLUMNS):
        dicom, subject, study = (x.strip() for x in row[:3])
        if not (subject.isdigit() and study.isdigit() and dicom.replace("-", "").isalnum()):
            raise CxrganError(
                f"label file {printable(path)}, line {line}: dicom_id, subject_id and study_id "
                f"must be ids, got {dicom!r}, {subject!r}, {study!r}"
            )
        paths.append(f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg")
        rows.append(studies.get((subject, study), blank))
        patients.append(subject)
        views.append(view_of(row[3]))
        lines.append(line)
        dicoms.append(dicom)
    paths, note = strip_root_name(paths, root)
    splits, split_note = _splits(path, dicoms, options.official_split)
    notes = [n for n in (note, split_note) if n]
    values = np.array(rows, dtype=np.float32).reshape(len(rows), len(OBSERVATIONS))
    return LabelTable(path, "mimic", list(OBSERVATIONS), paths, values, patients, views, splits,
                      lines, notes)  # fmt: skip


def _beside(path: Path, name: str, required: bool) -> Path | None:
    for candidate in (path.parent / name, path.parent / (name + ".gz")):
        if candidate.is_file():
            return candidate
    if required:
        raise CxrganError(
            f"MIMIC-CXR labels: {name} (or .gz) not found beside {printable(path)}; it holds "
            "the findings of each study (see docs/labels-mimic.md)"
        )
    return None


def _studies(path: Path | None) -> dict[Study, list[float]]:
    assert path is not None
    out: dict[Study, list[float]] = {}
    observed = Observations(path, OBSERVATIONS)
    for line, row in read_rows(path, ["subject_id", "study_id", *OBSERVATIONS]):
        out[(row[0].strip(), row[1].strip())] = observed(row[2:], line)
    return out


def _splits(path: Path, dicoms: list[str], given: str) -> tuple[list[str], str | None]:
    if given == "none":
        return [""] * len(dicoms), None
    split = _beside(path, SPLIT, required=False) if given == "auto" else Path(given).expanduser()
    if split is None:
        return [""] * len(dicoms), None
    if not split.is_file():
        raise CxrganError(f"--official-split {printable(given)}: no such file")
    side = {d.strip(): s.strip() for _, (d, s) in read_rows(split, ["dicom_id", "split"])}
    return [side.get(d, "") for d in dicoms], f"official split: {split}"
