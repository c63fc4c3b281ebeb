"""The one mapping between stored pixels (uint8, 0..255) and what the networks see ([-1, 1]).

Batches are made with `from_uint8`, generator output is saved with `to_uint8`; keeping both here
lets data, training, metrics and reporting agree without importing one another. Neither function
imports torch: tensors are handled through their own methods, so this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:  # annotations only
    import torch

ArrayT = TypeVar("ArrayT", "torch.Tensor", np.ndarray)


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, 1, H, W) or (N, H, W) in [-1, 1] (float) or uint8 → (N, H, W) uint8 numpy."""
    if not isinstance(images, np.ndarray):  # a torch tensor, possibly on a GPU
        images = images.detach().float().cpu().numpy()
    if images.ndim == 4:
        images = images[:, 0]
    if images.dtype == np.uint8:
        return images
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def batches_to_uint8(n: int, size: int, batches: Iterable[tuple[Any, Any]]) -> np.ndarray:
    """(positions, images in [-1, 1]) batches, as models.sampling.sample_batches yields them →
    one (n, size, size) uint8 array. Each batch is converted as it comes, so a large request
    never holds more than one batch as floats."""
    out = np.empty((n, size, size), np.uint8)
    for where, images in batches:
        out[np.asarray(where)] = to_uint8(images)
    return out


def from_uint8(images: ArrayT) -> ArrayT:
    """uint8 0..255 → float32 in [-1, 1], same shape (0 → -1, 255 → 1).

    Divide, then subtract, both in float32: the order batches have always been made in, so they
    stay bit-identical from release to release (resume and the equivalence tests rely on it).
    """
    if isinstance(images, np.ndarray):
        return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    x = images.float()
    if x is images:  # already float32: never scale the caller's tensor in place
        x = x.clone()
    return x.div_(127.5).sub_(1.0)
