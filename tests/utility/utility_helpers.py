"""Images a classifier can tell apart (class k a little brighter than class k-1), in memory, as
folders of PNGs in class subfolders, and from a stand-in conditional generator."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from cxrgan.models.base import Generator

CLASSES = ("NORMAL", "PNEUMONIA")
TRAIN = {"NORMAL": 12, "PNEUMONIA": 24}  # the folders of conftest.py: imbalanced, as Kaggle's
TEST = {"NORMAL": 8, "PNEUMONIA": 8}


def shaded(n: int, label: int, size: int = 16, seed: int = 0, step: int = 70) -> np.ndarray:
    """(n, size, size) uint8 noise (sd 30) around gray level 60 + step·label."""
    rng = np.random.default_rng([seed, label])
    return np.clip(rng.normal(60 + step * label, 30, (n, size, size)), 0, 255).astype(np.uint8)


def labelled(
    counts: Mapping[int, int], size: int = 16, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) with counts[k] shaded images of class k."""
    images = np.concatenate([shaded(n, k, size, seed) for k, n in counts.items()])
    labels = np.concatenate([np.full(n, k, dtype=np.int64) for k, n in counts.items()])
    return images, labels


def class_folder(
    root: Path, counts: Mapping[str, int], size: int = 20, seed: int = 0, step: int = 3
) -> Path:
    """root/<class>/<class>_NNN.png: counts[c] shaded PNGs of class c (classes in sorted order
    get labels 0, 1, ... as cxrgan reads them), only `step` gray levels apart: hard enough
    that scores vary between seeds and sets."""
    for k, name in enumerate(sorted(counts)):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, pixels in enumerate(shaded(counts[name], k, size, seed, step)):
            Image.fromarray(pixels, "L").save(folder / f"{name.lower()}_{i:03d}.png")
    return root


class Shades(Generator):
    """A conditional generator: class 0 draws dark noise, class 1 bright noise."""

    def __init__(self, resolution: int = 16) -> None:
        super().__init__(z_dim=8, c_dim=2, resolution=resolution, channels=1)
        self.fc = nn.Linear(8, resolution * resolution)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        assert c is not None
        s = self.resolution
        noise = torch.tanh(self.fc(z)).view(len(z), 1, s, s)
        level = (c.float() * 0.9 - 0.45).view(-1, 1, 1, 1)
        return (level + 0.3 * noise).clamp(-1, 1)
