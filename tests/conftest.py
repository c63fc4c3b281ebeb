"""Shared fixtures. Tests on real data read ../shared/data and skip, with the reason, without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CXRGAN_SHARED_DATA", REPO.parent / "shared" / "data"))

# Two cores: keep each test process from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _shared(sub: str) -> Path:
    path = SHARED_DATA / sub
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared data, but {path} is missing")
        pytest.skip(
            f"shared data not found at {path} (set CXRGAN_SHARED_DATA or clone beside ../shared)"
        )
    return path


@pytest.fixture
def png128() -> Path:
    """1,414 real 128×128 chest X-ray PNGs in NORMAL/ and PNEUMONIA/."""
    return _shared("cxr-kermany/png128")


@pytest.fixture
def kermany_manifest() -> Path:
    """manifest.csv with patient ids for cxr-kermany."""
    path = _shared("cxr-kermany") / "manifest.csv"
    return path


@pytest.fixture
def originals() -> Path:
    """150 full-size Kaggle JPEGs, Kaggle layout: chest_xray/{train,test}/{NORMAL,PNEUMONIA}."""
    return _shared("cxr-kermany/originals")


@pytest.fixture
def kaggle224() -> Path:
    """The whole Kaggle train split, 5,216 JPEGs at 224×224 (train/NORMAL, train/PNEUMONIA)."""
    return _shared("kaggle-chest-xray-224/train")
