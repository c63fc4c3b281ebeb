"""Short real runs on the whole Kaggle train split (224 px JPEGs), as the issues ask to show."""

import json

import pytest
from run_files import records as _records
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.reporting.diagnose import diagnose_run
from cxrgan.training.session import resume_run, start_run

TINY = {**TINY_CONFIG, "batch_size": 32}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))  # one decode of the 5,216 JPEGs per module


def test_quality_best_and_early_stop_on_kaggle(tmp_path, kaggle224, cache_dir):
    run = tmp_path / "run"
    # min_delta far above any FWD change: the first evaluation is the best, and patience 2
    # runs out two evaluations later, with real FWD values from real generated images.
    start_run(
        TrainConfig(
            data=str(kaggle224),
            out=str(run),
            epochs=50,
            steps_per_epoch=2,
            eval_every=1,
            eval_n=200,
            early_stop_patience=2,
            early_stop_min_delta=100.0,
            cache_dir=cache_dir,
            **TINY,
        )
    )
    evals = [r for r in _records(run) if "fwd" in r]
    assert [r["step"] for r in evals] == [2, 4, 6]
    assert all(r["fwd"] > 0 and "kid_mean" in r for r in evals)
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["epoch"] == 3 and info["stopped"]["reason"].startswith("early_stop")
    assert (run / "plots/quality.png").stat().st_size > 10_000
    assert (run / "checkpoints/best.safetensors").is_file()


def test_strong_discriminator_is_diagnosed_d_overpowers_g(tmp_path, kaggle224, cache_dir):
    run = tmp_path / "run"
    start_run(
        TrainConfig(
            data=str(kaggle224),
            out=str(run),
            epochs=1,
            steps_per_epoch=40,
            log_every=2,
            d_lr=2e-3,
            cache_dir=cache_dir,
            **{**TINY, "g_lr": 2e-5},
        )
    )
    result = diagnose_run(run)
    assert result.state == "d_overpowers_g", result.to_text()
    assert "--g-lr" in result.advice


def test_nan_injected_run_is_diagnosed_divergence(tmp_path, kaggle224, cache_dir):
    run = tmp_path / "run"
    start_run(
        TrainConfig(
            data=str(kaggle224),
            out=str(run),
            epochs=1,
            steps_per_epoch=10,
            log_every=1,
            cache_dir=cache_dir,
            **TINY,
        )
    )
    last = run / "checkpoints/last.safetensors"
    from safetensors import safe_open

    # A rate of 1e30 makes G's weights overflow at step 11; the losses are NaN from step 12.
    # (--on-nan stop: the default would roll back to `last` first.)
    assert resume_run(run, {"epochs": 2, "g_lr": 1e30, "on_nan": "stop"}).stopped
    assert any(r["loss_g"] is None for r in _records(run))  # NaN logged (as null), not hidden
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["reason"] == "diverged: non-finite loss at step 12"
    # The diverged state is not saved over `last`: it still holds epoch 1, step 10.
    with safe_open(str(last), framework="pt") as f:
        counters = json.loads(f.metadata()["state"])["counters"]
    assert (counters["epoch"], counters["step"]) == (1, 10)
    result = diagnose_run(run)
    assert result.state == "diverged", result.to_text()
