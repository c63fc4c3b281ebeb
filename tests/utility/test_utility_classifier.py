"""The fixed classifier: deterministic given a seed, learns, binary and multi-class, documented."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from utility_helpers import labelled

from cxrgan.errors import CxrganError
from cxrgan.utility.classifier import (
    class_weights,
    parameter_count,
    predict_proba,
    train_classifier,
    translate,
)
from cxrgan.utility.stats import balanced_accuracy, roc_auc


def fit(images: np.ndarray, labels: np.ndarray, seed: int, epochs: int = 2, k: int = 2):
    return train_classifier(images, labels, k, seed, epochs=epochs, progress=False).model


def test_same_seed_same_weights_and_predictions_other_seed_differs() -> None:
    images, labels = labelled({0: 40, 1: 30})
    test, _ = labelled({0: 10, 1: 10}, seed=1)
    before = torch.get_rng_state()
    first, again, other = fit(images, labels, 0), fit(images, labels, 0), fit(images, labels, 1)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG was not used
    a, b, c = first.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)  # BatchNorm's buffers too
    assert not torch.equal(a["head.weight"], c["head.weight"])
    pa, pb, pc = (predict_proba(m, test) for m in (first, again, other))
    assert np.array_equal(pa, pb)
    assert not np.allclose(pa, pc)


def test_it_learns_two_classes_apart() -> None:
    images, labels = labelled({0: 96, 1: 160})
    test, truth = labelled({0: 50, 1: 50}, seed=1)
    probs = predict_proba(fit(images, labels, 0, epochs=6), test)
    assert roc_auc(probs, truth) > 0.95
    assert balanced_accuracy(probs, truth) > 0.85


def test_three_classes_give_three_probabilities_per_image() -> None:
    images, labels = labelled({0: 30, 1: 30, 2: 30})
    test, truth = labelled({0: 20, 1: 20, 2: 20}, seed=1)
    probs = predict_proba(fit(images, labels, 0, epochs=6, k=3), test)
    assert probs.shape == (60, 3) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert roc_auc(probs, truth) > 0.8  # macro one-vs-rest; chance is 0.5


def test_class_weights_make_each_class_weigh_the_same() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights.tolist() == pytest.approx([4 / 6, 2.0])  # n / (K · n_k)
    assert class_weights(np.array([0, 0, 1]), 3).tolist() == pytest.approx([0.5, 1.0, 0.0])


def test_translation_moves_each_image_by_at_most_the_shift() -> None:
    x = torch.zeros(64, 1, 16, 16)
    x[:, 0, 8, 8] = 1.0
    moved = translate(x, 2, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape
    where = torch.stack([torch.nonzero(m[0])[0] for m in moved])  # the one lit pixel of each
    assert (moved.flatten(1).sum(1) == 1).all()
    offsets = where - 8
    assert offsets.abs().max() == 2 and len({tuple(o.tolist()) for o in offsets}) > 10
    flat = torch.full((4, 1, 16, 16), 0.3)  # edges repeated: a flat image stays flat
    assert torch.equal(translate(flat, 2, torch.Generator().manual_seed(0)), flat)


def test_parameter_count_is_the_documented_one() -> None:
    assert parameter_count(2) == 97_650  # docs/utility.md
    assert parameter_count(3) == 97_650 + 129


def test_too_small_images_are_refused() -> None:
    images, labels = labelled({0: 4, 1: 4}, size=8)
    with pytest.raises(CxrganError, match="at least 16 px"):
        fit(images, labels, 0)
