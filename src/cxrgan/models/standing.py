"""Standing statistics (BigGAN's "standing stats"): a generator's batch norm, fixed for sampling.

In train mode batch norm normalises every image by its batch, so an image depends on the rest
of the request. `compute_standing_stats` instead averages each layer's batch statistics over
many train-mode batches (cumulatively, as BatchNorm with momentum=None does) and leaves them
as the layers' running statistics; in eval mode G then maps each latent (and class) to one
image, whatever else is drawn with it. Training stores them in every checkpoint
(training.trainer), loaders put them back (`load_standing_stats`). See docs/metrics.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cxrgan.models.base import Generator
from cxrgan.models.sampling import mix_labels

# 512 latents, 8 batches of 64: each channel's mean is then known to 1/sqrt(512) = 4.4 % of
# its standard deviation, a third of the 12.5 % by which one batch of 64's own statistics
# scatter (what train-mode sampling normalised each image by), at 8 forward passes per
# checkpoint: about what drawing one evaluation's 768 images costs (docs/performance.md).
# 4,096 latents gave the same held-out FWD and recall.
STANDING_LATENTS = 512
STANDING_BATCH = 64
STANDING_SEED = 20_190_228  # latents of their own, so training's RNG streams never move
PREFIX = "standing"  # checkpoint tensors: standing.<G or G_ema>.<layer>.running_mean, ...
STAT_NAMES = ("running_mean", "running_var", "num_batches_tracked")


def batch_norms(g: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    """`g`'s batch-norm layers that keep running statistics, by dotted name."""
    return {
        name: m
        for name, m in g.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    }


@torch.no_grad()
def compute_standing_stats(
    g: Generator,
    latents: int = STANDING_LATENTS,
    seed: int = STANDING_SEED,
    batch: int = STANDING_BATCH,
) -> Generator:
    """Reset `g`'s batch-norm running statistics and average them over `latents` latents in
    train-mode batches of `batch`; a conditional G's batches mix the classes as training drew
    them (`class_mix`). Leaves `g` in eval mode, sampling with them, and returns it."""
    device = next(g.parameters()).device
    gen = torch.Generator(device).manual_seed(seed)
    layers = batch_norms(g).values()
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    g.train()
    try:
        labels = mix_labels(g.class_mix.cpu(), batch).to(device) if g.c_dim else None
        for _ in range(-(-latents // batch)):
            z = g.sample_latents(batch, generator=gen, device=device)
            if labels is None:
                g(z)
            else:
                g(z, labels)
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        g.eval()
    return g


def standing_tensors(g: nn.Module, owner: str) -> dict[str, Tensor]:
    """`g`'s running statistics as checkpoint tensors: standing.<owner>.<layer>.<stat>."""
    return {
        f"{PREFIX}.{owner}.{name}.{stat}": getattr(m, stat)
        for name, m in batch_norms(g).items()
        for stat in STAT_NAMES
    }


def load_standing_stats(g: nn.Module, tensors: dict[str, Tensor], owner: str) -> bool:
    """Put `owner`'s stored standing statistics into `g`'s batch norms and set eval mode;
    False (and `g` unchanged) when `tensors` holds none for it (a checkpoint written before
    them)."""
    wanted = standing_tensors(g, owner)
    if any(key not in tensors for key in wanted):
        return False
    with torch.no_grad():
        for key, buffer in wanted.items():
            buffer.copy_(tensors[key])
    g.eval()
    return True
