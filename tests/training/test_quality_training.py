"""--eval-every, checkpoints/best and early stopping during training."""

import json

import pytest
from run_files import records as _records
from run_files import script_fwd
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.training.session import resume_run, start_run

TINY = {**TINY_CONFIG, "demo_images": 96, "steps_per_epoch": 2, "log_every": 1}


def test_eval_every_epoch_logs_quality_and_keeps_best(tmp_path):
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=3, eval_every=1, eval_n=64, **TINY))
    evals = [r for r in _records(run) if "fwd" in r]
    assert [r["step"] for r in evals] == [2, 4, 6]
    assert all(r["fwd"] > 0 and r["eval_s"] >= 0 for r in evals)
    # One KID subset has no spread: kid_std is null exactly then.
    assert all((r["kid_std"] is None) == (r["kid_subsets"] == 1) for r in evals)
    assert (run / "plots/quality.png").is_file()
    assert (run / "checkpoints/best.safetensors").is_file()
    assert "best so far" in (run / "train.log").read_text()


def test_every_evaluation_records_the_real_vs_real_floor(tmp_path):
    """A tiny real training with --eval-every: the floor is computed once, recorded in every
    evaluation record, and shown beside FWD in train.log, quality.png's data and the hint."""
    from cxrgan.reporting.diagnose import diagnose_run
    from cxrgan.reporting.formatting import fmt_number

    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=3, eval_every=1, eval_n=64, **TINY))
    evals = [r for r in _records(run) if "fwd" in r]
    assert len(evals) == 3
    floors = {r["fwd_floor"] for r in evals}
    assert len(floors) == 1 and floors.pop() > 0  # once per run: the same in every record
    # 96 images < 2 × 64: two disjoint halves of 48 (the evaluations use 64 a side)
    assert {r["fwd_floor_n"] for r in evals} == {48}
    log = (run / "train.log").read_text()
    assert log.count("real-vs-real floor") == 3 and "at n=48, ×" in log
    hints = [line for line in log.splitlines() if "diagnosis:" in line]
    assert len(hints) == 3 and all("(floor " in line for line in hints)  # the per-epoch hint
    hint = diagnose_run(run).hint()
    assert (
        f"FWD={fmt_number(evals[-1]['fwd'])} (floor {fmt_number(evals[-1]['fwd_floor'])})" in hint
    )
    assert (run / "plots/quality.png").is_file()


def test_floor_uses_disjoint_samples_at_the_evaluations_n():
    """With at least 2n real images the floor compares the reference sample with n others."""
    import numpy as np

    from cxrgan.data.phantoms import make_phantoms
    from cxrgan.metrics.evaluate import QualityEvaluator, _sample_indices
    from cxrgan.metrics.fwd import fwd

    images = make_phantoms(100, 32, 0)
    ev = QualityEvaluator(images, n=40, seed=3)
    assert ev.fwd_floor_n == 40 and ev.fwd_floor > 0
    ref = _sample_indices(len(images), 40, 3)
    rest = np.setdiff1d(np.arange(len(images)), ref)
    other = np.sort(np.random.default_rng(5).choice(rest, size=40, replace=False))
    assert not set(ref) & set(other)
    assert ev.fwd_floor == pytest.approx(fwd(images[ref], images[other]), rel=1e-9)
    # the same sample as before the floor existed: evaluations stay comparable
    assert ev.evaluate(images[ref])["fwd"] == pytest.approx(0.0, abs=1e-9)
    # fewer than 2n: two halves of all of them; fewer than 4 images: no floor
    assert QualityEvaluator(images[:50], n=40, seed=3).fwd_floor_n == 25
    tiny = QualityEvaluator(images[:3], n=3, seed=3)
    assert tiny.fwd_floor is None and tiny.fwd_floor_n == 1


def test_early_stop_when_patience_runs_out(tmp_path, monkeypatch):
    # Make FWD worsen after the first evaluation, so patience 2 stops at the third.
    scores = iter([1.0, 1.5, 2.0, 2.5, 3.0])
    script_fwd(monkeypatch, scores)
    run = tmp_path / "run"
    start_run(
        TrainConfig(out=str(run), epochs=10, eval_every=1, eval_n=32, early_stop_patience=2, **TINY)
    )
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["epoch"] == 3
    assert info["stopped"]["reason"].startswith("early_stop: FWD has not improved")
    assert "best 1 at step 2" in info["stopped"]["reason"]
    assert len(list((run / "samples").glob("epoch_*.png"))) == 3


