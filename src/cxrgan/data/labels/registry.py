"""Label-file formats by name, and telling them apart by the header."""

from __future__ import annotations

from pathlib import Path

from cxrgan.data.labels import chexpert, generic, mimic, nih
from cxrgan.data.labels.options import LabelOptions
from cxrgan.data.labels.table import LabelTable, read_header
from cxrgan.errors import CxrganError, printable

READERS = {"nih": nih.read, "chexpert": chexpert.read, "mimic": mimic.read,
           "generic": generic.read}  # fmt: skip


def detect(header: list[str], options: LabelOptions) -> str | None:
    """The format the header belongs to (the public collections first), or None."""
    for name, fits in (("nih", nih.matches), ("chexpert", chexpert.matches),
                       ("mimic", mimic.matches)):  # fmt: skip
        if fits(header):
            return name
    return "generic" if generic.matches(header, options) else None


def read_labels(path: str | Path, root: str | Path, options: LabelOptions) -> LabelTable:
    """The label file as a LabelTable, its paths relative to the data folder `root`."""
    path, root = Path(path).expanduser(), Path(root).expanduser().resolve()
    if not path.is_file():
        raise CxrganError(f"label file not found: {printable(path)}")
    name = options.format
    if name == "auto":
        header = read_header(path)
        name = detect(header, options) or ""
        if not name:
            raise CxrganError(
                f"cannot tell the format of label file {printable(path)} from its header "
                f"({', '.join(header[:8])}): name it with --labels-format nih|chexpert|mimic|"
                "generic (generic reads --path-column and --label-column; see docs/labels.md)"
            )
    if name not in READERS:
        raise CxrganError(
            f"unknown label format {name!r}: one of {', '.join(READERS)} (see docs/labels.md)"
        )
    return READERS[name](path, root, options)
