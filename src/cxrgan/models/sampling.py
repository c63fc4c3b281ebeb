"""Drawing images from a generator in train-mode batches: the same seed, the same images.

Everything that draws images uses this (training's evaluation, `cxrgan generate`, the Python
API, studies), so they agree image for image; the uint8 step is data.pixels'.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from cxrgan.errors import CxrganError
from cxrgan.models.base import Generator

# BatchNorm in training mode normalises by batch statistics, as when the tutorial draws its
# sample grids; batches of this size keep those statistics close to training's.
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

    labels: (n,) class indices for a conditional generator (None: classes in its training mix).
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
