"""NIH ChestX-ray14: Data_Entry_2017.csv (docs/labels-nih.md).

Columns read: `Image Index` (a file name, found anywhere under the data root, e.g.
images_001/images/00000001_000.png), `Finding Labels` (`|`-separated, `No Finding` when
none), `Patient ID`, `View Position` (PA or AP). The official split, train_val_list.txt and
test_list.txt (one file name a line), is read from beside the CSV or from --official-split.
"""

from __future__ import annotations

from pathlib import Path

from cxrgan.data.labels.options import LabelOptions
from cxrgan.data.labels.table import LabelTable, inside_root, one_hot, read_rows, view_of
from cxrgan.data.scan import scan_files
from cxrgan.errors import CxrganError, printable

COLUMNS = ["Image Index", "Finding Labels", "Patient ID", "View Position"]
SPLIT_FILES = {"train": "train_val_list.txt", "test": "test_list.txt"}


def matches(header: list[str]) -> bool:
    return "Image Index" in header and "Finding Labels" in header


def read(path: Path, root: Path, options: LabelOptions) -> LabelTable:
    names, labels, patients, views, lines = [], [], [], [], []
    for line, (name, found, patient, view) in read_rows(path, COLUMNS):
        names.append(inside_root(name.strip(), path, line))
        labels.append([x.strip() for x in found.split("|") if x.strip()])
        patients.append(patient.strip().lstrip("0") or "0")
        views.append(view_of(view))
        lines.append(line)
    findings, values = one_hot(labels)
    paths, notes = _locate(names, root)
    splits, split_note = official_split(path, names, options.official_split)
    notes += [split_note] if split_note else []
    return LabelTable(path, "nih", findings, paths, values, patients, views, splits, lines, notes)


def _locate(names: list[str], root: Path) -> tuple[list[str], list[str]]:
    """Bare file names found wherever they are under the root (the download spreads them over
    images_001/ … images_012/); names with a folder are read as paths under the root."""
    if all("/" in n for n in names):
        return names, []
    where: dict[str, str] = {}
    for entry in scan_files(root):
        where.setdefault(entry.rel.rsplit("/", 1)[-1], entry.rel)
    paths = [n if "/" in n else where.get(n, n) for n in names]
    return paths, [f"file names found under {root} by name"]


def official_split(path: Path, names: list[str], given: str) -> tuple[list[str], str | None]:
    """Each row's official side from the lists ("" when no list names it, or none is used)."""
    if given == "none":
        return [""] * len(names), None
    folder = path.parent if given == "auto" else Path(given).expanduser()
    files = {side: folder / name for side, name in SPLIT_FILES.items()}
    if given != "auto" and Path(given).is_file():
        files = {"train" if "train" in Path(given).name else "test": Path(given)}
    found = {side: f for side, f in files.items() if f.is_file()}
    if not found:
        if given != "auto":
            raise CxrganError(
                f"--official-split {printable(given)}: no {' or '.join(SPLIT_FILES.values())} there"
            )
        return [""] * len(names), None
    side_of: dict[str, str] = {}
    for side, f in found.items():
        for name in f.read_text(encoding="utf-8").split():
            side_of[name] = side
    used = ", ".join(str(f) for f in found.values())
    return [side_of.get(n.rsplit("/", 1)[-1], "") for n in names], f"official split: {used}"
