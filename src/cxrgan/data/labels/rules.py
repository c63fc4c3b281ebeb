"""Choosing classes from a multi-label file (docs/labels.md): each class is one finding; the
rules say what happens to views, uncertain labels and images with several chosen findings, and
count what each removed. Vectorised over the findings matrix: 400,000 rows take well under a
second."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cxrgan.data.labels.options import MIN_CLASS_IMAGES, LabelRule
from cxrgan.data.labels.table import LATERAL_VIEWS, LabelTable
from cxrgan.errors import CxrganError, printable


@dataclass
class Selection:
    """The rows a rule kept: one per image, each with its class."""

    table: LabelTable
    rule: LabelRule
    rows: np.ndarray  # (n,) indices into the table
    classes: list[str]
    labels: np.ndarray  # (n,) index into `classes`
    dropped: dict[str, int] = field(default_factory=dict)  # why rows left, how many

    @property
    def paths(self) -> list[str]:
        return [self.table.paths[i] for i in self.rows]

    @property
    def patients(self) -> list[str]:
        return [self.table.patients[i] for i in self.rows]

    def class_of(self) -> dict[str, str]:
        """Path → class name."""
        pairs = zip(self.rows, self.labels, strict=True)
        return {self.table.paths[r]: self.classes[c] for r, c in pairs}

    def counts(self) -> dict[str, int]:
        found = Counter(int(i) for i in self.labels)
        return {name: found.get(i, 0) for i, name in enumerate(self.classes)}

    def record(self) -> dict[str, Any]:
        """The rule and the counts it produced, as config.json and `data inspect` show them."""
        rule = asdict(self.rule)
        rule["classes"] = list(self.classes)
        rule["views"] = list(self.rule.views) or "all but lateral"
        return {"file": str(self.table.source), "format": self.table.format, "rule": rule,
                "rows": len(self.table), "kept": len(self.rows), "dropped": self.dropped,
                "classes": self.counts(), "patients": len(set(self.patients)),
                "notes": self.table.notes}  # fmt: skip


def select(
    table: LabelTable,
    rule: LabelRule,
    present: Collection[str] | None = None,
    check: bool = True,
    minimum: int = MIN_CLASS_IMAGES,
) -> Selection:
    """The images `rule` keeps, each with its class; `present`: the files that exist (the
    others are dropped and counted). With `check`, errors when nothing is left or a class is
    has fewer than `minimum` images (see `problem`)."""
    cols = _columns(table, rule.classes)
    keep = _first_of_each_path(table)
    dropped = {"duplicate row": int(len(table) - keep.sum())}
    if present is not None:
        there = np.fromiter((p in present for p in table.paths), bool, len(table))
        dropped["file missing"] = int((keep & ~there).sum())
        keep &= there
    view_ok = _views(table, rule.views)
    dropped["view"] = int((keep & ~view_ok).sum())
    keep &= view_ok
    chosen = table.values[:, cols]
    if rule.uncertain == "drop":
        unsure = (chosen == -1).any(axis=1)
        dropped["uncertain"] = int((keep & unsure).sum())
        keep &= ~unsure
    positive = chosen == (-1 if rule.uncertain == "one" else 2)  # uncertain as a positive
    positive |= chosen == 1
    k = positive.sum(axis=1)
    dropped["no chosen finding"] = int((keep & (k == 0)).sum())
    keep &= k > 0
    if rule.multi_label == "drop":
        dropped["several chosen findings"] = int((keep & (k > 1)).sum())
        keep &= k == 1
    rows = np.flatnonzero(keep)
    names = [table.findings[c] for c in cols]
    out = Selection(table, rule, rows, names, positive[rows].argmax(axis=1), dropped)
    why = problem(out, minimum) if check else None
    if why:
        raise CxrganError(why)
    return out


def _columns(table: LabelTable, classes: tuple[str, ...]) -> list[int]:
    if not classes:
        return list(range(len(table.findings)))
    lower = {f.lower(): i for i, f in enumerate(table.findings)}
    unknown = [c for c in classes if c.lower() not in lower]
    if unknown:
        raise CxrganError(
            f"--classes: {', '.join(map(repr, unknown))} not a finding of "
            f"{printable(table.source)} (its findings: {', '.join(table.findings)})"
        )
    cols = [lower[c.lower()] for c in classes]
    if len(set(cols)) != len(cols):
        raise CxrganError(f"--classes names a finding twice: {', '.join(classes)}")
    return cols


def _first_of_each_path(table: LabelTable) -> np.ndarray:
    seen: set[str] = set()
    keep = np.zeros(len(table), dtype=bool)
    for i, p in enumerate(table.paths):
        if p not in seen:
            seen.add(p)
            keep[i] = True
    return keep


def _views(table: LabelTable, views: tuple[str, ...]) -> np.ndarray:
    wanted = {v.upper() for v in views}
    if "ALL" in wanted:
        return np.ones(len(table), dtype=bool)
    if wanted:
        return np.fromiter((v in wanted for v in table.views), bool, len(table))
    return np.fromiter((v not in LATERAL_VIEWS for v in table.views), bool, len(table))


def problem(selection: Selection, minimum: int = MIN_CLASS_IMAGES) -> str | None:
    """Why a run cannot train on the selection (nothing left, a class too small), or None."""
    source = printable(selection.table.source)
    if not len(selection.rows):
        why = ", ".join(f"{k} {v:,}" for k, v in selection.dropped.items() if v)
        return (
            f"label file {source}: no image left after the rules ({len(selection.table):,} "
            f"rows; dropped: {why or 'none'}); see docs/labels.md"
        )
    for name, n in selection.counts().items():
        if n < minimum:
            return (
                f"label file {source}: class {name!r} has {n} image(s) after the rules, fewer "
                f"than the minimum of {minimum} (docs/labels.md)"
            )
    return None
