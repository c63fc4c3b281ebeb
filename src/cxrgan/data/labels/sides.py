"""Train and held-out sides of a label file's selection, patient-disjoint: the official split
where the file has one (ChestX-ray14's lists, MIMIC-CXR's split CSV), else whole patients
drawn at random, about the same share of each class's patients."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from cxrgan.data.labels.rules import Selection
from cxrgan.errors import CxrganError, printable

HELDOUT_SPLITS = frozenset({"test"})  # official sides that are held out; the rest train


def label_sides(
    selection: Selection, heldout: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Positions in the selection of (train, held-out), and which split made them."""
    splits = [selection.table.splits[i] for i in selection.rows]
    if any(splits):
        train, held = _official(selection.patients, splits, selection.table.source)
        return train, held, "official"
    train, held = split_patients(selection.patients, selection.labels, heldout, seed)
    return train, held, "by patient"


def _official(
    patients: list[str], splits: list[str], source: object
) -> tuple[np.ndarray, np.ndarray]:
    """The official sides; rows no list names follow their patient's side (else train)."""
    side_of: dict[str, set[bool]] = defaultdict(set)
    for patient, split in zip(patients, splits, strict=True):
        if split:
            side_of[patient].add(split in HELDOUT_SPLITS)
    both = [p for p, sides in side_of.items() if len(sides) > 1]
    if both:
        raise CxrganError(
            f"the official split of {printable(source)} puts patient {printable(both[0])} on "
            f"both sides ({len(both)} such patients); use --official-split none"
        )
    held = np.array([True in side_of.get(p, ()) for p in patients], dtype=bool)
    return np.flatnonzero(~held), np.flatnonzero(held)


def split_patients(
    patients: list[str], labels: np.ndarray, heldout: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """About `heldout` of each class's patients held out whole. A patient with images in
    several classes counts for its most frequent one, and all its images go to one side."""
    if not 0 < heldout < 1:
        raise CxrganError(f"--heldout must be between 0 and 1, got {heldout}")
    images: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(patients):
        images[p].append(i)
    main_class = {p: Counter(int(labels[i]) for i in idx).most_common(1)[0][0]
                  for p, idx in images.items()}  # fmt: skip
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in sorted(set(main_class.values())):
        members = sorted(p for p, c in main_class.items() if c == label)
        n_held = max(1, round(heldout * len(members))) if len(members) > 1 else 0
        for idx in rng.permutation(len(members))[:n_held]:
            held.extend(images[members[idx]])
    mask = np.zeros(len(patients), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
