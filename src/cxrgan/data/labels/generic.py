"""Any CSV with a path column and a label column (docs/labels-generic.md): a hospital export,
or the train.csv / heldout.csv that `cxrgan data split --labels` writes.

Columns read: --path-column (a path under --data), --label-column (one label, or several
separated by --label-separator), and --patient-column and --view-column where named, else the
columns `patient` and `view` where the file has them. Without a patient column each file is
its own patient.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cxrgan.data.labels.options import LabelOptions
from cxrgan.data.labels.table import (
    LabelTable,
    inside_root,
    one_hot,
    read_header,
    read_rows,
    view_of,
)


def matches(header: list[str], options: LabelOptions) -> bool:
    return options.path_column in header and options.label_column in header


def read(path: Path, root: Path, options: LabelOptions) -> LabelTable:
    header = read_header(path)
    o = options
    patient = o.patient_column or ("patient" if "patient" in header else "")
    view = o.view_column or ("view" if "view" in header else "")
    o = dataclasses.replace(o, patient_column=patient, view_column=view)
    needed = [o.path_column, o.label_column, o.patient_column or o.path_column,
              o.view_column or o.path_column]  # fmt: skip
    paths, labels, patients, views, lines = [], [], [], [], []
    for line, (where, cell, patient, view) in read_rows(path, needed):
        rel = inside_root(where.strip(), path, line)
        paths.append(rel)
        parts = cell.split(o.label_separator) if o.label_separator else [cell]
        labels.append([x.strip() for x in parts if x.strip()])
        patients.append(patient.strip() if o.patient_column else rel)
        views.append(view_of(view) if o.view_column else "")
        lines.append(line)
    findings, values = one_hot(labels)
    splits = [""] * len(paths)
    return LabelTable(path, "generic", findings, paths, values, patients, views, splits, lines)
