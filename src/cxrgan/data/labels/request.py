"""The files of a data folder that a label file's rule chooses."""

from __future__ import annotations

from pathlib import Path

from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.labels.registry import read_labels
from cxrgan.data.labels.rules import Selection, select
from cxrgan.data.scan import FileEntry


def choose(root: Path, entries: list[FileEntry], request: LabelRequest) -> (
    tuple[list[FileEntry], Selection]
):  # fmt: skip
    """The scanned files the label file's rule keeps (in scan order), and the selection.
    Raises before anything is decoded or written when the file or the rule fails a check."""
    table = read_labels(request.file, root, request.options)
    by_rel = {e.rel: e for e in entries}
    selection = select(table, request.rule, by_rel, minimum=request.minimum)
    wanted = set(selection.paths)
    return [e for e in entries if e.rel in wanted], selection
