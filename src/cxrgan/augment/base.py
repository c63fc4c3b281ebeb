"""What every augmentation is: the hooks the loss and the trainer call, and per-image random
parameters drawn for the global batch.

Every augmentation derives from `Augmentation` (`build_augment` refuses one that does not). Its
hooks have defaults that do nothing, so an augmentation overrides only what it uses: ADA
overrides `observe` and `p`, DiffAugment neither (docs/extending.md explains each hook).

With several processes each rank augments its own share of a step's images. Each parameter is
drawn for the whole global batch, from a global RNG that is in the same state on every rank,
and each rank keeps its own slice: so the draws, and the RNG state after them, are those of one
process augmenting the whole batch, and an augmented run does not depend on the number of
processes (as the data order and the latents do not).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Augmentation(nn.Module):
    """A batch in [-1, 1] → a batch of the same shape and range, differentiably (`forward`).

    Hooks:
    - `set_share(rank, world_size)`: called by the trainer under several processes;
    - `observe(real_logits)`: called by the loss with D's logits on every real batch;
    - `p`: read by the trainer when it logs (`augment_p`); None for a fixed augmentation.
    """

    rank: int = 0
    world_size: int = 1

    def set_share(self, rank: int, world_size: int) -> None:
        """This process's slice of every global batch: images [rank·n, (rank + 1)·n)."""
        self.rank, self.world_size = rank, world_size

    def observe(self, real_logits: Tensor) -> None:
        """D's logits on a real batch, once per D step (GanLoss.run_D_real), for an
        augmentation that adapts to how much D overfits; nothing by default."""

    @property
    def p(self) -> float | None:
        """The current probability of augmenting an image, for the training log, where it
        adapts during training; None (nothing logged) by default. Read it only when logging:
        it may wait for the device."""
        return None

    def rand(self, x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """U[0, 1) per image of `x`, shape (N,)."""
        return self._mine(x, torch.rand(len(x) * self.world_size, device=x.device, dtype=dtype))

    def randn(self, x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """N(0, 1) per image of `x`, shape (N,)."""
        return self._mine(x, torch.randn(len(x) * self.world_size, device=x.device, dtype=dtype))

    def randint(self, low: int, high: int, x: Tensor) -> Tensor:
        """Integers in [low, high) per image of `x`, shape (N,)."""
        drawn = torch.randint(low, high, (len(x) * self.world_size,), device=x.device)
        return self._mine(x, drawn)

    def _mine(self, x: Tensor, drawn: Tensor) -> Tensor:
        return drawn[self.rank * len(x) : (self.rank + 1) * len(x)]
