"""A trained run's generator, loaded from its checkpoint, and images drawn from it (written as a
data set by cxrgan.inference.generated_set)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cxrgan.data.pixels import batches_to_uint8
from cxrgan.errors import CxrganError
from cxrgan.models import ModelSpec, build_models
from cxrgan.models.base import Generator
from cxrgan.models.sampling import sample_batches
from cxrgan.models.standing import STANDING_LATENTS, compute_standing_stats, load_standing_stats
from cxrgan.training.checkpoint import choose_hint, load_checkpoint
from cxrgan.training.rundir import RunDir


@dataclass(frozen=True)
class LoadedGenerator:
    """A run's generator with what it was loaded from: its spec (class names included) and the
    checkpoint file, which a manifest of generated images records."""

    g: Generator
    spec: ModelSpec
    checkpoint: Path
    ema: bool  # G_ema (True) or the raw G


def load_generator(
    run_dir: Path, checkpoint: str = "last", device: str | torch.device = "cpu", raw: bool = False
) -> Generator:
    """The generator of `run_dir`'s checkpoint, rebuilt from the model spec stored in it.

    G_ema when the run kept one, unless `raw` asks for the trained G itself.
    """
    return load_model(run_dir, checkpoint, device, raw).g


def load_model(
    run_dir: Path, checkpoint: str = "last", device: str | torch.device = "cpu", raw: bool = False
) -> LoadedGenerator:
    """`load_generator`, with the spec and checkpoint path it came from."""
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
        raise CxrganError(
            f"checkpoints/{checkpoint} of {run_dir} holds NaN/inf weights ({bad}): the run "
            f"diverged; {choose_hint(path)}"
        )
    spec = ckpt.model_spec()
    g, _ = build_models(spec)
    ckpt.load_model(prefix, g)
    g = g.to(device)
    if not load_standing_stats(g, ckpt.tensors, prefix):
        # Checkpoints keep them for the sampling G (G_ema if any): the raw G gets them here.
        if not ckpt.has("standing"):
            warnings.warn(
                f"checkpoints/{checkpoint} of {run_dir} has no standing statistics (written "
                f"before cxrgan stored them): computing them from {STANDING_LATENTS} latents "
                f"(docs/metrics.md)",
                stacklevel=2,
            )
        compute_standing_stats(g)
    return LoadedGenerator(g, spec, path, prefix == "G_ema")


def sample_images(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None = None,
) -> np.ndarray:
    """`n` images from `g` as (n, S, S) uint8 in eval mode, on its standing statistics; image
    i depends only on the seed, i and its class (models.sampling.sample_batches, which
    training's evaluation draws through too).

    labels: (n,) class indices for a conditional generator (None: classes in its training mix).
    """
    return batches_to_uint8(n, g.resolution, sample_batches(g, n, seed, device, labels))


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
