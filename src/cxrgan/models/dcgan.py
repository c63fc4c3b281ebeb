"""The PyTorch DCGAN tutorial's networks, for 1 channel and image sizes 32–256.

At 64 px these are layer for layer the tutorial's Generator and Discriminator (with nc=1),
except that D returns the logit: the tutorial's final Sigmoid moved into the loss
(BCE-with-logits, the same maths). Other sizes add or remove one stride-2 block per factor of
two; channel multipliers are capped at 8 (the tutorial's widest layer) so 128 and 256 px stay
affordable.
"""

from __future__ import annotations

import itertools
import math

from torch import Tensor, nn

from cxrgan.models.base import Architecture, Discriminator, Generator
from cxrgan.models.conditional import Projection, batch_norm, run_layers

MAX_MULT = 8


def _mults(resolution: int) -> list[int]:
    """Channel multipliers from the 4×4 layer outward, e.g. 64 px → [8, 4, 2, 1]."""
    n_blocks = int(math.log2(resolution)) - 2
    return [min(2 ** (n_blocks - 1 - i), MAX_MULT) for i in range(n_blocks)]


class DCGANGenerator(Generator):
    """With c_dim > 0, every BatchNorm2d is a ClassBatchNorm2d (models.conditional)."""

    def __init__(
        self, z_dim: int = 100, resolution: int = 64, channels: int = 1, ngf: int = 64,
        c_dim: int = 0,
    ):  # fmt: skip
        super().__init__(z_dim, c_dim, resolution, channels)
        mults = _mults(resolution)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, ngf * mults[0], 4, 1, 0, bias=False),
            batch_norm(ngf * mults[0], c_dim),
            nn.ReLU(True),
        ]
        for m_in, m_out in itertools.pairwise(mults):
            layers += [
                nn.ConvTranspose2d(ngf * m_in, ngf * m_out, 4, 2, 1, bias=False),
                batch_norm(ngf * m_out, c_dim),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(ngf * mults[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return run_layers(self.main, z.flatten(1)[:, :, None, None], c)


class DCGANDiscriminator(Discriminator):
    """With c_dim > 0, a projection head on the 4×4 features adds the class term to the logit."""

    def __init__(self, resolution: int = 64, channels: int = 1, ndf: int = 64, c_dim: int = 0):
        super().__init__(c_dim, resolution, channels)
        mults = _mults(resolution)[::-1]  # e.g. 64 px → [1, 2, 4, 8]
        layers: list[nn.Module] = [
            nn.Conv2d(channels, ndf * mults[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for m_in, m_out in itertools.pairwise(mults):
            layers += [
                nn.Conv2d(ndf * m_in, ndf * m_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * m_out),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(ndf * mults[-1], 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)  # one Sequential: the tutorial's parameter names
        self.projection = Projection(c_dim, ndf * mults[-1]) if c_dim else None

    def logits(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        if self.projection is None:
            return self.main(x).view(-1)
        features = self.main[:-1](x)
        return self.main[-1](features).view(-1) + self.projection(features, c)


def weights_init(module: nn.Module) -> None:
    """The tutorial's initialisation: conv weights N(0, 0.02), BatchNorm N(1, 0.02) and bias 0."""
    name = type(module).__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif "BatchNorm" in name and getattr(module, "affine", False):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_dcgan(
    z_dim: int, c_dim: int, resolution: int, channels: int, ngf: int = 64, ndf: int = 64
) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    g = DCGANGenerator(z_dim, resolution, channels, ngf, c_dim)
    d = DCGANDiscriminator(resolution, channels, ndf, c_dim)
    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


ARCHITECTURE = Architecture(
    build_dcgan,
    resolutions=(32, 64, 128, 256),
    conditional=True,
    summary="the PyTorch DCGAN tutorial's networks (BatchNorm, transposed convolutions)",
)
