"""An exponential moving average of G's weights (StyleGAN2-ADA's G_ema).

The average is set by a half-life in images: after `kimg` thousand images a weight's old value
has half its say. With ramp-up, the half-life is at most `rampup` × the images seen so far, so
the average does not drag the random initial weights along for the first thousands of images.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EMA:
    kimg: float  # half-life in thousands of images
    rampup: float | None = 0.05  # None: no ramp-up

    def half_life(self, images_seen: int) -> float:
        """The half-life in images after `images_seen` training images."""
        images = self.kimg * 1000
        if self.rampup is not None:
            images = min(images, images_seen * self.rampup)
        return images

    def beta(self, batch_size: int, images_seen: int) -> float:
        """The weight kept from the old average in one step of `batch_size` images."""
        return 0.5 ** (batch_size / max(self.half_life(images_seen), 1e-8))

    @torch.no_grad()
    def update(self, g_ema: nn.Module, g: nn.Module, batch_size: int, images_seen: int) -> None:
        beta = self.beta(batch_size, images_seen)
        for p_ema, p in zip(g_ema.parameters(), g.parameters(), strict=True):
            p_ema.lerp_(p, 1 - beta)  # p_ema ← beta · p_ema + (1 − beta) · p
        for b_ema, b in zip(g_ema.buffers(), g.buffers(), strict=True):
            b_ema.copy_(b)  # BatchNorm statistics follow G itself


def make_ema_copy(g: nn.Module) -> nn.Module:
    """G_ema starts as an exact copy of G and is never trained directly."""
    return copy.deepcopy(g).requires_grad_(False)
