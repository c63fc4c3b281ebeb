"""Films for the privacy tests: phantom chest X-rays as PNGs named as the Kaggle set names its
patients (personNNN_virus_K.png), in class subfolders, and a tiny trained run."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from cxrgan.data.phantoms import make_phantoms

CLASSES = ("NORMAL", "PNEUMONIA")


def film_folder(
    root: Path, patients: range, per_class: int = 20, size: int = 32, seed: int = 0
) -> Path:
    """root/<class>/personNNN_virus_0.png: `per_class` phantoms of each class, patient numbers
    taken from `patients` in order (NORMAL first), so two folders given disjoint ranges share no
    patient; phantoms of class k are drawn with seed 2·seed + k, so folders with other seeds
    hold other films."""
    numbers = iter(patients)
    for k, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, pixels in enumerate(make_phantoms(per_class, size, seed=2 * seed + k)):
            n = next(numbers)
            Image.fromarray(pixels, "L").save(folder / f"person{n}_virus_{i}.png")
    return root
