"""Metric validation on real radiographs (64 px): zero, small, monotone, large where expected.

The numbers asserted here are quoted, with the measured values, in docs/metrics.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from metrics_helpers import add_noise, blur, phantoms, shift

from cxrgan.data.pixels import from_uint8
from cxrgan.metrics import QualityEvaluator, evaluate_sets, format_metrics, fwd
from cxrgan.metrics.evaluate import METRICS

pytestmark = pytest.mark.shared_data

LADDERS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], tuple[float, ...]]] = {
    "blur": (blur, (0.5, 1.0, 2.0)),  # Gaussian sigma, px
    "noise": (lambda x, s: add_noise(x, s, seed=1), (4.0, 8.0, 16.0)),  # std, gray levels
    "shift": (lambda x, s: shift(x, int(s)), (1, 2, 4, 8)),  # px, down and right
}
Ladder = tuple[QualityEvaluator, np.ndarray]


def test_a_set_against_itself_is_zero(ladder: Ladder) -> None:
    ev, real = ladder
    got = ev.evaluate(real)
    assert got["fwd"] == pytest.approx(0.0, abs=1e-12)
    # The same images on both sides break KID's independence assumption: slightly negative
    # (measured -0.020; independent patient halves give +0.002, phantoms 8.9).
    assert abs(got["kid_mean"]) < 0.05


def test_patient_halves_are_close(patient_halves: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = patient_halves
    got = evaluate_sets(a, b, kid_subsets=50, kid_subset_size=500)
    assert got["fwd"] < 0.01  # measured 0.0040
    assert abs(got["kid_mean"]) < 0.01  # measured 0.0022 ± 0.0059
    # k-NN balls from ~700 images in 768 dimensions: two real halves are the ceiling.
    assert got["precision"] > 0.7 and got["recall"] > 0.7  # measured 0.81 / 0.84
    assert 0.8 < got["density"] < 1.2  # measured 0.94
    assert got["coverage"] > 0.9  # measured 0.98
    assert got["memorised_share"] < 0.03  # measured 0.004


@pytest.mark.parametrize("name", list(LADDERS))
def test_corruption_ladders_increase_strictly(ladder: Ladder, name: str) -> None:
    ev, real = ladder
    corrupt, strengths = LADDERS[name]
    rungs = [ev.evaluate(corrupt(real, s)) for s in strengths]
    fwds = [r["fwd"] for r in rungs]
    kids = [r["kid_mean"] for r in rungs]
    assert all(a < b for a, b in itertools.pairwise(fwds)), f"{name} FWD {fwds}"
    assert all(a < b for a, b in itertools.pairwise(kids)), f"{name} KID {kids}"
    assert fwds[0] > 0 and kids[0] > 0


def test_phantoms_are_far_from_real(
    ladder: Ladder, patient_halves: tuple[np.ndarray, np.ndarray]
) -> None:
    ev, _ = ladder
    fakes, source = phantoms(300, 64, seed=0)
    got = ev.evaluate(fakes)
    halves = fwd(*patient_halves)
    assert got["fwd"] > 50 * halves, source  # measured 0.48 vs 0.0040
    assert got["kid_mean"] > 1.0, source  # measured 8.9 vs 0.002 for patient halves


def test_evaluate_sets_returns_plain_floats_with_descriptions(
    patient_halves: tuple[np.ndarray, np.ndarray],
) -> None:
    a, b = patient_halves
    got = evaluate_sets(a, b, n=200, kid_subsets=10, kid_subset_size=100)
    assert set(got) <= set(METRICS)
    assert all(type(v) is float for v in got.values())
    assert got["n_real"] == 200.0 and got["n_fake"] == 200.0
    table = format_metrics(got, title="patient halves")
    assert "fwd" in table and "lower" in table and "higher" in table


def test_quality_evaluator_matches_the_one_shot_functions(
    patient_halves: tuple[np.ndarray, np.ndarray],
) -> None:
    a, b = patient_halves
    ev = QualityEvaluator(a, n=500, seed=0, kid_subsets=20, kid_subset_size=200)
    first, again = ev.evaluate(b), ev.evaluate(b)
    assert first == again  # seeded: the same fakes give the same numbers
    once = evaluate_sets(a, b, n=500, seed=0, kid_subsets=20, kid_subset_size=200)
    assert first["fwd"] == pytest.approx(once["fwd"], rel=1e-9)
    assert first["kid_mean"] == pytest.approx(once["kid_mean"], rel=1e-9)
    # Float generator output (N, 1, H, W) in [-1, 1] gives the same numbers as uint8.
    as_tanh = from_uint8(b[:, None])
    assert ev.evaluate(as_tanh)["fwd"] == pytest.approx(first["fwd"], rel=1e-6)
