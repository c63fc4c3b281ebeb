"""Single-image sampling on standing statistics: one latent (and class), one image, whatever
else is drawn with it. `cxrgan generate --n 1` and `load_generator(run).sample(1)` give,
bit for bit on CPU, the image that latent gives inside a batch of 64; checkpoints store the
statistics, and older ones get them on load."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from image_factory import write_image
from PIL import Image
from safetensors.torch import load_file
from tiny import TINY_CONFIG

import cxrgan
from cxrgan.cli.main import main
from cxrgan.data.pixels import to_uint8
from cxrgan.inference.generate import load_model
from cxrgan.models.standing import STANDING_LATENTS, compute_standing_stats
from cxrgan.training.checkpoint import load_checkpoint, save_checkpoint

CLASSES = ("NORMAL", "PNEUMONIA")


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "run"
    settings = {**TINY_CONFIG, "ema_kimg": 0.01, "demo_images": 32, "epochs": 1}
    return cxrgan.train({**settings, "steps_per_epoch": 3, "out": str(out)})


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("conditional")
    for k in range(24):
        write_image(root / "data" / CLASSES[k % 3 == 0] / f"xray{k:02d}.png", seed=k)
    settings = {**TINY_CONFIG, "ema_kimg": 0.01, "conditional": True, "cache": False}
    return cxrgan.train({**settings, "data": str(root / "data"), "epochs": 1,
                         "steps_per_epoch": 3, "out": str(root / "run")})  # fmt: skip


def in_a_batch_of_64(g: cxrgan.SyntheticGenerator, seed: int, at: int, label: int | None = None,
                     others: int = 0) -> torch.Tensor:  # fmt: skip
    """The image of latent `at` of `seed`'s stream (class `label`), run by hand in eval mode
    inside a batch of 64 whose other labels come from `others`."""
    z = torch.randn(64, g.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        if label is None:
            return g.module.eval()(z)[at]
        c = torch.randint(0, g.c_dim, (64,), generator=torch.Generator().manual_seed(others))
        c[at] = label
        return g.module.eval()(z, c)[at]


def generated_png(run: Path, out: Path, *args: str) -> np.ndarray:
    assert main(["generate", str(run), "--out", str(out), "--checkpoint", "last", *args]) == 0
    return np.asarray(Image.open(sorted(out.rglob("*.png"))[0]))


def test_one_unconditional_image_is_the_one_its_latent_gives_in_a_batch_of_64(plain_run, tmp_path):
    g = cxrgan.load_generator(plain_run, "last")
    expected = in_a_batch_of_64(g, seed=5, at=0)
    one = g.sample(1, seed=5, output="tensor")
    assert torch.equal(one[0], expected)  # bit for bit, not just to uint8 rounding
    assert torch.equal(g.sample(64, seed=5, output="tensor")[0], expected)
    first = g.sample(70, seed=5, output="tensor")[:3]
    assert torch.equal(first, g.sample(3, seed=5, output="tensor"))
    pixels = to_uint8(expected[None])[0]
    assert np.array_equal(g.sample(1, seed=5)[0], pixels)
    assert np.array_equal(generated_png(plain_run, tmp_path / "one", "--n", "1", "--seed", "5"),
                          pixels)  # fmt: skip


def test_one_conditional_image_is_the_one_its_latent_and_class_give_in_any_batch(
    conditional_run, tmp_path
):
    g = cxrgan.load_generator(conditional_run, "last")
    for label in (0, 1):
        expected = in_a_batch_of_64(g, seed=3, at=0, label=label, others=1)
        # Other classes beside it change nothing: the batch is not part of the image.
        assert torch.equal(in_a_batch_of_64(g, seed=3, at=0, label=label, others=2), expected)
        one = g.sample(1, label=CLASSES[label], seed=3, output="tensor")
        assert torch.equal(one[0], expected)
        mixed = g.sample(64, label=[label] + [1 - label] * 63, seed=3, output="tensor")
        assert torch.equal(mixed[0], expected)
    # `cxrgan generate --label PNEUMONIA --seed 0` draws class 1 from seed 0 * 1000 + 1.
    expected = to_uint8(in_a_batch_of_64(g, seed=1, at=0, label=1)[None])[0]
    png = generated_png(conditional_run, tmp_path / "one", "--label", "PNEUMONIA", "--n", "1")
    assert np.array_equal(png, expected)


def test_in_other_batch_sizes_an_image_moves_by_float_rounding_only(plain_run):
    g = cxrgan.load_generator(plain_run, "last")
    z = torch.randn(64, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = g.module.eval()(z)
        for b in (1, 3, 5, 17):
            torch.testing.assert_close(g.module(z[:b]), full[:b], rtol=0, atol=1e-5)


def test_checkpoints_store_the_standing_statistics_of_g_ema(plain_run):
    ckpt = load_checkpoint(plain_run / "checkpoints" / "last.safetensors")
    stored = ckpt.prefixed("standing.G_ema")
    g = cxrgan.load_generator(plain_run, "last").module
    assert stored and not g.training
    for key, value in stored.items():  # what the loader put into G_ema's batch norms
        assert torch.equal(g.state_dict()[key].cpu(), value), key
    means = [v for k, v in stored.items() if k.endswith("running_mean")]
    assert all(int(v) == STANDING_LATENTS // 64 for k, v in stored.items()
               if k.endswith("num_batches_tracked"))  # fmt: skip
    # Not the moving averages that G_ema carried from G, nor the fresh layers' zeros.
    carried = ckpt.prefixed("G_ema")
    assert not any(torch.equal(v, carried[k]) for k, v in stored.items() if "running" in k)
    assert all(m.abs().sum() > 0 for m in means)


def test_an_older_checkpoint_gets_them_on_load_with_a_note(plain_run, tmp_path):
    path = plain_run / "checkpoints" / "last.safetensors"
    ckpt = load_checkpoint(path)
    old = tmp_path / "run"
    (old / "checkpoints").mkdir(parents=True)
    (old / "config.json").write_bytes((plain_run / "config.json").read_bytes())
    ckpt.tensors = {k: v for k, v in ckpt.tensors.items() if not k.startswith("standing.")}
    save_checkpoint(old / "checkpoints" / "last.safetensors", ckpt)
    assert not any(k.startswith("standing") for k in load_file(old / "checkpoints" /
                                                                 "last.safetensors"))  # fmt: skip
    with pytest.warns(UserWarning, match=r"no standing statistics .* computing them from 512"):
        g = load_model(old, "last").g
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the run's own checkpoint loads without the note
        stored = load_model(plain_run, "last").g
    for (key, a), b in zip(g.state_dict().items(), stored.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=key)


def test_the_raw_g_gets_its_own_statistics_on_load(plain_run):
    raw = load_model(plain_run, "last", raw=True).g
    again = load_model(plain_run, "last", raw=True).g
    assert not raw.training
    for a, b in zip(raw.buffers(), again.buffers(), strict=True):
        assert torch.equal(a, b)  # seeded: the same function of G's weights
    carried = load_checkpoint(plain_run / "checkpoints" / "last.safetensors").prefixed("G")
    assert not torch.equal(raw.state_dict()["main.1.running_mean"], carried["main.1.running_mean"])


def test_computing_them_leaves_the_generator_sampling_in_eval_mode(plain_run):
    g = cxrgan.load_generator(plain_run, "last").module.train()
    stored = [b.clone() for b in g.buffers()]
    assert compute_standing_stats(g) is g and not g.training
    for a, b in zip(stored, g.buffers(), strict=True):  # what training stored, recomputed
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_sample_grid_shows_what_generate_draws_from_the_same_checkpoint(plain_run):
    """Training's grid of the last epoch is the fixed latents through `last`'s generator on its
    stored standing statistics, so the grids show the images users will get."""
    from cxrgan.reporting.plots import make_grid
    from cxrgan.training.rundir import RunDir

    z = load_checkpoint(plain_run / "checkpoints" / "last.safetensors").tensors["fixed_noise"]
    g = load_model(plain_run, "last").g.eval()
    with torch.no_grad():
        expected = make_grid(to_uint8(g(z)))
    grid = np.asarray(Image.open(RunDir.open(plain_run).sample_grid(1)))
    assert grid.shape == expected.shape
    assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1
