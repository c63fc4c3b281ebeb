"""How to read a label file: its format and, for the generic format, which columns say what.
Plain values, filled from the run's settings (cxrgan/input_settings.py) by the caller."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("auto", "nih", "chexpert", "mimic", "generic")


@dataclass(frozen=True)
class LabelOptions:
    format: str = "auto"  # auto: told by the header (see registry.detect)
    path_column: str = "path"  # generic
    label_column: str = "label"  # generic
    label_separator: str = ""  # generic: several labels in one cell ("" : one label)
    patient_column: str = ""  # generic ("": each file is its own patient)
    view_column: str = ""  # generic ("": no views)
    official_split: str = "auto"  # auto: the official lists beside the file; none; or a path
