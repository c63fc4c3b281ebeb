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
from cxrgan.metrics import PrdcSpace, QualityEvaluator, evaluate_sets, format_metrics, fwd, prdc
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
    # k-NN balls from ~700 images: two real halves are the ceiling.
    assert got["precision"] > 0.85 and got["recall"] > 0.8  # measured 0.92 / 0.88
    assert 0.85 < got["density"] < 1.2  # measured 1.05
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


Halves = tuple[np.ndarray, np.ndarray]
PRDC_LADDERS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], tuple[float, ...]]] = {
    # sigma 0.25 px is not on it: its kernel is [3e-4, 1, 3e-4], the identity after rounding.
    "blur": (blur, (0.5, 1.0, 1.5, 2.0, 3.0)),
    # below ~8 gray levels noise is inside the real-vs-real spread (FWD sees 4 as 0.0004, a
    # tenth of the patient halves' 0.004): precision does not move yet.
    "noise": (lambda x, s: add_noise(x, s, seed=1), (8.0, 16.0, 32.0)),
}


@pytest.mark.parametrize("name", list(PRDC_LADDERS))
def test_precision_and_recall_fall_step_by_step(patient_halves: Halves, name: str) -> None:
    # Real side: one patient half; fakes: the other half, corrupted more and more. Measured
    # (docs/metrics.md): blur 0.5 -> 3 px: precision 0.92 0.86 0.72 0.51 0.27, recall 0.87
    # 0.79 0.51 0.26 0.05; noise 8 -> 32: precision 0.91 0.85 0.56, recall 0.83 0.61 0.27.
    # The previous space (KID's features) gave 0 for every blur >= 1 px and noise >= 8.
    real, other = patient_halves
    space = PrdcSpace.fit(real)
    ref = space(real)
    ceiling = prdc(ref, space(other))
    corrupt, strengths = PRDC_LADDERS[name]
    rungs = [prdc(ref, space(corrupt(other, s))) for s in strengths]
    for key in ("precision", "recall"):
        values = [ceiling[key]] + [r[key] for r in rungs]
        assert all(a > b for a, b in itertools.pairwise(values[1:])), f"{name} {key} {values}"
        assert values[1] <= values[0] + 0.02, f"{name} {key} {values}"
        assert values[-1] < values[0] - 0.25, f"{name} {key} {values}"  # it does fall
    # Gradual: the middle of each ladder is neither the ceiling nor zero.
    middle = rungs[len(rungs) // 2]
    assert 0.2 < middle["precision"] < ceiling["precision"] - 0.05, f"{name} {middle}"
    assert rungs[-1]["precision"] > 0.1, f"{name} {rungs[-1]}"


def test_mode_dropping_lowers_recall_and_coverage_not_precision(
    patient_halves_labelled: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]],
) -> None:
    # Fakes drawn from one class only (NORMAL) against NORMAL + PNEUMONIA reals: every fake
    # looks real (precision stays), but most of the real variety is missing. Measured:
    # precision 0.94 vs 0.92 for the whole other half; recall 0.43 vs 0.88; coverage 0.33 vs 0.98.
    real, other, labels, classes = patient_halves_labelled
    normal = other[labels == classes.index("NORMAL")]
    space = PrdcSpace.fit(real)
    ref = space(real)
    whole, dropped = prdc(ref, space(other)), prdc(ref, space(normal))
    assert dropped["precision"] > whole["precision"] - 0.03, (dropped, whole)
    assert dropped["recall"] < whole["recall"] - 0.2, (dropped, whole)
    assert dropped["coverage"] < whole["coverage"] - 0.3, (dropped, whole)


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
