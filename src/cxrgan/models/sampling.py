"""Drawing images from a generator: one latent (and class), one image, in any request.

Everything that draws images uses this (training's evaluation, `cxrgan generate`, the Python
API, studies, the export), so they agree image for image; the uint8 step is data.pixels'.
G runs in eval mode, its batch norm on the standing statistics (models.standing) that every
checkpoint stores, so an image depends only on its latent and class. See docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from cxrgan.errors import CxrganError
from cxrgan.models.base import Generator

# G always runs on batches of this many latents (the last one filled up with the stream's
# next latents): in eval mode the batch does not change an image mathematically, but CPU
# kernels pick their blocking by batch size, so only a fixed size makes image i of seed s the
# same bits whether 1 or 10,000 images are asked for.
GENERATE_BATCH = 64


@torch.no_grad()
def sample_batches(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`n` images of `g` as (positions in the request, their images in [-1, 1]), batch by batch.

    labels: (n,) class indices for a conditional generator (None: classes in its training mix,
    `mix_labels`). G runs in eval mode, so `g` must hold its standing statistics (as
    `inference.generate.load_generator` gives it, or `models.standing.compute_standing_stats`).
    Image i is drawn from the i-th latent of `seed`'s stream and its class alone: the same seed
    gives the same first images for any n, and the same bits (on one device).
    """
    if n < 1:
        raise CxrganError(f"n must be at least 1, got {n}")
    if g.c_dim:
        labels = mix_labels(g.class_mix.cpu(), n) if labels is None else labels.cpu()
        if len(labels) != n:
            raise CxrganError(f"{len(labels)} labels for {n} images; give one per image")
    was_training = g.training
    g.eval()
    gen = torch.Generator(device).manual_seed(seed)
    try:
        for start in range(0, n, GENERATE_BATCH):
            b = min(GENERATE_BATCH, n - start)
            z = g.sample_latents(GENERATE_BATCH, generator=gen, device=device)
            if labels is None:
                images = g(z)
            else:
                c = torch.zeros(GENERATE_BATCH, dtype=torch.long)
                c[:b] = labels[start : start + b]
                images = g(z, c.to(device))
            yield torch.arange(start, start + b), images[:b]
    finally:
        g.train(was_training)


def sample_tensors(
    g: Generator,
    n: int,
    seed: int,
    device: str | torch.device,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """`sample_batches` in one tensor: (n, channels, S, S) float in [-1, 1]."""
    out: torch.Tensor | None = None
    for where, images in sample_batches(g, n, seed, device, labels):
        if out is None:
            out = images.new_empty((n, *images.shape[1:]))
        out[where.to(images.device)] = images
    assert out is not None
    return out


def mix_labels(mix: torch.Tensor, n: int) -> torch.Tensor:
    """`n` class indices in the proportions `mix` (largest remainders), grouped by class."""
    return torch.arange(len(mix)).repeat_interleave(_quotas(mix, n))


def _quotas(mix: torch.Tensor, total: int) -> torch.Tensor:
    exact = mix.double() / mix.double().sum() * total
    counts = exact.floor().long()
    short = total - int(counts.sum())
    counts[torch.argsort(counts - exact)[:short]] += 1
    return counts
