"""A label file asked for by a run: the file, how to read it, the rule; and the files of the
data folder it chooses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cxrgan.data.labels.options import LabelOptions
from cxrgan.data.labels.registry import read_labels
from cxrgan.data.labels.rules import LabelRule, Selection, select
from cxrgan.data.scan import FileEntry


@dataclass(frozen=True)
class LabelRequest:
    file: Path
    options: LabelOptions = field(default_factory=LabelOptions)
    rule: LabelRule = field(default_factory=LabelRule)


def choose(root: Path, entries: list[FileEntry], request: LabelRequest) -> (
    tuple[list[FileEntry], Selection]
):  # fmt: skip
    """The scanned files the label file's rule keeps (in scan order), and the selection.
    Raises before anything is decoded or written when the file or the rule fails a check."""
    table = read_labels(request.file, root, request.options)
    by_rel = {e.rel: e for e in entries}
    selection = select(table, request.rule, by_rel)
    wanted = set(selection.paths)
    return [e for e in entries if e.rel in wanted], selection
