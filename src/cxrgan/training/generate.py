"""Synthetic images from a trained run's generator (written as a data set by
cxrgan.training.generated_set)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cxrgan.data.pixels import to_uint8
from cxrgan.errors import CxrganError
from cxrgan.models import ModelSpec, build_models
from cxrgan.models.base import Generator
from cxrgan.training.checkpoint import choose_hint, load_checkpoint
from cxrgan.training.rundir import RunDir

# BatchNorm in training mode normalises by batch statistics, as when the tutorial draws its
# sample grids; batches of this size keep those statistics close to training's.
GENERATE_BATCH = 64


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
    return LoadedGenerator(g.to(device), spec, path, prefix == "G_ema")


def sample_images(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None = None,
) -> np.ndarray:
    """`n` images from `g` as (n, S, S) uint8, in train-mode batches; same seed, same images.

    labels: (n,) class indices for a conditional generator (None: classes in its training mix).
    """
    out = np.empty((n, g.resolution, g.resolution), np.uint8)
    for where, images in _sampled(g, n, seed, device, labels):
        out[where.numpy()] = to_uint8(images)
    return out


def sample_tensors(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """`sample_images` before its uint8 step: (n, channels, S, S) float in [-1, 1]."""
    out: torch.Tensor | None = None
    for where, images in _sampled(g, n, seed, device, labels):
        if out is None:
            out = images.new_empty((n, *images.shape[1:]))
        out[where.to(images.device)] = images
    assert out is not None
    return out


@torch.no_grad()
def _sampled(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(positions in the request, their images) batch by batch.

    G runs in train mode, as when the tutorial draws its grids, so batch norm normalises by
    each batch. A conditional G's batches are therefore made up in its training class mix
    (`class_mix`): the images asked for fill their class's share of each batch and the rest are
    drawn and dropped (`mixed_batches`). So an image depends on the whole request (seed, n,
    labels), not on its own latent alone.
    """
    if n < 1:
        raise CxrganError(f"n must be at least 1, got {n}")
    was_training = g.training
    g.train()
    gen = torch.Generator(device).manual_seed(seed)
    try:
        if not g.c_dim:
            for start in range(0, n, GENERATE_BATCH):
                b = min(GENERATE_BATCH, n - start)
                z = g.sample_latents(max(b, 2), generator=gen, device=device)  # BN needs > 1
                yield torch.arange(start, start + b), g(z)[:b]
            return
        mix = g.class_mix.cpu()
        labels = mix_labels(mix, n) if labels is None else labels.cpu()
        for batch_labels, pairs in mixed_batches(labels, mix):
            z = g.sample_latents(len(batch_labels), generator=gen, device=device)
            images = g(z, batch_labels.to(device))
            yield pairs[:, 0], images[pairs[:, 1].to(images.device)]
    finally:
        g.train(was_training)


def mix_labels(mix: torch.Tensor, n: int) -> torch.Tensor:
    """`n` class indices in the proportions `mix` (largest remainders), grouped by class."""
    return torch.arange(len(mix)).repeat_interleave(_quotas(mix, n))


def _quotas(mix: torch.Tensor, total: int) -> torch.Tensor:
    exact = mix.double() / mix.double().sum() * total
    counts = exact.floor().long()
    short = total - int(counts.sum())
    counts[torch.argsort(counts - exact)[:short]] += 1
    return counts


def mixed_batches(
    labels: torch.Tensor, mix: torch.Tensor, size: int = GENERATE_BATCH
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Generator batches of `size` in the class mix `mix` that together hold the requested
    `labels`: (the batch's labels, (k, 2) pairs of (position in the request, position in the
    batch)) per batch. Each class fills its share of a batch with requested images first and
    fillers after, so every batch is one training batch's mix, whatever was asked for."""
    quota = _quotas(mix, size)
    # Every class with requests gets at least one slot, so rare classes are still drawn.
    for k in torch.unique(labels).tolist():
        if quota[k] == 0:
            quota[int(quota.argmax())] -= 1
            quota[k] = 1
    queues = [(labels == k).nonzero().view(-1).tolist() for k in range(len(mix))]
    batches = []
    while any(queues):
        batch_labels, pairs = [], []
        for k, q in enumerate(quota.tolist()):
            taken, queues[k] = queues[k][:q], queues[k][q:]
            pairs += [(i, len(batch_labels) + j) for j, i in enumerate(taken)]
            batch_labels += [k] * q
        batches.append((torch.tensor(batch_labels), torch.tensor(pairs).view(-1, 2)))
    return batches


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
