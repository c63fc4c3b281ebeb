"""Batches from an in-memory uint8 image tensor: shuffled without replacement, resumable.

Every rank holds the same permutation (same seed) and takes its own slice of each global
batch, so ranks see disjoint images and the sampler's state is the same on all of them.

Streamed (the images in host memory, the step on another device): each call hands out the
batch gathered and copied during the previous one and starts on the next, so the gather, the
pinning and the copy (on a side CUDA stream) run while the device computes the step. The
state saved is the one before that prefetched batch was drawn, so a resumed run draws it again.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor

from cxrgan.data.pixels import from_uint8


class BatchSampler:
    """Draws full batches from a fresh permutation each pass; its state fits in a checkpoint."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor | None,
        batch_size: int,
        seed: int,
        hflip: bool = False,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | None = None,
    ):
        # (N, H, W) uint8: on the training device, or in host memory (a memory-mapped cache)
        # when `device` is another one: then each step copies only this rank's share there.
        self.images = images
        self.device = torch.device(device) if device is not None else images.device
        self.streamed = device is not None
        if labels is None:  # unlabelled images: all class 0
            labels = torch.zeros(len(images), dtype=torch.long)
        self.labels = labels.to(images.device)  # (N,) int64 class indices
        self.batch_size = min(batch_size, len(images))  # global: all ranks together
        self.hflip = hflip
        self.rank, self.world_size = rank, world_size
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(images), generator=self.gen)
        self.pos = 0
        # Set by load_state when the checkpoint's pass was drawn over another number of images.
        self.resized_from: int | None = None
        # Streamed: the next batch, already on its way, and the state from before drawing it.
        self._ahead: tuple[Tensor, Tensor] | None = None
        self._state_before_ahead: tuple[Tensor, Tensor, int] | None = None
        use_stream = self.streamed and self.device.type == "cuda"
        self._copy_stream = torch.cuda.Stream(self.device) if use_stream else None

    @property
    def local_batch_size(self) -> int:
        return self.batch_size // self.world_size

    def next(self) -> tuple[Tensor, Tensor]:
        """This rank's share of the next batch: (B, 1, H, W) float in [-1, 1], channels_last,
        and its (B,) labels."""
        if not self.streamed:
            return self._draw()
        batch = self._ahead if self._ahead is not None else self._draw()
        if self._copy_stream is not None:  # the copy must finish before the step reads it
            torch.cuda.current_stream(self.device).wait_stream(self._copy_stream)
            for tensor in batch:
                tensor.record_stream(torch.cuda.current_stream(self.device))
        self._state_before_ahead = (self.gen.get_state(), self.perm, self.pos)
        self._ahead = self._draw()
        return batch

    def _indices(self) -> Tensor:
        """The images of the next global batch, by index."""
        if self.pos + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.images), generator=self.gen)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def _share(self) -> slice:
        """This rank's part of a global batch."""
        return slice(self.rank * self.local_batch_size, (self.rank + 1) * self.local_batch_size)

    def _draw(self) -> tuple[Tensor, Tensor]:
        idx = self._indices()
        # Flips are drawn for the whole batch on every rank, so the RNG stays in step.
        flip = torch.rand(len(idx), generator=self.gen) < 0.5 if self.hflip else None
        share = self._share()
        idx = idx[share].to(self.images.device)
        pixels, labels = self.images[idx], self.labels[idx]
        if self._copy_stream is not None:
            pixels, labels = pixels.pin_memory(), labels.pin_memory()
        # Streamed to CUDA: the copy and the conversion run on the side stream (`next` makes
        # the step's stream wait for it).
        side = torch.cuda.stream(self._copy_stream) if self._copy_stream else nullcontext()
        with side:
            if self.streamed:  # from host memory: this rank's share only
                pixels = pixels.to(self.device, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
            batch = from_uint8(pixels.unsqueeze(1))
            if flip is not None:
                flip = flip[share].to(batch.device)
                batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
            return batch.contiguous(memory_format=torch.channels_last), labels

    def state(self) -> tuple[dict[str, Tensor], dict[str, int]]:
        gen, perm, pos = self.gen.get_state(), self.perm, self.pos
        if self._ahead is not None:  # the prefetched batch is drawn again after a resume
            gen, perm, pos = self._state_before_ahead
        return {"rng.data": gen, "sampler.perm": perm}, {"pos": pos}

    def load_state(self, tensors: dict[str, Tensor], meta: dict[str, int]) -> None:
        """Continue the saved pass exactly. When the data now holds another number of images
        (files added or deleted before a resume), the saved pass would index images that are
        gone: a new pass over the images there are now is drawn instead, from the saved RNG,
        and `resized_from` says how many images the old pass had."""
        self._ahead = self._state_before_ahead = None
        self.gen.set_state(tensors["rng.data"])
        perm = tensors["sampler.perm"]
        self.resized_from = None
        if len(perm) != len(self.images):
            self.resized_from = len(perm)
            self.perm = torch.randperm(len(self.images), generator=self.gen)
            self.pos = 0
            return
        self.perm = perm
        self.pos = int(meta["pos"])


class PoissonSampler(BatchSampler):
    """Differentially private training's batches (docs/privacy.md): each image joins each step
    independently with probability q = batch_size / N, so a batch's size varies around
    batch_size. DP-SGD's accounting assumes exactly this subsampling. One process only; the
    state is the RNG's (the permutation and position are kept unused, for the checkpoint)."""

    @property
    def sample_rate(self) -> float:
        return self.batch_size / len(self.images)

    def _share(self) -> slice:
        return slice(None)  # one process: the whole batch, whatever its size

    def _indices(self) -> Tensor:
        keep = torch.rand(len(self.images), generator=self.gen) < self.sample_rate
        return keep.nonzero().squeeze(1)
