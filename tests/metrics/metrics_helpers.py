"""Image corruptions and stand-in fakes shared by the metric validation tests (not a test file)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return x.round().clamp(0, 255).to(torch.uint8).numpy()


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (separable, reflect padding) of uint8 (N, H, W) images."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)  # float32: fast CPU convolution
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = torch.from_numpy(images).to(torch.float32).unsqueeze(1)
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return _to_uint8(x[:, 0])


def add_noise(images: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    """Additive Gaussian noise of `std` gray levels, clipped to 0..255."""
    rng = np.random.default_rng(seed)
    noisy = images.astype(np.float64) + rng.normal(0.0, std, size=images.shape)
    return _to_uint8(torch.from_numpy(noisy))


def shift(images: np.ndarray, pixels: int) -> np.ndarray:
    """Translate down and right by `pixels`, repeating the top/left edge into the gap."""
    x = torch.from_numpy(images).to(torch.float64).unsqueeze(1)
    h, w = images.shape[1:]
    x = F.pad(x, (pixels, 0, pixels, 0), mode="replicate")[..., :h, :w]
    return _to_uint8(x[:, 0])


def smooth_blobs(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Demo-like synthetic images: a few soft Gaussian blobs on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, size, size))
    for _ in range(4):
        cy, cx = rng.uniform(0.2, 0.8, (2, n, 1, 1))
        r = rng.uniform(0.08, 0.25, (n, 1, 1))
        out += rng.uniform(60, 160, (n, 1, 1)) * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2)
        )
    return out.clip(0, 255).round().astype(np.uint8)


def phantoms(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """The project's phantom generator when it exists, else `smooth_blobs`; says which."""
    try:
        from cxrgan.data.phantoms import make_phantoms
    except ImportError:
        return smooth_blobs(n, size, seed), "smooth_blobs stand-in"
    return np.asarray(make_phantoms(n, size, seed)), "cxrgan.data.phantoms.make_phantoms"
