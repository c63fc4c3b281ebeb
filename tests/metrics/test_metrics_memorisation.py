"""Memorisation: copies of training images are flagged, other patients' images are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxrgan.metrics.memorisation import memorisation, save_memorisation_png, thumbnails

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
