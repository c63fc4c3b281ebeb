"""Each side of an evaluation as images with a class name per image, and the classes both
sides share: folders (class subfolders are classes) or a run's generator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxrgan.data.folder import load_folder
from cxrgan.data.labels.options import LabelRequest
from cxrgan.evaluation.classes import class_counts, split_in_proportion
from cxrgan.inference.generate import LoadedGenerator, sample_images
from cxrgan.inference.generated_set import Draw, class_names, draw_images

Log = Callable[[str], None]


@dataclass
class Side:
    """One side's images with the class of each ("" for an image in no class subfolder)."""

    images: np.ndarray
    labels: np.ndarray  # (N,) str: class names
    note: str = ""  # how a run's images were drawn, when that needs saying


def folder_side(
    folder: Path, size: int, fit: str, progress: bool, log: Log, labels: LabelRequest | None = None
) -> Side:
    """A folder's images; `labels`: a label file chooses them and their classes."""
    data = load_folder(folder, size, fit, progress=progress, log=log, labels=labels)
    return Side(data.images, np.array(data.classes, dtype=str)[data.labels])


def generated_side(
    model: LoadedGenerator, real: Side, n: int, seed: int, where: tuple[Path, Path]
) -> Side:
    """Images of a run's generator. A conditional one draws each class the real side has, as
    many images as the real side has of it (at most n), each class as `cxrgan generate
    --label NAME --n N --seed SEED` draws it; when the real side has none of its classes they
    share n evenly. where: (the real folder, the run), for the note that says so."""
    if not model.spec.c_dim:
        images = sample_images(model.g, n, seed, "cpu")
        return Side(images, np.full(len(images), "", dtype=str))
    names = class_names(model.spec)
    have = class_counts(real.labels)
    counts = {c: min(n, have[c]) for c in names if have.get(c)}
    note = ""
    if not counts:
        counts = split_in_proportion(n, dict.fromkeys(names, 1))
        note = (f"note: {where[0]} has no folder of the classes {where[1]} draws "
                f"({', '.join(names)}): drew {n} images shared evenly over them")  # fmt: skip
    draws = [Draw(c, names.index(c), seed, k) for c, k in counts.items() if k]
    images = np.concatenate([draw_images(model, d, "cpu") for d in draws])
    labels = np.array([d.label for d in draws for _ in range(d.n)], dtype=str)
    return Side(images, labels, note)


def only(side: Side, classes: list[str]) -> Side:
    """The side's images of these classes (the side itself when that is all of them: a real
    side may be a memory-mapped cache larger than memory, which indexing would copy)."""
    keep = np.isin(side.labels, classes)
    if keep.all():
        return side
    return Side(side.images[keep], side.labels[keep], side.note)


def without_loose(side: Side, where: Path, log: Log) -> Side:
    """A folder of generated images with class subfolders, without the images directly in it
    (the grid.png of `generate --grid`): they are no generated image of any class."""
    named = list(class_counts(side.labels))
    loose = int((side.labels == "").sum())
    if not named or not loose:
        return side
    log(f"note: {loose} image(s) directly in {where}, beside its class folders (e.g. a "
        f"grid.png), left out of every metric")  # fmt: skip
    return only(side, named)


def shared_classes(real: Side, fake: Side, where: tuple[Path, Path], from_run: bool) -> (
    tuple[list[str], list[str]]
):  # fmt: skip
    """The classes to report one by one (the real side's names that the generated side has
    too, in the real side's order), and notes on what could not be matched.
    where: (the real folder, the generated folder or run)."""
    rc, fc = list(class_counts(real.labels)), list(class_counts(fake.labels))
    both = "per-class metrics need class subfolders on both sides"
    if not rc and not fc:
        return [], []
    if not fc:
        what = "is an unconditional run" if from_run else "has no class subfolders"
        return [], [f"note: {both}; {where[1]} {what}"]
    if not rc:
        return [], [f"note: {both}; {where[0]} has no class subfolders"]
    shared = [c for c in rc if c in fc]
    if not shared:
        return [], [f"note: no class in common (real: {', '.join(rc)}; generated: "
                    f"{', '.join(fc)}): overall metrics only"]  # fmt: skip
    notes = [
        f"note: class {c} is only in {path}: left out of every metric"
        for cs, path in ((rc, where[0]), (fc, where[1]))
        for c in cs
        if c not in shared
    ]
    for side, path in ((real, where[0]), (fake, where[1])):
        loose = int((side.labels == "").sum())
        if loose:
            notes.append(f"note: {loose} image(s) directly in {path}, in no class subfolder "
                         f"(e.g. a grid.png), left out of every metric")  # fmt: skip
    return shared, notes
