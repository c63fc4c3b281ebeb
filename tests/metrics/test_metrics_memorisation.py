"""Memorisation: copies of training images are flagged, other patients' images are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxrgan.metrics.memorisation import (
    DUPLICATE_DISTANCE,
    memorisation,
    nearest,
    save_memorisation_png,
    thumbnails,
)

pytestmark = pytest.mark.shared_data


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
