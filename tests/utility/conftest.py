"""Small real/test/synthetic folders for the utility tests (20 px PNGs in class subfolders)."""

from __future__ import annotations

from pathlib import Path

import pytest
from utility_helpers import TEST, TRAIN, class_folder


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """train/, test/ and synthetic/ (a few more of each class than the score needs)."""
    return {
        "train": class_folder(tmp_path / "train", TRAIN),
        "test": class_folder(tmp_path / "test", TEST, seed=1),
        "synthetic": class_folder(tmp_path / "synthetic", {"NORMAL": 14, "PNEUMONIA": 26}, seed=2),
    }
