"""The query films: members (the folder the run trained on) and non-members (held-out films of
other patients), loaded as the run's generator draws them, and checked before any attack runs:
patients disjoint, the classes the run knows, enough films for the bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.data.folder import ImageSet
from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.split import patient_id
from cxrgan.errors import CxrganError, printable
from cxrgan.models import ModelSpec
from cxrgan.privacy.defaults import MIN_FILMS

Log = Callable[[str], None]
SHOWN = 5  # overlapping patients named in the refusal


@dataclass
class Films:
    """Members and non-members: images (n, S, S) uint8 and, for a conditional run, each film's
    class index in the generator's classes (None for an unconditional one)."""

    members: np.ndarray
    nonmembers: np.ndarray
    member_classes: np.ndarray | None
    nonmember_classes: np.ndarray | None
    classes: tuple[str, ...]  # the generator's, () when unconditional
    patients: dict[str, int]  # patient ids found per side
    patients_from: str = "file names"  # or "the label file(s)"
    # each side's label file record (its rule and what the rule kept), None without one
    label_records: dict[str, Any] | None = None


def load_side(
    folder: Path,
    flag: str,
    size: int,
    fit: str,
    load: Callable[..., ImageSet],
    log: Log,
    labels: LabelRequest | None = None,
) -> ImageSet:
    folder = Path(folder)
    if not folder.exists():
        raise CxrganError(f"{flag} {folder} does not exist")
    if not folder.is_dir():
        raise CxrganError(f"{flag} {folder} is not a folder")
    data = load(folder, size, fit, labels)
    if data.skipped:
        log(f"{flag}: skipped {len(data.skipped)} unreadable file(s), e.g. {data.skipped[0][0]}")
    return data


def patients_of(data: ImageSet) -> tuple[set[str], set[Path]]:
    """The patient ids of a label file (Patient ID, subject_id, patientNNNNN) where it was
    loaded with one, else those its file names carry (person123_…, IM-0115-…); and the real
    path of every film: a film whose name carries no id is its own patient (data/split.py)."""
    assert data.root is not None
    files = {(data.root / p).resolve() for p in data.paths}
    if data.patients is not None:
        return set(data.patients), files
    ids = {patient_id(p) for p in data.paths}
    return {i for i in ids if not i.startswith("file:")}, files


def check_disjoint(train: ImageSet, heldout: ImageSet) -> dict[str, int]:
    """Refuse when a patient (or a film) is in both sets; the patients found per side."""
    train_ids, train_files = patients_of(train)
    held_ids, held_files = patients_of(heldout)
    shared = sorted(train_ids & held_ids)
    if shared:
        more = f" and {len(shared) - SHOWN} more" if len(shared) > SHOWN else ""
        raise CxrganError(
            f"--train and --heldout share {len(shared)} patient(s)"
            f"{' of the label file(s)' if train.patients is not None else ''} ("
            f"{', '.join(printable(p) for p in shared[:SHOWN])}"
            f"{more}); the held-out films must come from other patients (`cxrgan data split`, "
            "docs/privacy.md)"
        )
    films = sorted(train_files & held_files)
    if films:
        raise CxrganError(
            f"--train and --heldout share {len(films)} film(s) (e.g. {films[0]}); the held-out "
            "films must come from other patients (`cxrgan data split`, docs/privacy.md)"
        )
    return {"train": len(train_ids), "heldout": len(held_ids)}


def class_ids(data: ImageSet, spec: ModelSpec, flag: str) -> np.ndarray | None:
    """Each film's class index in the generator's classes (None for an unconditional run)."""
    if not spec.c_dim:
        return None
    if "" in data.classes or len(spec.classes) != spec.c_dim:
        raise CxrganError(
            f"{flag}: a conditional run is audited per class: put every film in a class "
            f"subfolder named as the run's classes ({', '.join(spec.classes) or 'unnamed'}), "
            "or pass its label file (--labels, docs/privacy.md)"
        )
    unknown = [c for c in data.classes if c not in spec.classes]
    if unknown:
        raise CxrganError(
            f"{flag} has class(es) the run does not draw: {', '.join(unknown)}; its classes are "
            f"{', '.join(spec.classes)}"
        )
    lookup = np.array([spec.classes.index(c) for c in data.classes], dtype=np.int64)
    return lookup[data.labels]


def check_enough(films: Films, minimum: int = MIN_FILMS) -> None:
    """At least `minimum` members and non-members, of every class the run draws."""
    counts = [("", len(films.members), len(films.nonmembers))]
    if films.classes:
        assert films.member_classes is not None and films.nonmember_classes is not None
        counts = [
            (
                name,
                int(np.sum(films.member_classes == k)),
                int(np.sum(films.nonmember_classes == k)),
            )
            for k, name in enumerate(films.classes)
        ]
    short = [(c, m, n) for c, m, n in counts if min(m, n) < minimum]
    if short:
        name, m, n = short[0]
        of = f" of class {name}" if name else ""
        raise CxrganError(
            f"too few films for the bootstrap{of}: {m} in --train and {n} in --heldout; the "
            f"audit needs at least {minimum} of each (more for a useful interval, docs/privacy.md)"
        )


def load_films(
    train: Path,
    heldout: Path,
    spec: ModelSpec,
    fit: str,
    load: Callable[..., ImageSet],
    log: Log,
    labels: tuple[LabelRequest | None, LabelRequest | None] = (None, None),
) -> Films:
    """labels: the label files of --train and --heldout, which then give the films' classes
    and patients (None: class subfolders and file names)."""
    size = spec.resolution
    members = load_side(train, "--train", size, fit, load, log, labels[0])
    nonmembers = load_side(heldout, "--heldout", size, fit, load, log, labels[1])
    if (members.patients is None) != (nonmembers.patients is None):
        raise CxrganError(
            "--train and --heldout name their patients differently (one by a label file, one by "
            "file names); give both a label file (--labels, --heldout-labels) or neither"
        )
    patients = check_disjoint(members, nonmembers)
    films = Films(
        np.asarray(members.images),
        np.asarray(nonmembers.images),
        class_ids(members, spec, "--train"),
        class_ids(nonmembers, spec, "--heldout"),
        tuple(spec.classes) if spec.c_dim else (),
        patients,
        "file names" if members.patients is None else "the label file(s)",
        None if members.label_rule is None else
        {"train": members.label_rule, "heldout": nonmembers.label_rule},
    )  # fmt: skip
    check_enough(films)
    log(
        f"films: {len(films.members)} members (--train), {len(films.nonmembers)} non-members "
        f"(--heldout); patients named in {films.patients_from}: {patients['train']} and "
        f"{patients['heldout']}, none shared"
    )
    return films
