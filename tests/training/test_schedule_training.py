"""--lr-schedule through real (tiny) runs: the rates the optimisers ran, logged each step, follow
the shape over the budget; a resume continues them bit for bit; constant changes nothing."""

import math

import pytest
import torch
from run_files import last_tensors, records
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.schedule import hold_share, rate_factor
from cxrgan.training import loop
from cxrgan.training.session import resume_run, start_run

TINY = {**TINY_CONFIG, "demo_images": 64, "steps_per_epoch": 4, "log_every": 1}
COSINE = {**TINY, "lr_schedule": "cosine", "lr_floor": 0.2}


def _train_records(run):
    return [r for r in records(run) if "loss_d" in r]


def test_the_logged_rates_follow_the_cosine_over_the_epochs(tmp_path):
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=2, **COSINE))
    got = _train_records(run)
    assert [r["step"] for r in got] == list(range(1, 9))
    for r in got:  # the record after step n was logged with the factor step n ran at
        factor = rate_factor("cosine", (r["step"] - 1) / 8, 0.2)
        assert r["lr_scale"] == pytest.approx(factor, abs=1e-6)
        assert r["lr_g"] == pytest.approx(2e-4 * factor, rel=1e-9)
        assert r["lr_d"] == pytest.approx(2e-4 * factor, rel=1e-9)
    assert got[-1]["lr_g"] < 0.25 * 2e-4  # near the floor at the end


def test_a_hold_keeps_the_full_rates_for_its_images_then_decays_over_the_rest(tmp_path):
    run = tmp_path / "run"
    batch = TINY["batch_size"]
    held = 3 * batch  # the images of 3 steps: 3 of the budget's 8
    start_run(TrainConfig(out=str(run), epochs=2, **{**COSINE, "lr_hold_kimg": held / 1000}))
    got = _train_records(run)
    assert [r["lr_scale"] for r in got[:4]] == [1.0] * 4  # steps 1-4 ran after < 3 steps' images
    for r in got:
        done = r["step"] - 1
        factor = rate_factor("cosine", done / 8, 0.2, hold_share(done / 8, done * batch, held))
        assert r["lr_scale"] == pytest.approx(factor, abs=1e-6)
    # The decay runs over the 5 steps after the hold, not the 8 of the budget.
    assert got[-1]["lr_scale"] == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi * 4 / 5)) / 2)


def test_an_interrupted_run_resumes_on_the_same_rates_bit_for_bit(tmp_path, monkeypatch):
    straight, split = tmp_path / "straight", tmp_path / "split"
    start_run(TrainConfig(out=str(straight), epochs=3, **COSINE))
    end_epoch = loop._end_epoch

    def stop_after_first(t, means):
        end_epoch(t, means)
        t.request_stop("interrupted")

    monkeypatch.setattr(loop, "_end_epoch", stop_after_first)
    start_run(TrainConfig(out=str(split), epochs=3, **COSINE))
    monkeypatch.setattr(loop, "_end_epoch", end_epoch)
    resume_run(split, {})
    a, b = last_tensors(straight), last_tensors(split)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    lrs = [(r["step"], r["lr_g"]) for r in _train_records(split)]
    assert lrs == [(r["step"], r["lr_g"]) for r in _train_records(straight)]


def test_constant_logs_the_set_rates_and_no_scale(tmp_path):
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=1, **TINY))
    got = _train_records(run)
    assert all(r["lr_g"] == 2e-4 and "lr_scale" not in r for r in got)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr_schedule": "step"}, "--lr-schedule must be one of"),
        ({"lr_floor": 1.0}, "--lr-floor"),
        ({"lr_floor": -0.1}, "--lr-floor"),
        ({"lr_hold_kimg": -1.0}, "--lr-hold-kimg"),
    ],
)
def test_bad_schedule_settings_are_one_line(values, message):
    with pytest.raises(CxrganError, match=message):
        TrainConfig.from_dict({**TINY, **values}).validate()
