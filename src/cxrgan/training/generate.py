"""Synthetic images from a trained run's generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cxrgan.data.pixels import to_uint8
from cxrgan.errors import CxrganError
from cxrgan.models import build_models
from cxrgan.models.base import Generator
from cxrgan.training.checkpoint import load_checkpoint
from cxrgan.training.rundir import RunDir

# BatchNorm in training mode normalises by batch statistics, as when the tutorial draws its
# sample grids; batches of this size keep those statistics close to training's.
GENERATE_BATCH = 64


def load_generator(
    run_dir: Path, checkpoint: str = "last", device: str | torch.device = "cpu", raw: bool = False
) -> Generator:
    """The generator of `run_dir`'s checkpoint, rebuilt from the model spec stored in it.

    G_ema when the run kept one, unless `raw` asks for the trained G itself.
    """
    run = RunDir.open(run_dir)
    path = run.checkpoint(checkpoint)
    if not path.is_file():
        names = sorted(p.stem for p in run.checkpoints.glob("*.safetensors"))
        raise CxrganError(
            f"no checkpoint {checkpoint!r} in {run.checkpoints} "
            f"(have: {', '.join(names) or 'none'})"
        )
    ckpt = load_checkpoint(path)
    prefix = "G" if raw or not ckpt.has("G_ema") else "G_ema"
    bad = ckpt.non_finite(prefix)
    if bad is not None:  # it would draw NaN images: black or noise, never a chest
        others = [p.stem for p in sorted(run.checkpoints.glob("*.safetensors")) if p != path]
        raise CxrganError(
            f"checkpoints/{checkpoint} of {run_dir} holds NaN/inf weights ({bad}): the run "
            f"diverged; pick another with --checkpoint NAME (this run has: "
            f"{', '.join(others) or 'none'})"
        )
    g, _ = build_models(ckpt.model_spec())
    ckpt.load_model(prefix, g)
    return g.to(device)


@torch.no_grad()
def sample_images(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None = None,
) -> np.ndarray:
    """`n` images from `g` as (n, S, S) uint8, in train-mode batches; same seed, same images.

    labels: (n,) class indices for a conditional generator.
    """
    was_training = g.training
    g.train()
    gen = torch.Generator(device).manual_seed(seed)
    out = []
    for start in range(0, n, GENERATE_BATCH):
        b = min(GENERATE_BATCH, n - start)
        z = g.sample_latents(max(b, 2), generator=gen, device=device)  # BatchNorm needs > 1
        c = None
        if labels is not None:
            c = labels[start : start + b].to(device)
            c = torch.cat([c, c[:1]]) if b == 1 else c
        out.append(to_uint8(g(z, c)[:b]))
    g.train(was_training)
    return np.concatenate(out)


def generate_images(
    run_dir: Path,
    n: int,
    checkpoint: str = "last",
    seed: int = 0,
    device: str = "cpu",
    raw: bool = False,
) -> np.ndarray:
    """`n` generated images from a run's checkpoint as (n, S, S) uint8 (G_ema's unless raw)."""
    if n < 1:
        raise CxrganError(f"--n must be at least 1, got {n}")
    g = load_generator(run_dir, checkpoint, device, raw)
    return sample_images(g, n, seed, device)
