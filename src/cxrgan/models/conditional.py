"""Class conditioning shared by the architectures: a class code for G, a projection for D.

- G: `ClassCode` looks up a learned vector per class and appends it to z, so the first layer
  sees (z, code) and every later layer is the unconditional network's.
- D: `Projection` (Miyato & Koyama 2018, "cGANs with projection discriminator") adds
  ⟨embed(c), φ(x)⟩ to the unconditional logit, where φ(x) is D's last feature map summed over
  space. Its embedding starts at N(0, 0.02), the scale of the DCGAN's final conv weights, so
  at initialisation the class term is as large as the rest of the logit, not larger.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cxrgan.errors import CxrganError

EMBED_INIT_STD = 0.02


def require_labels(c: Tensor | None, c_dim: int) -> Tensor:
    if c is None:
        raise CxrganError(f"this network is class-conditional ({c_dim} classes): pass labels c")
    return c


class ClassCode(nn.Module):
    """Appends a learned per-class vector of `dim` values to each latent."""

    def __init__(self, c_dim: int, dim: int):
        super().__init__()
        self.c_dim = c_dim
        self.embed = nn.Embedding(c_dim, dim)

    def forward(self, z: Tensor, c: Tensor | None) -> Tensor:
        return torch.cat([z, self.embed(require_labels(c, self.c_dim))], dim=1)


class Projection(nn.Module):
    """The class term of a projection discriminator: ⟨embed(c), Σ_space features⟩, shape (N,)."""

    def __init__(self, c_dim: int, channels: int):
        super().__init__()
        self.c_dim = c_dim
        self.embed = nn.Embedding(c_dim, channels)
        nn.init.normal_(self.embed.weight, 0.0, EMBED_INIT_STD)

    def forward(self, features: Tensor, c: Tensor | None) -> Tensor:
        pooled = features.sum(dim=(2, 3))  # (N, C)
        return (self.embed(require_labels(c, self.c_dim)) * pooled).sum(dim=1)
