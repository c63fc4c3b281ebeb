"""Small studies for the tests: real images in class folders and generated ones in a folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ("NORMAL", "PNEUMONIA")


def image_folders(root: Path, n_real: int = 12, n_fake: int = 12, fake_classes: bool = False):
    """real/{NORMAL,PNEUMONIA}/*.png (48 px, as a dataset stores them) and fake/ (32 px)."""
    rng = np.random.default_rng(0)
    real, fake = root / "real", root / "fake"
    for k in range(n_real):
        folder = real / CLASSES[k % 2]
        folder.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 256, (48, 40), dtype=np.uint8)
        Image.fromarray(arr, "L").save(folder / f"patient{k:03d}_xray.png")
    for k in range(n_fake):
        folder = fake / CLASSES[k % 2] if fake_classes else fake
        folder.mkdir(parents=True, exist_ok=True)
        arr = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        Image.fromarray(arr, "L").save(folder / f"generated_{k:03d}.png")
    return real, fake


def page_data(page: Path) -> dict:
    text = page.read_text("utf-8")
    start = text.index('<script id="study-data" type="application/json">')
    start = text.index(">", start) + 1
    return json.loads(text[start : text.index("</script>", start)])


def answers_file(path: Path, key: dict, reader: str, answer) -> Path:
    """An answers file as the page exports it; answer(image) -> ("R"|"F", confidence)."""
    answers = {}
    for image in key["images"]:
        choice, confidence = answer(image)
        answers[image["id"]] = {"answer": choice, "confidence": confidence, "time": "t"}
    data = {"format": 1, "study": key["study"], "reader": reader,
            "exported": "2026-01-01T00:00:00Z", "answers": answers}  # fmt: skip
    path.write_text(json.dumps(data))
    return path


def shared(sub: str) -> Path:
    """../shared/data/SUB, skipped (failed under CI) when absent, as tests/conftest.py does;
    for module-scoped fixtures, which cannot use conftest's function-scoped ones."""
    root = Path(__file__).resolve().parents[2]
    path = Path(os.environ.get("CXRGAN_SHARED_DATA", root.parent / "shared" / "data")) / sub
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared data, but {path} is missing")
        pytest.skip(f"shared data not found at {path} (set CXRGAN_SHARED_DATA)")
    return path
