"""Real chest X-rays at 64 px for the metric validation tests, decoded once per session."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from cxrgan.data.folder import ImageSet, load_folder
from cxrgan.metrics import QualityEvaluator

SIZE = 64
LADDER_N = 800  # real images behind the corruption ladders: enough, and 3x cheaper than all


@lru_cache(maxsize=2)
def _load(root: str) -> ImageSet:
    return load_folder(Path(root), SIZE, fit="crop", workers=0, progress=False)


@lru_cache(maxsize=2)
def _patient_halves(root: str, manifest: str) -> tuple[np.ndarray, np.ndarray]:
    mask = _first_half(root, manifest)
    images = _load(root).images
    return images[mask], images[~mask]


@lru_cache(maxsize=2)
def _first_half(root: str, manifest: str) -> np.ndarray:
    """Mask of the images whose patient is in the first half (patients shuffled, seed 0)."""
    data = _load(root)
    with open(manifest, newline="") as fh:
        patient = {row["file"]: row["patient_id"] for row in csv.DictReader(fh)}
    folder = Path(root).name  # manifest paths look like png128/NORMAL/IM-0115-0001.png
    ids = [patient[f"{folder}/{p}"] for p in data.paths]
    unique = sorted(set(ids))
    np.random.default_rng(0).shuffle(unique)
    first = set(unique[: len(unique) // 2])
    return np.array([i in first for i in ids])


@pytest.fixture
def real64(png128: Path) -> np.ndarray:
    """The 1,414 real radiographs as uint8 (N, 64, 64), cropped as training crops them."""
    return _load(str(png128)).images


@pytest.fixture
def patient_halves(png128: Path, kermany_manifest: Path) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of real64, split by patient (no patient in both)."""
    return _patient_halves(str(png128), str(kermany_manifest))


@pytest.fixture
def patient_halves_labelled(
    png128: Path, kermany_manifest: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(first half, second half, second half's labels, class names): as `patient_halves`."""
    mask = _first_half(str(png128), str(kermany_manifest))
    data = _load(str(png128))
    return data.images[mask], data.images[~mask], data.labels[~mask], data.classes


@lru_cache(maxsize=1)
def _ladder(root: str) -> tuple[QualityEvaluator, np.ndarray]:
    images = _load(root).images
    real = images[np.random.default_rng(0).permutation(len(images))[:LADDER_N]]
    return QualityEvaluator(real, n=LADDER_N, kid_subsets=50, kid_subset_size=400), real


@pytest.fixture
def ladder(png128: Path) -> tuple[QualityEvaluator, np.ndarray]:
    """A QualityEvaluator on LADDER_N random real images (built once), and those images."""
    return _ladder(str(png128))


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """These tests run many small tensor ops, which a second (shared, busy) core only slows."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
