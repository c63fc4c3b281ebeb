"""Synthetic images from a trained run's generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from cxrgan.errors import CxrganError
from cxrgan.models import build_models
from cxrgan.reporting.plots import to_uint8
from cxrgan.training.checkpoint import load_checkpoint
from cxrgan.training.rundir import RunDir

# BatchNorm in training mode normalises by batch statistics, as when the tutorial draws its
# sample grids; batches of this size keep those statistics close to training's.
GENERATE_BATCH = 64


def load_generator(
    run_dir: Path, checkpoint: str = "last", device: str = "cpu"
) -> tuple[nn.Module, int]:
    """The generator of `run_dir`'s checkpoint `checkpoint`, and its latent size."""
    run = RunDir.open(run_dir)
    path = run.checkpoint(checkpoint)
    if not path.is_file():
        names = sorted(p.stem for p in run.checkpoints.glob("*.safetensors"))
        raise CxrganError(
            f"no checkpoint {checkpoint!r} in {run.checkpoints} "
            f"(have: {', '.join(names) or 'none'})"
        )
    ckpt = load_checkpoint(path)
    m = ckpt.meta["state"]["model"]
    g, _ = build_models(m["name"], m["image_size"], m["nz"], m["ngf"], m["ndf"])
    ckpt.load_model("G", g)
    return g.to(device), int(m["nz"])


@torch.no_grad()
def sample_images(
    g: nn.Module, n: int, nz: int, seed: int, device: str | torch.device
) -> np.ndarray:
    """`n` images from `g` as (n, S, S) uint8, in train-mode batches; same seed, same images."""
    was_training = g.training
    g.train()
    gen = torch.Generator(device).manual_seed(seed)
    out = []
    for start in range(0, n, GENERATE_BATCH):
        b = min(GENERATE_BATCH, n - start)
        z = torch.randn(max(b, 2), nz, 1, 1, device=device, generator=gen)  # BN needs > 1
        out.append(to_uint8(g(z)[:b]))
    g.train(was_training)
    return np.concatenate(out)


def generate_images(
    run_dir: Path, n: int, checkpoint: str = "last", seed: int = 0, device: str = "cpu"
) -> np.ndarray:
    """`n` generated images from a run's checkpoint as (n, S, S) uint8."""
    if n < 1:
        raise CxrganError(f"--n must be at least 1, got {n}")
    g, nz = load_generator(run_dir, checkpoint, device)
    return sample_images(g, n, nz, seed, device)
