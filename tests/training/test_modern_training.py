"""Recipes, EMA, R1, ADA, spectral norm and the time budget, through real (tiny) runs."""

import json

import pytest
import torch
from run_files import last_tensors, straight_and_resumed
from run_files import records as _records
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.inference.generate import generate_images
from cxrgan.recipes import DEFAULT_RECIPE, GOVERNED, RECIPES
from cxrgan.training.session import resume_run, start_run

TINY = {**TINY_CONFIG, "demo_images": 64, "steps_per_epoch": 4, "log_every": 2}


def test_every_recipe_sets_the_same_valid_settings():
    fields = set(TrainConfig.__dataclass_fields__)
    for recipe in RECIPES.values():
        assert tuple(recipe.settings) == GOVERNED and set(GOVERNED) <= fields
        TrainConfig.from_dict({"recipe": recipe.name}).validate()


def test_a_recipe_fills_in_and_explicit_options_override():
    cfg = TrainConfig.from_dict({"recipe": "blog", "d_lr": 1e-4})
    assert (cfg.recipe, cfg.g_lr, cfg.d_lr, cfg.model) == ("blog", 1e-3, 1e-4, "dcgan")
    assert TrainConfig.from_dict({}).recipe == DEFAULT_RECIPE
    with pytest.raises(CxrganError, match="--recipe must be one of"):
        TrainConfig.from_dict({"recipe": "nope"}).validate()


def test_recipe_and_overrides_are_recorded(tmp_path):
    run = tmp_path / "run"
    sized = {k: v for k, v in TINY.items() if k != "recipe"}  # the blog recipe's rates stand
    start_run(TrainConfig.from_dict({**sized, "recipe": "blog", "epochs": 1, "out": str(run)}))
    info = json.loads((run / "config.json").read_text())
    assert info["config"]["recipe"] == "blog" and info["config"]["g_lr"] == 1e-3
    # TINY's widths, latent and batch differ from the recipe's: recorded as overrides.
    assert info["recipe"] == {
        "name": "blog",
        "version": RECIPES["blog"].version,
        "overridden": {"nz": 100, "ngf": 64, "ndf": 64, "batch_size": 128},
    }


def test_modern_parts_resume_bit_exactly(tmp_path):
    """EMA, ADA (p and its counters), lazy R1 and spectral norm all continue bit for bit."""
    modern = {**TINY, "ema_kimg": 0.05, "augment": "ada", "r1_gamma": 0.1,
              "d_spectral_norm": True}  # fmt: skip
    straight, split = straight_and_resumed(tmp_path, modern, 3)
    a, b = last_tensors(straight), last_tensors(split)
    assert a.keys() == b.keys()
    assert any(k.startswith("G_ema.") for k in a) and "augment.prob" in a
    assert any("parametrizations" in k for k in a if k.startswith("D."))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    records = [r for r in _records(split) if "loss_d" in r]
    assert [r["step"] for r in records] == [2, 4, 6, 8, 10, 12]
    assert all("augment_p" in r for r in records)
    # Lazy R1 runs at steps 0, 16, ...: only the first window reports it. D's Adam rate is
    # scaled by 16/17 because D's optimiser also steps after each R1 phase (StyleGAN2).
    assert ["r1_penalty" in r for r in records] == [True] + [False] * 5
    assert all(r["lr_d"] == pytest.approx(2e-4 * 16 / 17) for r in records)
    straight_records = [r for r in _records(straight) if "loss_d" in r]
    assert [r["loss_g"] for r in records] == [r["loss_g"] for r in straight_records]


def test_ema_generator_is_what_generate_uses_unless_raw(tmp_path):
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=1, **{**TINY, "ema_kimg": 10}))
    ema = generate_images(run, 4, seed=1)
    raw = generate_images(run, 4, seed=1, raw=True)
    assert ema.shape == raw.shape == (4, 32, 32)
    assert not (ema == raw).all()  # a 10k-image half-life keeps G_ema near its start


def test_time_budget_stops_saves_last_and_records_why(tmp_path):
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=50, minutes=1e-9, **TINY))
    info = json.loads((run / "config.json").read_text())
    assert info["stopped"]["reason"].startswith("budget: ")
    assert info["stopped"]["step"] == 1  # the first step already spends the budget
    assert (run / "checkpoints" / "last.safetensors").is_file()
    resume_run(run, {"minutes": 1e9, "epochs": 1})  # a larger budget continues the run
    assert json.loads((run / "config.json").read_text())["stopped"]["reason"] == "completed"
