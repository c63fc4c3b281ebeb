"""The three training sets: TSTR's class counts, the top-up arithmetic, and the images chosen."""

from __future__ import annotations

import numpy as np
import pytest

from cxrgan.utility.sets import SetPlan, assemble, plan_sets, synthetic_needed, topup_counts

KAGGLE = {"NORMAL": 1341, "PNEUMONIA": 3875}  # the Kaggle training split


def test_topup_brings_every_class_to_the_largest() -> None:
    assert topup_counts(KAGGLE) == {"NORMAL": 2534, "PNEUMONIA": 0}
    assert topup_counts({"a": 5, "b": 2, "c": 9}) == {"a": 4, "b": 7, "c": 0}
    assert topup_counts({"a": 3, "b": 3}) == {"a": 0, "b": 0}


def test_plans_of_the_kaggle_split() -> None:
    real, synthetic, augmented = plan_sets(KAGGLE)
    assert (real.key, synthetic.key, augmented.key) == ("real", "synthetic", "augmented")
    assert real.real == KAGGLE and real.n_synthetic == 0
    # TSTR: synthetic images only, class for class as many as the real training set has.
    assert synthetic.synthetic == KAGGLE and synthetic.n_real == 0
    assert synthetic.class_counts() == real.class_counts()
    # Augmented: every real image, NORMAL topped up to PNEUMONIA's 3875.
    assert augmented.real == KAGGLE
    assert augmented.synthetic == {"NORMAL": 2534, "PNEUMONIA": 0}
    assert augmented.class_counts() == {"NORMAL": 3875, "PNEUMONIA": 3875}
    # One pool serves both: TSTR needs 1341 NORMAL, the top-up 2534.
    assert synthetic_needed([real, synthetic, augmented]) == {"NORMAL": 2534, "PNEUMONIA": 3875}


def marked(values: list[int]) -> np.ndarray:
    """4×4 images, each filled with its value: the pixel tells which image it is."""
    return np.array(values, np.uint8)[:, None, None] * np.ones((1, 4, 4), np.uint8)


def test_assemble_takes_all_real_images_and_the_first_of_each_pool() -> None:
    classes = ["NORMAL", "PNEUMONIA"]
    real_images, real_labels = marked([0, 1, 2, 3, 4, 5]), np.array([0, 1, 1, 0, 1, 1])
    pool = {"NORMAL": marked([100, 101, 102, 103]), "PNEUMONIA": marked([200, 201, 202, 203])}
    real, synthetic, augmented = plan_sets({"NORMAL": 2, "PNEUMONIA": 4})

    def content(plan: SetPlan) -> list[tuple[int, int]]:
        images, labels = assemble(plan, classes, real_images, real_labels, pool)
        return sorted(zip(images[:, 0, 0].tolist(), labels.tolist(), strict=True))

    assert content(real) == [(0, 0), (1, 1), (2, 1), (3, 0), (4, 1), (5, 1)]
    assert content(synthetic) == [(100, 0), (101, 0), (200, 1), (201, 1), (202, 1), (203, 1)]
    assert content(augmented) == sorted([*content(real), (100, 0), (101, 0)])


def test_assemble_refuses_a_pool_too_small() -> None:
    synthetic = plan_sets({"NORMAL": 2, "PNEUMONIA": 1})[1]
    pool = {"NORMAL": np.zeros((1, 4, 4), np.uint8), "PNEUMONIA": np.zeros((1, 4, 4), np.uint8)}
    images = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="needs 2 synthetic NORMAL"):
        assemble(synthetic, ["NORMAL", "PNEUMONIA"], images, np.array([0, 0, 1]), pool)
