"""Memorisation: copies of training images are flagged, other patients' images are not."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cxrgan.metrics.memorisation import (
    CALIBRATION_QUERIES,
    DUPLICATE_DISTANCE,
    calibration_rows,
    memorisation,
    nearest,
    save_memorisation_png,
    thumbnails,
)

pytestmark = pytest.mark.shared_data

mem = importlib.import_module("cxrgan.metrics.memorisation")  # cxrgan.metrics.memorisation
# is also the function's name in cxrgan.metrics


def _all_pairs(train: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, ...]:
    """The quadratic check as it was: one all-pairs matrix, every training image a query."""
    t, f = thumbnails(train), thumbnails(fake)
    d2 = (t.pow(2).sum(1, keepdim=True) + t.pow(2).sum(1) - 2 * t @ t.T).fill_diagonal_(np.inf)
    dup = d2 < DUPLICATE_DISTANCE**2
    real = d2.masked_fill(dup, np.inf).min(1).values.clamp(min=0).sqrt()
    best = (f.pow(2).sum(1, keepdim=True) + t.pow(2).sum(1) - 2 * f @ t.T).min(1)
    fake_d = best.values.clamp(min=0).sqrt()
    return real.numpy(), dup.any(1).numpy(), fake_d.numpy(), best.indices.numpy()


def _small_chunks(monkeypatch: pytest.MonkeyPatch, block: int = mem.BLOCK) -> list[tuple[int, int]]:
    """Training chunks of 100 (and query blocks of `block`), so that a few hundred images take
    several; returns the shape of every distance matrix made, as they are made."""
    monkeypatch.setattr(mem, "BLOCK", block)
    monkeypatch.setattr(mem, "POOL_CHUNK", 100)
    shapes: list[tuple[int, int]] = []
    original = mem._squared_distances

    def recorded(q: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        shapes.append((len(q), len(pool)))
        return original(q, pool)

    monkeypatch.setattr(mem, "_squared_distances", recorded)
    return shapes


class _ReadLog:
    """Training images that note how many rows each read takes."""

    def __init__(self, images: np.ndarray) -> None:
        self.images, self.reads = images, []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: slice | np.ndarray) -> np.ndarray:
        out = self.images[idx]
        self.reads.append(len(out))
        return out


def test_up_to_the_sample_size_every_image_calibrates_as_before(
    real64: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = np.concatenate([real64[:350], real64[:20]])  # 20 exact twins
    fakes = np.concatenate([real64[::30], 255 - real64[400:420]])
    real_d, has_dup, fake_d, fake_i = _all_pairs(train, fakes)
    result = memorisation(train, fakes)
    # Bit for bit what the all-pairs search gave (one chunk at this size).
    np.testing.assert_array_equal(result.real_distance, real_d)
    np.testing.assert_array_equal(result.fake_distance, fake_d)
    np.testing.assert_array_equal(result.fake_index, fake_i)
    assert result.duplicates == has_dup.sum() == 40
    assert result.threshold == max(np.percentile(real_d, 1.0), DUPLICATE_DISTANCE)
    assert result.as_dict()["calibration_queries"] == len(train) == result.queries

    shapes = _small_chunks(monkeypatch)
    logged = _ReadLog(train)
    chunked = memorisation(logged, fakes)
    # In chunks of 100 training images: the same up to the matrix product's rounding.
    np.testing.assert_allclose(chunked.real_distance, real_d, rtol=1e-12)
    np.testing.assert_allclose(chunked.fake_distance, fake_d, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(chunked.fake_index, fake_i)
    assert chunked.duplicates == 40
    assert chunked.threshold == pytest.approx(result.threshold, rel=1e-12)
    assert sorted({pool for _, pool in shapes}) == [70, 100] and len(shapes) == 8
    assert max(logged.reads) <= mem.THUMB_CHUNK  # never the whole training set at once


def test_more_images_than_the_sample_calibrate_on_a_seeded_sample(
    real64: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CALIBRATION_QUERIES == 5_000
    shapes = _small_chunks(monkeypatch, block=64)
    train, fakes = real64[:400], np.concatenate([real64[:5], real64[1000:1040]])
    real_d, _, fake_d, fake_i = _all_pairs(train, fakes)
    result = memorisation(train, fakes, queries=150)
    rows = result.calibration_rows
    assert rows is not None and len(rows) == result.queries == 150
    np.testing.assert_array_equal(rows, calibration_rows(400, 150))  # seeded: the same rows
    assert np.all(np.diff(rows) > 0) and rows[-1] > 300  # drawn from all, without repeats
    # Each query still searched among ALL training images (less itself).
    np.testing.assert_allclose(result.real_distance, real_d[rows], rtol=1e-12)
    np.testing.assert_array_equal(result.fake_index, fake_i)
    np.testing.assert_allclose(result.fake_distance, fake_d, rtol=1e-12, atol=1e-12)
    assert result.as_dict()["calibration_queries"] == 150.0
    assert result.threshold == pytest.approx(np.percentile(real_d, 1.0), rel=0.1)
    assert result.flagged[:5].all() and result.flagged[5:].mean() < 0.1
    assert max(shapes) == (64, 100)  # queries in blocks too


def test_exact_copies_are_all_flagged(real64: np.ndarray) -> None:
    fakes = real64[::7]  # 202 training images passed off as generated
    result = memorisation(real64, fakes)
    assert result.share == 1.0
    assert result.fake_distance.max() < 1e-6
    np.testing.assert_array_equal(result.fake_index, np.arange(0, len(real64), 7))
    assert result.distance_ratio < 1e-5


def test_brightened_copies_are_still_copies(real64: np.ndarray) -> None:
    # Per-image standardisation: a copy with another exposure (x0.9 + 20) is still a copy.
    fakes = (real64[::7].astype(np.float64) * 0.9 + 20).round().astype(np.uint8)
    assert memorisation(real64, fakes).share == 1.0


def test_held_out_patients_are_not_flagged(patient_halves: tuple[np.ndarray, np.ndarray]) -> None:
    train, held_out = patient_halves
    result = memorisation(train, held_out)
    # Calibrated on the 1st percentile of train-train distances: ~1 % expected by chance.
    assert result.share < 0.05
    assert 0.9 < result.distance_ratio < 1.2
    assert 0.2 < result.threshold < 0.6


def test_real_real_distances_leave_one_out(real64: np.ndarray) -> None:
    result = memorisation(real64[:300], real64[:3])
    assert result.real_distance.min() > 0.1  # never the image itself
    assert result.threshold == pytest.approx(np.percentile(result.real_distance, 1.0))


def test_thumbnails_are_standardised() -> None:
    x = np.random.default_rng(0).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    t = thumbnails(x).numpy()
    assert t.shape == (4, 32 * 32)
    np.testing.assert_allclose(t.mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, rtol=1e-12)


def test_png_shows_closest_pairs_side_by_side(real64: np.ndarray, tmp_path: Path) -> None:
    fakes = np.concatenate([real64[:3], 255 - real64[3:10]])  # 3 copies, 7 inverted images
    result = memorisation(real64, fakes)
    out = save_memorisation_png(result, fakes, real64, tmp_path / "memorisation.png", pairs=6)
    with Image.open(out) as img:
        sheet = np.asarray(img.convert("L"))
    # 6 pairs, 4 per row -> 2 rows; each pair 64 + 2 + 64 px wide with 8 px padding.
    assert sheet.shape == (2 * 64 + 3 * 8, 4 * 130 + 5 * 8)
    first_fake, first_train = sheet[8:72, 8:72], sheet[8:72, 74:138]
    np.testing.assert_array_equal(first_fake, first_train)  # closest pair is an exact copy
    np.testing.assert_array_equal(
        first_fake, real64[result.fake_index[np.argmin(result.fake_distance)]]
    )


def test_duplicates_in_the_training_set_do_not_zero_the_threshold(
    patient_halves: tuple[np.ndarray, np.ndarray],
) -> None:
    # Public sets hold the same film twice (the Kaggle train split: 50 exact twins). Counted
    # as each other's nearest neighbours they made the 1st percentile 0, and then no copy
    # was ever flagged. Here 60 of 460 training images are twins, exact or nearly so.
    first, held_out = patient_halves
    train_clean = first[:400]
    rng = np.random.default_rng(0)
    near = np.clip(first[40:60] + rng.normal(0, 2, first[40:60].shape), 0, 255).astype(np.uint8)
    train = np.concatenate([train_clean, first[:40], near])
    naive, _ = nearest(thumbnails(train), thumbnails(train), exclude_self=True)
    assert np.percentile(naive.numpy(), 1.0) < 0.05  # the old rule's threshold: ~0

    copies = first[100:130]  # exact copies of training images that have no twin
    altered = np.clip(first[200:230] * 0.9 + 20 + rng.normal(0, 3, (30, 64, 64)), 0, 255)
    others = held_out[:300]  # other patients: not copies
    fakes = np.concatenate([copies, altered.astype(np.uint8), others])
    result = memorisation(train, fakes)
    clean = memorisation(train_clean, fakes)
    assert result.duplicates == 120  # 60 originals and their 60 twins
    assert result.threshold == pytest.approx(clean.threshold, rel=0.1)
    assert result.threshold >= DUPLICATE_DISTANCE
    assert result.flagged[:60].all()  # every copy counted as memorised
    assert result.flagged[60:].mean() < 0.05  # other patients: ~1 % by construction
    assert result.as_dict()["train_duplicates"] == 120.0


def test_all_duplicates_fall_back_to_the_duplicate_distance(real64: np.ndarray) -> None:
    train = np.stack([real64[0]] * 4)  # one film four times: no non-duplicate neighbour
    result = memorisation(train, real64[[0, 500, 501]])
    assert np.isinf(result.real_distance).all() and result.duplicates == 4
    assert result.threshold == DUPLICATE_DISTANCE
    assert result.flagged.tolist() == [True, False, False]
    assert np.isfinite(result.distance_ratio)
