"""Class conditioning shared by the architectures: class batch norm for G, a projection for D.

- G: `ClassBatchNorm2d`, conditional batch norm (de Vries et al. 2017; SNGAN's projection
  paper, BigGAN): each BatchNorm2d of the unconditional G becomes batch statistics, a gain
  shared by every class and a bias per class. The class enters after normalisation, so it
  cannot swamp z's share of the batch variance. (A learned class code appended to z did: it
  grew until the first BatchNorm squashed z, and each class collapsed to one image within 600
  steps.) The gain is shared because a gain per class let G turn z's variation down for one
  class alone: in 60 minutes on the Kaggle split the minority NORMAL class's first gain fell
  to 0.60 (PNEUMONIA's 0.75) as NORMAL collapsed to a few images.
- D: `Projection` (Miyato & Koyama 2018, "cGANs with projection discriminator") adds
  ⟨embed(c), φ(x)⟩ to the unconditional logit, where φ(x) is D's last feature map summed over
  space. Its embedding starts at N(0, 0.02), the scale of the DCGAN's final conv weights, so
  at initialisation the class term is as large as the rest of the logit, not larger.
"""

from __future__ import annotations

from torch import Tensor, nn

from cxrgan.errors import CxrganError

EMBED_INIT_STD = 0.02


def require_labels(c: Tensor | None, c_dim: int) -> Tensor:
    if c is None:
        raise CxrganError(f"this network is class-conditional ({c_dim} classes): pass labels c")
    return c


class ClassBatchNorm2d(nn.Module):
    """BatchNorm2d with its gain (initialised as the tutorial's BN weights, N(1, 0.02)) and a
    bias per class (N(0, 0.02), so the classes differ from the first step) in place of its own
    bias, which stays 0 and frozen: the gain lives in a torch.nn layer, so the generator still
    exports (`cxrgan turing export`). Called with the labels: `layer(x, c)`."""

    def __init__(self, num_features: int, c_dim: int):
        super().__init__()
        self.c_dim = c_dim
        self.norm = nn.BatchNorm2d(num_features)
        nn.init.normal_(self.norm.weight, 1.0, 0.02)
        nn.init.zeros_(self.norm.bias)
        self.norm.bias.requires_grad_(False)
        self.bias = nn.Embedding(c_dim, num_features)
        nn.init.normal_(self.bias.weight, 0.0, 0.02)

    def forward(self, x: Tensor, c: Tensor | None) -> Tensor:
        c = require_labels(c, self.c_dim)
        return self.norm(x) + self.bias(c)[:, :, None, None]


def batch_norm(num_features: int, c_dim: int) -> nn.Module:
    """G's batch norm: BatchNorm2d, or ClassBatchNorm2d for a conditional G."""
    return ClassBatchNorm2d(num_features, c_dim) if c_dim else nn.BatchNorm2d(num_features)


def run_layers(layers: nn.Sequential, x: Tensor, c: Tensor | None) -> Tensor:
    """`layers(x)`, giving the labels to the layers that take them (ClassBatchNorm2d)."""
    for layer in layers:
        x = layer(x, c) if isinstance(layer, ClassBatchNorm2d) else layer(x)
    return x


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
