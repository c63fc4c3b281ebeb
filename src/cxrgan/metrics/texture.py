"""Texture: are generated images as sharp as real ones? The mean absolute Laplacian (fine
detail: edges, rib margins, lung markings, and noise) of the generated images over that of the
real ones, at the images' own size. An EMA generator that averages texture away scores below 1;
a noisy, undertrained one above.

Why beside FWD: plain FWD is dominated by the low-frequency packets and has rewarded blur
(docs/metrics.md, "Texture"); `fwd_log` weighs fine texture too.
"""

from __future__ import annotations

import torch

from cxrgan.metrics.base import Metric, MetricInfo, Pair, Values


def laplacian_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean |4-neighbour Laplacian| of each image of (N, H, W) in [0, 1], over interior pixels."""
    centre = x[:, 1:-1, 1:-1]
    around = x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:]
    return (4 * centre - around).abs().mean(dim=(1, 2))


def _texture(pair: Pair) -> Values:
    real = float(laplacian_energy(pair.real).mean())
    fake = float(laplacian_energy(pair.fake).mean())
    return {"laplacian_ratio": fake / real if real > 0 else None}  # None: flat real images


TEXTURE = Metric(
    keys={
        "laplacian_ratio": MetricInfo(
            "~1",
            "mean |Laplacian| of generated / of real images (fine texture: < 1 blurrier, "
            "> 1 noisier)",
            "depends on the image size: compare at the training size",
        )
    },
    compute=_texture,
    min_images=2,
    needs="a mean over images, not one image's detail",
)
