"""CheXpert: train.csv / valid.csv (docs/labels-chexpert.md).

Columns read: `Path` (e.g. CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg),
`Frontal/Lateral`, `AP/PA` and the 14 observations below, each 1.0, 0.0, -1.0 (uncertain) or
blank. The patient is the `patientNNNNN` folder of the path. Paths are read under --data; when
they all begin with --data's own folder name (--data is CheXpert-v1.0-small), that first
folder is dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from cxrgan.data.labels.options import LabelOptions
from cxrgan.data.labels.table import (
    LabelTable,
    Observations,
    inside_root,
    matrix,
    read_rows,
    strip_root_name,
    view_of,
)

OBSERVATIONS = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
]  # fmt: skip
COLUMNS = ["Path", "Frontal/Lateral", "AP/PA", *OBSERVATIONS]
_PATIENT = re.compile(r"(?:^|/)(patient\d+)(?:/|$)")


def matches(header: list[str]) -> bool:
    return "Path" in header and "Frontal/Lateral" in header


def read(path: Path, root: Path, options: LabelOptions) -> LabelTable:
    paths, rows, patients, views, lines = [], [], [], [], []
    observed = Observations(path, OBSERVATIONS)
    for line, row in read_rows(path, COLUMNS):
        rel = inside_root(row[0], path, line)
        paths.append(rel)
        rows.append(observed(row[3:], line))
        found = _PATIENT.search(rel)
        patients.append(found.group(1) if found else rel)
        lateral = row[1].strip().lower() == "lateral"
        views.append("LATERAL" if lateral else view_of(row[2]) or "FRONTAL")
        lines.append(line)
    paths, note = strip_root_name(paths, root)
    values = matrix(rows, len(OBSERVATIONS))
    splits = [""] * len(paths)  # the file itself is the split: train.csv or valid.csv
    return LabelTable(path, "chexpert", list(OBSERVATIONS), paths, values, patients, views,
                      splits, lines, [note] if note else [])  # fmt: skip
