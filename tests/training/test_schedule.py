"""Learning-rate schedules over the budget: shape values and how far through its budget a run is."""

import itertools
import math

import pytest

from cxrgan.schedule import SHAPES, budget_progress, hold_share, rate_factor


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
    assert rate_factor("cosine", 0.9, 0.05, start=1.0) == 1.0  # the budget ends at the hold


def test_the_hold_is_its_images_share_of_the_images_the_budget_will_show():
    # A budget of 1,000 steps of 16 images (16,000): a hold of 4,000 images is its first quarter.
    for step in (300, 500, 1000):
        assert hold_share(step / 1000, step * 16, 4000) == pytest.approx(0.25)
    # Before the hold is reached the start lies ahead of the run, so the rates are held.
    assert rate_factor("cosine", 0.2, 0.05, hold_share(0.2, 200 * 16, 4000)) == 1.0
    assert rate_factor("cosine", 0.625, 0.05, hold_share(0.625, 625 * 16, 4000)) == (
        pytest.approx(0.05 + 0.95 * 0.5)
    )
    # A budget of minutes: the images it will show are estimated from the run's speed so far.
    assert hold_share(0.5, 20_000, 10_000) == pytest.approx(0.25)  # 40,000 images in all


def test_a_budget_that_ends_before_the_hold_keeps_constant_rates():
    # 10 minutes at 128 px on 2 cores are ~8,800 images: a hold of 24,000 never decays.
    for step in (1, 100, 275, 550):
        start = hold_share(step / 550, step * 16, 24_000)
        assert start == 1.0
        assert rate_factor("cosine", step / 550, 0.05, start) == 1.0
    assert hold_share(0.0, 0, 24_000) == 1.0  # nothing trained yet
    assert hold_share(0.7, 5_000, 0) == 0.0  # no hold: decay from the first step
