"""bce, ns and hinge against values and gradients computed by hand on a few logits."""

import math

import pytest
import torch
from torch import nn

from cxrgan.losses import LOSSES
from cxrgan.losses.bce import BCELoss

LOGITS = [-2.0, -0.5, 0.0, 0.5, 3.0]


def _loss(name: str):
    return LOSSES.load(name)(nn.Identity(), nn.Identity())


def _value_and_grad(fn, values=LOGITS):
    logits = torch.tensor(values, requires_grad=True)
    out = fn(logits)
    out.backward()
    return out.item(), logits.grad.tolist()


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_losses_are_registered():
    assert {"bce", "ns", "hinge"} <= set(LOSSES)


def test_hinge_matches_hand_computed_values_and_subgradients():
    loss, n = _loss("hinge"), len(LOGITS)
    # D on real: relu(1 − l) = [3, 1.5, 1, 0.5, 0]; d/dl = −1/n where 1 − l > 0, else 0.
    value, grad = _value_and_grad(loss.d_real_loss)
    assert value == pytest.approx((3 + 1.5 + 1 + 0.5 + 0) / n)
    assert grad == pytest.approx([-1 / n, -1 / n, -1 / n, -1 / n, 0.0])
    # D on fakes: relu(1 + l) = [0, 0.5, 1, 1.5, 4]; d/dl = +1/n where 1 + l > 0, else 0.
    value, grad = _value_and_grad(loss.d_fake_loss)
    assert value == pytest.approx((0 + 0.5 + 1 + 1.5 + 4) / n)
    assert grad == pytest.approx([0.0, 1 / n, 1 / n, 1 / n, 1 / n])
    # G: −mean(l) = −1/5; d/dl = −1/n everywhere, however sure D is.
    value, grad = _value_and_grad(loss.g_loss)
    assert value == pytest.approx(-(-2 - 0.5 + 0 + 0.5 + 3) / n)
    assert grad == pytest.approx([-1 / n] * n)


def test_hinge_margins_are_at_plus_and_minus_one():
    loss = _loss("hinge")
    assert loss.d_real_loss(torch.tensor([1.0, 2.0, 10.0])).item() == 0
    assert loss.d_fake_loss(torch.tensor([-1.0, -2.0, -10.0])).item() == 0


@pytest.mark.parametrize("name", ["bce", "ns"])
def test_logistic_losses_match_hand_computed_values_and_gradients(name):
    loss, n = _loss(name), len(LOGITS)
    sig = [_sigmoid(v) for v in LOGITS]
    # D on real: −log σ(l); d/dl = −(1 − σ(l))/n.
    value, grad = _value_and_grad(loss.d_real_loss)
    assert value == pytest.approx(-sum(math.log(s) for s in sig) / n)
    assert grad == pytest.approx([-(1 - s) / n for s in sig])
    # D on fakes: −log(1 − σ(l)); d/dl = σ(l)/n.
    value, grad = _value_and_grad(loss.d_fake_loss)
    assert value == pytest.approx(-sum(math.log(1 - s) for s in sig) / n)
    assert grad == pytest.approx([s / n for s in sig])
    # G, non-saturating: −log σ(l); the gradient stays large where D rejects the fakes.
    value, grad = _value_and_grad(loss.g_loss)
    assert value == pytest.approx(-sum(math.log(s) for s in sig) / n)
    assert grad == pytest.approx([-(1 - s) / n for s in sig])
    assert abs(grad[0]) > 0.8 / n  # at l = −2: −(1 − σ(−2))/n ≈ −0.88/n, not ≈ 0


def test_ns_is_bce_under_its_stylegan2_name():
    ns, bce = _loss("ns"), _loss("bce")
    assert isinstance(ns, BCELoss)
    torch.manual_seed(0)
    logits = torch.randn(64) * 10  # large logits too: softplus keeps both exact and finite
    for part in ("d_real_loss", "d_fake_loss", "g_loss"):
        a, b = getattr(ns, part)(logits), getattr(bce, part)(logits)
        assert torch.equal(a, b) and torch.isfinite(a)
