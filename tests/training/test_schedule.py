"""Learning-rate schedules over the budget: shape values and how far through its budget a run is."""

import itertools
import math

import pytest

from cxrgan.schedule import SHAPES, budget_progress, rate_factor


@pytest.mark.parametrize("shape", sorted(set(SHAPES) - {"constant"}))
def test_every_decaying_shape_runs_from_one_to_the_floor_without_rising(shape):
    values = [rate_factor(shape, i / 100, 0.1) for i in range(101)]
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(0.1)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(values))


def test_shapes_at_midpoint_and_outside_the_budget():
    assert rate_factor("cosine", 0.5, 0.0) == pytest.approx(0.5)
    quarter = 0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2
    assert rate_factor("cosine", 0.25, 0.2) == pytest.approx(quarter)
    assert rate_factor("linear", 0.25, 0.0) == pytest.approx(0.75)
    assert rate_factor("linear", 1.7, 0.3) == pytest.approx(0.3)  # past the budget: the floor
    assert rate_factor("cosine", -1.0, 0.3) == pytest.approx(1.0)
    assert rate_factor("constant", 0.9, 0.1) == 1.0


def test_progress_is_the_limit_that_comes_first():
    assert budget_progress(50, 200, 10.0, None) == pytest.approx(0.25)
    assert budget_progress(50, None, 30.0, 60.0) == pytest.approx(0.5)
    assert budget_progress(50, 200, 30.0, 60.0) == pytest.approx(0.5)  # time runs out first
    assert budget_progress(190, 200, 30.0, 60.0) == pytest.approx(0.95)
    assert budget_progress(500, 200, 0.0, None) == 1.0
    assert budget_progress(7, None, 3.0, None) == 0.0


def test_a_decay_start_holds_the_rates_then_decays_over_the_rest_of_the_budget():
    assert rate_factor("cosine", 0.3, 0.05, start=0.5) == 1.0  # held
    assert rate_factor("cosine", 0.5, 0.05, start=0.5) == pytest.approx(1.0)
    middle = 0.05 + 0.95 * 0.5  # halfway through the decay: cosine at its midpoint
    assert rate_factor("cosine", 0.75, 0.05, start=0.5) == pytest.approx(middle)
    assert rate_factor("cosine", 1.0, 0.05, start=0.5) == pytest.approx(0.05)
    assert rate_factor("linear", 0.9, 0.0, start=0.8) == pytest.approx(0.5)
    assert rate_factor("constant", 0.9, 0.1, start=0.5) == 1.0
