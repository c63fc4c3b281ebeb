"""The one place where image arrays become the metrics' working format.

Every metric takes gray images either as uint8 (0 = black, as `ImageSet.images` and saved PNGs)
or as floats in [-1, 1] (what the generator's tanh produces), shaped (N, H, W) or (N, 1, H, W),
as a numpy array or a torch tensor. They are all turned into float64 in [0, 1] here, the scale
pytorchfwd uses (torchvision's ToTensor), so FWD values are comparable with the reference package.
"""

from __future__ import annotations

import numpy as np
import torch

ImageArray = np.ndarray | torch.Tensor

# Float inputs are tanh outputs; allow a hair of rounding outside [-1, 1].
_FLOAT_TOLERANCE = 1e-3


def to_unit(images: ImageArray) -> torch.Tensor:
    """(N, H, W) float64 tensor in [0, 1] from uint8 or [-1, 1] float images.

    Floats already in [0, 1] cannot be told apart from [-1, 1] ones, so they are read as
    [-1, 1]: convert such arrays to uint8 (or rescale) first.
    """
    if isinstance(images, torch.Tensor):
        x = images.detach().cpu()
    else:
        arr = np.asarray(images)
        x = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"expected gray images (N, 1, H, W), got shape {tuple(x.shape)}")
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError(f"expected images shaped (N, H, W) or (N, 1, H, W), got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("no images")
    if x.dtype == torch.uint8:
        return x.to(torch.float64) / 255.0
    if not x.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [-1, 1], got dtype {x.dtype}")
    x = x.to(torch.float64)
    lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("images contain NaN or infinite values")
    if lo < -1 - _FLOAT_TOLERANCE or hi > 1 + _FLOAT_TOLERANCE:
        raise ValueError(f"float images must lie in [-1, 1], got [{lo:.3g}, {hi:.3g}]")
    return ((x + 1.0) / 2.0).clamp_(0.0, 1.0)


def subsample(images: ImageArray, n: int | None, seed: int = 0) -> ImageArray:
    """At most `n` images drawn without replacement (all of them, in order, when n is None)."""
    if n is None or n >= len(images):
        return images
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    idx = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    return images[torch.from_numpy(idx)] if isinstance(images, torch.Tensor) else images[idx]


def chunks(n: int, size: int) -> list[slice]:
    """Slices covering range(n) in pieces of at most `size` (bounds peak memory)."""
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


class ClassRows:
    """Some rows of an image array (one class's), read only when indexed: `images[labels == k]`
    would copy the whole class out of a memory-mapped cache (docs/performance.md, Scale).
    Indexed by a slice or an index array (positions among `rows`); np.asarray reads them all."""

    def __init__(self, images: ImageArray, rows: np.ndarray):
        self.images, self.rows = images, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: np.ndarray | slice | int) -> ImageArray:
        return self.images[self.rows[idx]]

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.images[self.rows], dtype=dtype)
