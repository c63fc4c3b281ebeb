"""Batches from an in-memory uint8 image tensor: shuffled without replacement, resumable."""

from __future__ import annotations

import torch
from torch import Tensor


class BatchSampler:
    """Draws full batches from a fresh permutation each pass; its state fits in a checkpoint."""

    def __init__(self, images: Tensor, batch_size: int, seed: int, hflip: bool = False):
        self.images = images  # (N, H, W) uint8, already on the training device
        self.batch_size = min(batch_size, len(images))
        self.hflip = hflip
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(images), generator=self.gen)
        self.pos = 0

    def next(self) -> Tensor:
        """The next (B, 1, H, W) float batch in [-1, 1], channels_last."""
        if self.pos + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.images), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        batch = self.images[idx.to(self.images.device)].unsqueeze(1).float().div_(127.5).sub_(1.0)
        if self.hflip:
            flip = (torch.rand(len(idx), generator=self.gen) < 0.5).to(batch.device)
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        return batch.contiguous(memory_format=torch.channels_last)

    def state(self) -> tuple[dict[str, Tensor], dict[str, int]]:
        return {"rng.data": self.gen.get_state(), "sampler.perm": self.perm}, {"pos": self.pos}

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, int]) -> None:
        self.gen.set_state(tensors["rng.data"])
        self.perm = tensors["sampler.perm"]
        self.pos = int(meta["pos"])