def test_early_stop_by_step_and_min_delta(tmp_path, monkeypatch):
    # Improvements smaller than min_delta don't reset patience.
    scores = iter([1.0, 0.99, 0.98, 0.97, 0.5])
    script_fwd(monkeypatch, scores)
    run = tmp_path / "run"
    start_run(
        TrainConfig(
            out=str(run),
            epochs=10,
            eval_every=1,
            eval_unit="step",
            eval_n=32,
            early_stop_patience=3,
            early_stop_min_delta=0.05,
            **TINY,
        )
    )
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["step"] == 4
    assert info["stopped"]["reason"].startswith("early_stop")


def test_patience_survives_resume(tmp_path, monkeypatch):
    scores = iter([1.0, 1.5, 2.0, 2.5])
    script_fwd(monkeypatch, scores)
    run = tmp_path / "run"
    start_run(
        TrainConfig(out=str(run), epochs=2, eval_every=1, eval_n=32, early_stop_patience=2, **TINY)
    )
    resume_run(run, {"epochs": 10})
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["epoch"] == 3  # one bad eval before the resume, one after


def test_early_stop_needs_eval(tmp_path):
    with pytest.raises(CxrganError, match="needs --eval-every"):
        start_run(TrainConfig(out=str(tmp_path / "r"), early_stop_patience=3, **TINY))


def test_balance_auto_raises_g_lr_when_d_overpowers(tmp_path):
    from cxrgan.training.balance import BalanceController

    ctl = BalanceController(2e-4)
    crushed = {"d_x": 0.99, "d_g_z1": 0.01, "loss_d": 0.05, "loss_g": 6.0}
    changes = [ctl.update(crushed, 2e-4) for _ in range(3)]
    assert changes[:2] == [None, None]  # cooldown
    lr, reason = changes[2]
    assert lr == pytest.approx(3e-4) and "D overpowers G" in reason
    lr_g = 2e-4
    for _ in range(100):  # bounded at 10× the base rate
        change = ctl.update(crushed, lr_g)
        lr_g = change[0] if change else lr_g
    assert lr_g == pytest.approx(2e-3)
    weak = {"d_x": 0.5, "d_g_z1": 0.48, "loss_d": 1.4, "loss_g": 0.7}
    for _ in range(200):
        change = ctl.update(weak, lr_g)
        lr_g = change[0] if change else lr_g
    assert lr_g == pytest.approx(2e-5)  # and at a tenth of it


def test_balance_records_changes_in_metrics(tmp_path):
    run = tmp_path / "run"
    cfg = TrainConfig(
        out=str(run),
        epochs=1,
        balance="auto",
        d_lr=5e-3,
        **{**TINY, "steps_per_epoch": 12, "g_lr": 1e-5},
    )
    start_run(cfg)
    events = [r for r in _records(run) if r.get("event") == "balance"]
    train_lrs = [r["lr_g"] for r in _records(run) if "loss_d" in r]
    assert events, "a strong D should make the controller raise lr_G"
    assert all(e["lr_g"] > 1e-5 and "reason" in e for e in events)
    assert train_lrs[-1] == events[-1]["lr_g"]


def test_eval_against_another_folder(tmp_path, png128):
    run = tmp_path / "run"
    start_run(
        TrainConfig(
            out=str(run),
            epochs=1,
            eval_every=1,
            eval_n=16,
            eval_data=str(png128),
            cache=False,
            **TINY,
        )
    )
    assert "quality: FWD/KID on 16 images" in (run / "train.log").read_text()
    assert len([r for r in _records(run) if "fwd" in r]) == 1


def test_tensorboard_writes_scalars_and_grids(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    start_run(
        TrainConfig(out=str(run), epochs=1, tensorboard=True, eval_every=1, eval_n=32, **TINY)
    )
    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    tags = events.Tags()
    assert {"train/loss_d", "train/loss_g", "train/d_x", "quality/fwd"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("train/loss_d")] == [1, 2]
    assert tags["images"] == ["samples"]
