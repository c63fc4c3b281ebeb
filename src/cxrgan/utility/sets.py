"""The three training sets of the utility score, as class counts and then as images.

- `real` (TRTR, train real, test real): every real training image.
- `synthetic` (TSTR, train synthetic, test real): synthetic images only, as many of each class
  as the real training set has, so the two differ only in where the images came from.
- `augmented`: every real training image, plus synthetic images of each smaller class until it
  is as large as the largest one (the top-up that balances the classes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TITLES = {
    "real": "TRTR: real only",
    "synthetic": "TSTR: synthetic only",
    "augmented": "real + synthetic (classes topped up)",
}
SHORT = {"real": "TRTR real", "synthetic": "TSTR synthetic", "augmented": "real+synthetic"}


@dataclass(frozen=True)
class SetPlan:
    """How many real and synthetic images of each class a training set holds."""

    key: str
    real: dict[str, int]
    synthetic: dict[str, int]

    @property
    def title(self) -> str:
        return TITLES[self.key]

    @property
    def n_real(self) -> int:
        return sum(self.real.values())

    @property
    def n_synthetic(self) -> int:
        return sum(self.synthetic.values())

    def class_counts(self) -> dict[str, int]:
        return {c: self.real[c] + self.synthetic[c] for c in self.real}


def topup_counts(real_counts: Mapping[str, int]) -> dict[str, int]:
    """Synthetic images per class that bring every class up to the largest one."""
    largest = max(real_counts.values())
    return {c: largest - n for c, n in real_counts.items()}


def plan_sets(real_counts: Mapping[str, int]) -> list[SetPlan]:
    """The three sets for a real training set with these class counts."""
    counts = dict(real_counts)
    none = dict.fromkeys(counts, 0)
    return [
        SetPlan("real", counts, none),
        SetPlan("synthetic", none, counts),
        SetPlan("augmented", counts, topup_counts(counts)),
    ]


def synthetic_needed(plans: Sequence[SetPlan]) -> dict[str, int]:
    """Synthetic images to draw per class: the sets share one pool, each taking its first n."""
    return {c: max(p.synthetic[c] for p in plans) for c in plans[0].synthetic}


def assemble(
    plan: SetPlan,
    classes: Sequence[str],
    real_images: np.ndarray,
    real_labels: np.ndarray,
    pool: Mapping[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """The plan's (images, labels): its real images of each class in file order, then the first
    images of each class's synthetic pool. Labels index `classes`."""
    parts: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for k, name in enumerate(classes):
        real = real_images[np.flatnonzero(real_labels == k)[: plan.real[name]]]
        synthetic = pool[name][: plan.synthetic[name]] if plan.synthetic[name] else real[:0]
        if len(synthetic) < plan.synthetic[name]:
            raise ValueError(f"{plan.key} needs {plan.synthetic[name]} synthetic {name} images")
        for part in (real, synthetic):
            parts.append(part)
            labels.append(np.full(len(part), k, dtype=np.int64))
    return np.concatenate(parts), np.concatenate(labels)
