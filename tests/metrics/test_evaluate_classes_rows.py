"""evaluate_classes reads each class's real images where they are drawn, not a copy of the
class (the real side may be a memory-mapped cache larger than memory: docs/performance.md)."""

from __future__ import annotations

import numpy as np
import pytest

from cxrgan.metrics.evaluate import evaluate_classes, evaluate_sets
from cxrgan.metrics.images import ClassRows
from cxrgan.metrics.memorisation import THUMB_CHUNK

RNG = np.random.default_rng(5)
REAL = RNG.integers(0, 256, (290, 32, 32), dtype=np.uint8)
REAL_LABELS = np.array(["a", "b"] * 140 + ["a"] * 10)  # a: 150 images, b: 140
FAKE = RNG.integers(30, 220, (24, 32, 32), dtype=np.uint8)
FAKE_LABELS = np.array(["a", "b"] * 12)
KID = {"kid_subsets": 3, "kid_subset_size": 6}


class _ReadLog:
    """The real images, noting every row each read takes."""

    def __init__(self, images: np.ndarray) -> None:
        self.images, self.reads = images, []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        self.reads.append(np.arange(len(self.images))[idx])
        return self.images[idx]


@pytest.mark.parametrize("n", [None, 20])
def test_per_class_numbers_are_those_of_each_class_copied_out(n: int | None) -> None:
    got = evaluate_classes(REAL, REAL_LABELS, FAKE, FAKE_LABELS, ["a", "b"], n=n, seed=3, **KID)
    for name in ("a", "b"):
        copied = evaluate_sets(REAL[name == REAL_LABELS], FAKE[name == FAKE_LABELS], n=n,
                               seed=3, **KID)  # fmt: skip
        assert got[name].metrics == copied
    assert got["a"].metrics["calibration_queries"] == 150.0


def test_a_class_is_read_a_chunk_at_a_time_and_only_its_rows() -> None:
    logged = _ReadLog(REAL)
    evaluate_classes(logged, REAL_LABELS, FAKE, FAKE_LABELS, ["a"], n=20, seed=3, **KID)
    a_rows = set(np.flatnonzero(REAL_LABELS == "a"))
    assert all(set(rows) <= a_rows for rows in logged.reads)
    assert max(map(len, logged.reads)) == THUMB_CHUNK < 150  # the class is never copied whole
    assert sorted({len(rows) for rows in logged.reads}) == [20, 150 - THUMB_CHUNK, THUMB_CHUNK]


def test_class_rows_index_into_the_rows_they_hold() -> None:
    rows = ClassRows(REAL, np.flatnonzero(REAL_LABELS == "b"))
    assert len(rows) == 140
    np.testing.assert_array_equal(rows[np.array([0, 2])], REAL[[1, 5]])
    np.testing.assert_array_equal(rows[1:3], REAL[[3, 5]])
    np.testing.assert_array_equal(np.asarray(rows), REAL[REAL_LABELS == "b"])
