"""What a run asks of a label file, as plain values: how to read it (format, columns), the
rule that chooses the classes, and the file itself. Filled from the run's settings
(cxrgan/input_settings.py); light to import, so `cxrgan --help` loads no numpy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("auto", "nih", "chexpert", "mimic", "generic")
MULTI_LABEL = ("drop", "first")
UNCERTAIN = ("zero", "one", "drop")
MIN_CLASS_IMAGES = 8  # fewer images than this in a class after the rules is an error (training)


@dataclass(frozen=True)
class LabelOptions:
    format: str = "auto"  # auto: told by the header (see registry.detect)
    path_column: str = "path"  # generic
    label_column: str = "label"  # generic
    label_separator: str = ""  # generic: several labels in one cell ("" : one label)
    patient_column: str = ""  # generic ("": each file is its own patient)
    view_column: str = ""  # generic ("": no views)
    official_split: str = "auto"  # auto: the official lists beside the file; none; or a path


@dataclass(frozen=True)
class LabelRule:
    """How classes are chosen from the findings (docs/labels.md, rules.py)."""

    classes: tuple[str, ...] = ()  # the findings that are classes (): every finding of the file
    multi_label: str = "drop"  # an image with several chosen findings: drop it, or the first
    uncertain: str = "zero"  # -1.0: a negative (zero), a positive (one), or drop the image
    views: tuple[str, ...] = ()  # views kept, e.g. ("PA", "AP"); (): all but lateral ones


@dataclass(frozen=True)
class LabelRequest:
    file: Path
    options: LabelOptions = field(default_factory=LabelOptions)
    rule: LabelRule = field(default_factory=LabelRule)
    minimum: int = MIN_CLASS_IMAGES  # images a class needs (evaluation's real side: 1)
