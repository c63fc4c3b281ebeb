"""cxrgan's own training step for the benchmarks: the trainer's state, batches and step.

Benchmarks time this against the tutorial's loop (tutorial_reference.py) in the same run.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from cxrgan.losses import LOSSES
from cxrgan.models import ModelSpec, build_models
from cxrgan.training.loop import next_batch
from cxrgan.training.sampler import BatchSampler
from cxrgan.training.state import TrainState
from cxrgan.training.step import bind_phases, train_step

NZ, NGF, NDF = 100, 64, 64  # the tutorial's sizes


def dcgan_spec(size: int) -> ModelSpec:
    return ModelSpec("dcgan", z_dim=NZ, resolution=size, kwargs={"ngf": NGF, "ndf": NDF})


def make_nets(size: int, channels_last: bool = True, seed: int = 0):
    """The tutorial's DCGAN at `size` px (D returns logits) with its Adam optimisers."""
    torch.manual_seed(seed)
    g, d = build_models(dcgan_spec(size))
    if channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    return g, d, opt_g, opt_d


def cxrgan_stepper(
    images: torch.Tensor, size: int, batch: int, loss: str = "bce"
) -> tuple[TrainState, Callable[[], dict[str, torch.Tensor]]]:
    """A TrainState on `images` (N, S, S uint8) and a function running one trainer step."""
    g, d, opt_g, opt_d = make_nets(size)
    noise = torch.Generator().manual_seed(1)
    sampler = BatchSampler(images, None, batch, seed=0)
    state = TrainState(
        dcgan_spec(size), g, d, opt_g, opt_d, sampler, noise, g.sample_latents(64, generator=noise)
    )
    gan_loss = LOSSES.load(loss)(g, d)
    phases = bind_phases(gan_loss, {"G": (g, opt_g), "D": (d, opt_d)})

    def step() -> dict[str, torch.Tensor]:
        stats = train_step(gan_loss, phases, next_batch(state, images.device), state.counters.step)
        state.counters.step += 1
        return stats

    return state, step
