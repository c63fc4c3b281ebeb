"""The recipes' values, written out: changing a recipe is a deliberate act that edits this file
and bumps the recipe's version, never a side effect that CI lets through."""

from cxrgan.config import TrainConfig
from cxrgan.recipes import DEFAULT_RECIPE, RECIPES

TUTORIAL = {
    "model": "dcgan", "nz": 100, "ngf": 64, "ndf": 64, "d_spectral_norm": False, "loss": "bce",
    "r1_gamma": 0.0, "augment": "none", "ema_kimg": 0.0, "ema_rampup": 0.05, "g_lr": 2e-4,
    "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 128, "lr_schedule": "constant",
    "lr_floor": 0.1, "lr_hold_kimg": 0.0,
}  # fmt: skip
PINNED = {
    ("tutorial", 1): TUTORIAL,
    ("blog", 1): {**TUTORIAL, "g_lr": 1e-3},
    ("small-data", 3): {**TUTORIAL, "g_lr": 1e-3, "batch_size": 16, "ema_kimg": 10.0,
                        "augment": "ada", "lr_schedule": "cosine", "lr_floor": 0.05,
                        "lr_hold_kimg": 16.0},
}


def test_every_recipe_has_its_pinned_values_and_version():
    assert {(r.name, r.version): r.settings for r in RECIPES.values()} == PINNED


def test_the_default_recipe_is_small_data_version_3_with_ada_ema_and_a_cosine_decay():
    assert DEFAULT_RECIPE == "small-data" and RECIPES[DEFAULT_RECIPE].version == 3
    cfg = TrainConfig.from_dict({})
    assert (cfg.recipe, cfg.augment, cfg.ema_kimg, cfg.g_lr, cfg.d_lr, cfg.batch_size) == (
        "small-data", "ada", 10.0, 1e-3, 2e-4, 16,
    )
    assert (cfg.lr_schedule, cfg.lr_floor, cfg.lr_hold_kimg) == ("cosine", 0.05, 16.0)


def test_a_config_built_directly_takes_the_recipe_it_names_under_what_it_is_given():
    # as --recipe tutorial --g-lr 1e-3 does; before, fields not given kept small-data's values
    cfg = TrainConfig(recipe="tutorial", g_lr=1e-3)
    assert {k: getattr(cfg, k) for k in TUTORIAL} == {**TUTORIAL, "g_lr": 1e-3}
    assert {k: getattr(TrainConfig(), k) for k in TUTORIAL} == PINNED[("small-data", 3)]


def test_replace_with_another_recipe_takes_its_values_and_keeps_the_overrides():
    # before, replace(recipe="tutorial") recorded the tutorial but kept small-data's values
    cfg = TrainConfig(d_lr=1e-4, nz=16).replace(recipe="tutorial", g_lr=5e-4)
    overrides = {"d_lr": 1e-4, "nz": 16, "g_lr": 5e-4}
    assert {k: getattr(cfg, k) for k in TUTORIAL} == {**TUTORIAL, **overrides}
    assert cfg.recipe == "tutorial"
    assert cfg.replace(recipe="small-data") == TrainConfig(d_lr=1e-4, nz=16, g_lr=5e-4)
    assert cfg.replace(epochs=3).g_lr == 5e-4 and TrainConfig().replace(nz=8).ema_kimg == 10.0
