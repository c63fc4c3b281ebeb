"""The in-training evaluator reports precision and recall beside FWD and KID, equal to
evaluate_sets' on the same draw, so a long run's recall can be followed over time."""

import numpy as np
import pytest

from cxrgan.metrics import QualityEvaluator, evaluate_sets


def test_precision_and_recall_match_evaluate_sets(patient_halves):
    a, b = patient_halves
    n = min(len(a), len(b), 300)
    evaluator = QualityEvaluator(a, n=n, seed=0)
    got = evaluator.evaluate(b)
    # evaluate_sets draws the real side with `seed` and the fakes with seed + 1, as here
    want = evaluate_sets(a, b, n=n, seed=0)
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
    assert got["recall"] > 0.5  # new patients' films are real films


def test_a_collapsed_generator_has_no_recall(patient_halves):
    a, _ = patient_halves
    evaluator = QualityEvaluator(a, n=200, seed=0)
    collapsed = np.repeat(a[:1], 200, axis=0)
    assert evaluator.evaluate(collapsed)["recall"] < 0.05


def test_too_few_images_for_k_neighbours_give_none(patient_halves):
    a, b = patient_halves
    got = QualityEvaluator(a[:5], n=5, seed=0).evaluate(b[:5])
    assert got["fwd"] is not None
    assert [got[k] for k in ("precision", "recall", "density", "coverage")] == [None] * 4
