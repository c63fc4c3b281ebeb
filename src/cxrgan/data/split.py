"""Patient-disjoint splits of chest X-ray folders, so that quality is judged on patients the
generator never saw.

The Kermany/Kaggle file names carry the patient: `person123_bacteria_456.jpeg` (PNEUMONIA),
`IM-0115-0001.jpeg` and `NORMAL2-IM-0115-0001.jpeg` (NORMAL). IM and NORMAL2-IM numbers are
treated as one namespace: where a number appears in both series they are kept together, which
can only over-group (never leak a patient across the split). A file whose name carries no id
is its own patient.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.labels.request import choose
from cxrgan.data.labels.sides import label_sides
from cxrgan.data.scan import class_labels, scan_files
from cxrgan.errors import CxrganError
from cxrgan.files import write_json_atomic

_PATTERNS = (
    re.compile(r"^(person\d+)_", re.IGNORECASE),
    re.compile(r"^(?:NORMAL2-)?IM-(\d+)-", re.IGNORECASE),
)


def patient_id(path: str | Path) -> str:
    """The patient a file belongs to, from its name (the file name itself when there is none)."""
    name = Path(path).name
    person = _PATTERNS[0].match(name)
    if person:
        return person.group(1).lower()
    im = _PATTERNS[1].match(name)
    if im:
        return f"im-{int(im.group(1))}"
    return f"file:{name}"


def group_by_patient(paths: Sequence[str | Path], labels: Sequence[int]) -> dict[str, list[int]]:
    """Patient (prefixed by class) → indices of its files, in file order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (path, label) in enumerate(zip(paths, labels, strict=True)):
        groups[f"{label}/{patient_id(path)}"].append(i)
    return dict(groups)


def split_by_patient(
    paths: Sequence[str | Path], labels: Sequence[int], heldout: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (train, held-out): about `heldout` of each class's patients held out whole."""
    if not 0 < heldout < 1:
        raise ValueError(f"heldout must be between 0 and 1, got {heldout}")
    rng = np.random.default_rng(seed)
    groups = group_by_patient(paths, labels)
    train: list[int] = []
    held: list[int] = []
    for label in sorted(set(labels)):
        patients = sorted(k for k in groups if k.split("/", 1)[0] == str(label))
        order = rng.permutation(len(patients))
        n_held = max(1, round(heldout * len(patients))) if len(patients) > 1 else 0
        for rank, idx in enumerate(order):
            (held if rank < n_held else train).extend(groups[patients[idx]])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(held, dtype=np.int64))


def sample_by_patient(
    paths: Sequence[str | Path], labels: Sequence[int], n: int, seed: int = 0
) -> np.ndarray:
    """`n` indices made of whole patients drawn at random (the last one cut to fit), keeping
    the classes in proportion: a small data set as a hospital would have it."""
    rng = np.random.default_rng(seed)
    groups = group_by_patient(paths, labels)
    counts = np.bincount(np.asarray(labels))
    chosen: list[int] = []
    for label in np.flatnonzero(counts):
        want = round(n * counts[label] / counts.sum())
        patients = sorted(k for k in groups if k.split("/", 1)[0] == str(label))
        taken: list[int] = []
        for idx in rng.permutation(len(patients)):
            taken.extend(groups[patients[idx]])
            if len(taken) >= want:
                break
        chosen.extend(taken[:want])
    return np.sort(np.array(chosen[:n], dtype=np.int64))


SPLIT_SIDES = ("train", "heldout")


def write_split(
    root: str | Path,
    out: str | Path,
    heldout: float = 0.15,
    seed: int = 0,
    copy: bool = False,
    labels: LabelRequest | None = None,
) -> dict[str, Any]:
    """OUT/train/<class>/… and OUT/heldout/<class>/…: the files of `root` split by patient
    (about `heldout` of each class's patients held out whole), as symbolic links to the
    originals (copies with `copy`), and OUT/split.json saying what went where. With `labels`,
    the label file gives classes and patients (see write_label_split)."""
    root, out = Path(root).resolve(), Path(out)
    if not 0 < heldout < 1:
        raise CxrganError(f"--heldout must be between 0 and 1, got {heldout}")
    for side in SPLIT_SIDES:
        if (out / side).exists() and any((out / side).iterdir()):
            raise CxrganError(f"{out / side} exists and is not empty: pick another --out")
    if labels is not None:
        return write_label_split(root, out, heldout, seed, copy, labels)
    paths = [e.rel for e in scan_files(root)]
    if not paths:
        raise CxrganError(f"no files under {root}")
    classes = class_labels(paths)
    names = sorted(set(classes))
    labels = [names.index(c) for c in classes]
    sides = dict(zip(SPLIT_SIDES, split_by_patient(paths, labels, heldout, seed), strict=True))
    for side, idx in sides.items():
        for i in idx:
            _place(root / paths[i], out / side / classes[i] / Path(paths[i]).name, copy)
    summary = _split_summary(root, paths, classes, sides, heldout, seed, copy)
    write_json_atomic(out / "split.json", summary)
    return summary


def _place(source: Path, target: Path, copy: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        shutil.copy2(source, target)
    else:
        target.symlink_to(source)


def write_label_split(
    root: Path, out: Path, heldout: float, seed: int, copy: bool, labels: LabelRequest
) -> dict[str, Any]:
    """The label file's selection split by its patients (the official split where it has
    one): OUT/<side>/<class>/<path under root> and OUT/<side>.csv (path under root, label,
    patient, view), which `cxrgan train --data ROOT --labels OUT/train.csv` reads."""
    _, selection = choose(root, scan_files(root), labels)  # every check before any write
    train, held, how = label_sides(selection, heldout, seed)
    paths, patients = selection.paths, selection.patients
    classes = [selection.classes[c] for c in selection.labels]
    views = [selection.table.views[i] for i in selection.rows]
    sides = dict(zip(SPLIT_SIDES, (train, held), strict=True))
    for side, idx in sides.items():
        for i in idx:
            _place(root / paths[i], out / side / classes[i] / paths[i], copy)
        with (out / f"{side}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["path", "label", "patient", "view"])
            writer.writerows([paths[i], classes[i], patients[i], views[i]] for i in idx)
    summary = _split_summary(root, paths, classes, sides, heldout, seed, copy)
    summary.update({"split": how, "labels": selection.record()})
    for side, idx in sides.items():  # the label file's patients, not the file names'
        summary[side]["patients"] = len({patients[i] for i in idx})
        summary[side]["patient_ids"] = sorted({patients[i] for i in idx})
    write_json_atomic(out / "split.json", summary)
    return summary


def _split_summary(
    root: Path, paths: Sequence[str], classes: Sequence[str], sides: dict[str, np.ndarray],
    heldout: float, seed: int, copy: bool,
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"source": str(root), "heldout": heldout, "seed": seed,
                           "files": "copies" if copy else "symlinks"}  # fmt: skip
    for side, idx in sides.items():
        patients = sorted({f"{classes[i]}/{patient_id(paths[i])}" for i in idx})
        counts: dict[str, int] = defaultdict(int)
        for i in idx:
            counts[classes[i]] += 1
        out[side] = {"images": len(idx), "classes": dict(sorted(counts.items())),
                     "patients": len(patients), "patient_ids": patients}  # fmt: skip
    return out
