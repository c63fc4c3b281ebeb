"""A label file read into columns: one row per image, with its path under the data root, its
findings, patient, view and official split. Every format (nih.py, chexpert.py, mimic.py,
generic.py) reads into this one shape; rules.py chooses classes from it.

Columns, not row objects: ChestX-ray14 has 112,120 rows and MIMIC-CXR 377,110, and a
float32 matrix of findings keeps them a few tens of MB.
"""

from __future__ import annotations

import csv
import gzip
import math
import operator
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from cxrgan.errors import CxrganError, printable

POSITIVE, NEGATIVE, UNCERTAIN = 1.0, 0.0, -1.0
BLANK = math.nan  # CheXpert's "not mentioned"; treated as negative by the rules
LATERAL_VIEWS = frozenset({"LATERAL", "LL", "RL", "LAO", "RAO"})
_VALUES = {"1.0": 1.0, "1": 1.0, "0.0": 0.0, "0": 0.0, "-1.0": -1.0, "-1": -1.0, "": BLANK}


@dataclass
class LabelTable:
    """What a label file says about each image, in file order (one entry per data row)."""

    source: Path  # the label file
    format: str
    findings: list[str]  # the finding names, the columns of `values`
    paths: list[str]  # relative to the data root, posix, normalised
    values: np.ndarray  # (rows, findings) float32: 1 positive, 0 negative, -1 uncertain, nan blank
    patients: list[str]
    views: list[str]  # upper case ("PA", "AP", "LATERAL", ...); "" when the file has none
    splits: list[str]  # official split per row ("train", "test", ...); "" when none applies
    lines: list[int]  # line of each row in the file, for messages
    notes: list[str] = field(default_factory=list)  # how paths and splits were resolved

    def __len__(self) -> int:
        return len(self.paths)


def open_text(path: Path) -> TextIO:
    """A label file as text (gzip when it ends in .gz, as MIMIC-CXR ships its CSVs)."""
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
        return path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CxrganError(
            f"cannot read label file {printable(path)} ({exc.strerror or exc})"
        ) from None


def read_header(path: Path) -> list[str]:
    with open_text(path) as f:
        try:
            return [h.strip() for h in next(csv.reader(f))]
        except StopIteration:
            raise CxrganError(f"label file {printable(path)} is empty") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CxrganError(f"label file {printable(path)} is not a CSV file ({exc})") from None


def read_rows(path: Path, needed: list[str]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line number, the `needed` cells in that order, unstripped) for each data row; a
    missing column is one clear error. Tuples, not dicts: a 400,000-row file reads in seconds."""
    with open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CxrganError(f"label file {printable(path)} is empty") from None
        require_columns(path, header, needed)
        pick = operator.itemgetter(*[header.index(name) for name in needed])
        width = len(header)
        single = len(needed) == 1
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                cells = pick(row)
                yield reader.line_num, (cells,) if single else cells
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CxrganError(
                f"label file {printable(path)}: line {reader.line_num} is not CSV ({exc})"
            ) from None


class Observations:
    """Observation cells → floats, one conversion per distinct row pattern (a collection has
    few: most cells are blank)."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns = path, columns
        self.seen: dict[tuple[str, ...], list[float]] = {}

    def __call__(self, cells: tuple[str, ...], line: int) -> list[float]:
        got = self.seen.get(cells)
        if got is None:
            got = [
                value(c.strip(), self.path, line, n)
                for c, n in zip(cells, self.columns, strict=True)
            ]
            self.seen[cells] = got
        return got


def require_columns(path: Path, header: list[str], needed: list[str]) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        raise CxrganError(
            f"label file {printable(path)} has no column {', '.join(map(repr, missing))} "
            f"(its columns: {', '.join(header[:20])})"
        )


def value(text: str, path: Path, line: int, column: str) -> float:
    """An observation cell: 1.0, 0.0, -1.0 (uncertain) or blank."""
    got = _VALUES.get(text)
    if got is not None:
        return got
    try:
        number = float(text)
    except ValueError:
        number = math.inf
    if number not in (1.0, 0.0, -1.0):
        raise CxrganError(
            f"label file {printable(path)}, line {line}: {column} is {text!r}; expected "
            "1.0, 0.0, -1.0 (uncertain) or blank"
        )
    return number


def inside_root(text: str, path: Path, line: int) -> str:
    """A path from a label file, normalised; one that leaves the data root is refused."""
    rel = posixpath.normpath(text.replace("\\", "/"))
    if not text or rel.startswith("/") or rel == ".." or rel.startswith("../") or ":" in rel[:2]:
        raise CxrganError(
            f"label file {printable(path)}, line {line}: path {text!r} is outside the data "
            "root (paths are read relative to --data; see docs/labels-generic.md)"
        )
    return rel


def strip_root_name(paths: list[str], root: Path) -> tuple[list[str], str | None]:
    """Paths that start with the data root's own folder name (CheXpert's
    `CheXpert-v1.0-small/train/...` when --data is CheXpert-v1.0-small) without it."""
    head = root.name + "/"
    if paths and all(p.startswith(head) for p in paths):
        return [p[len(head) :] for p in paths], f"paths start with {head!r}: read under {root}"
    return paths, None


def matrix(rows: list[list[float]], width: int) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(len(rows), width)


def view_of(text: str) -> str:
    return " ".join(text.upper().split())


def one_hot(labels: list[list[str]]) -> tuple[list[str], np.ndarray]:
    """Rows of finding names as (the findings, sorted; a 0/1 matrix, a column each), for the
    formats that list an image's findings instead of giving a column per finding."""
    findings = sorted({x for found in labels for x in found})
    column = {name: i for i, name in enumerate(findings)}
    values = np.zeros((len(labels), len(findings)), dtype=np.float32)
    for i, found in enumerate(labels):
        values[i, [column[x] for x in found]] = 1.0
    return findings, values
