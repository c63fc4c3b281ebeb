"""A FastGAN-style lightweight GAN (Liu et al. 2021) for 1-channel images of 64–512 px.

Pure PyTorch (no compiled ops, no device-specific calls): runs on CPU, CUDA and MPS.

Generator
    z (N, z_dim) → ConvTranspose 4×4 + BN + GLU (the 4 px map), then one up-block per factor of
    two: nearest ×2 upsample, 3×3 conv to twice the width, BN, GLU (FastGAN's `UpBlock`; its
    noise-injecting `UpBlockComp` is left out). Skip-layer excitation (SLE, FastGAN's `SEBlock`:
    pool the low-res map to 4×4, 4×4 conv, Swish, 1×1 conv, sigmoid) gates every channel of a
    high-res map with a low-res one. The pairs are FastGAN's (r/16 → r for r ≥ 64) except at
    64 px, where that rule leaves a single pair: there 4 → 32 and 8 → 64 (see `SLE_PAIRS`). A
    3×3 conv and Tanh make the image. No spectral norm in G (FastGAN has it; BN + GLU keep G
    stable here, and each spectral norm costs a power iteration per step).

Discriminator
    A 3×3 conv + LeakyReLU at full resolution, then FastGAN's `DownBlockComp` per factor of two
    down to 8 px (a 4×4 stride-2 conv → BN → LReLU → 3×3 conv → BN → LReLU path, averaged with an
    avg-pool → 1×1 conv → BN → LReLU shortcut). FastGAN's head (1×1 conv + BN + LReLU, 4×4 valid
    conv) gives 5×5 patch logits at 8 px; their mean is the image's logit, shape (N,). FastGAN's
    second, small-image branch and D's own SLE blocks are left out.

    Self-supervision (only with `with_aux=True`, i.e. on real images once per step): two small
    decoders (FastGAN's SimpleDecoder on an 8×8 map: up-blocks, 3×3 conv, Tanh) reconstruct
    - the whole image at min(resolution, 128) px from D's 8 px map, and
    - a random 8×8-cell window of D's 16 px map as the matching half-size crop of the image, at
      min(resolution / 2, 128) px (FastGAN picks one of the four quadrants; any cell-aligned
      offset is allowed here, drawn from torch's global RNG so a resumed run draws the same).
    The auxiliary loss is the sum of the two mean L1 distances to the image resized with area
    interpolation (FastGAN uses LPIPS, which needs downloaded weights). Plain logits never run
    the decoders, so generated images and G's phase never pay for them.

    Spectral norm on D's discriminating path (not the decoders) is optional, as for every
    architecture: `--d-spectral-norm` (ModelSpec.d_spectral_norm). Off by default: D already
    has BatchNorm (as in FastGAN and the DCGAN), each spectral norm adds a power iteration per
    conv per forward on a 2-core CPU, and the one untuned variant with spectral norm measured
    in issue 9 (among other changes) did worse at the CPU budget.

Widths
    `ngf`/`ndf` are base widths; a map at r px has `UNITS[r]` sixteenths of them (at least 1).
    At 64 px both networks are half as wide as the DCGAN at each size, and every map from 64 px
    up has a quarter of the base width (G: 256 channels at 4 px, 128, 64, 32, then 16 from
    64 px up; D: 128 at 8 px, 64, 32, then 16 from 64 px up; decoders: 8). A GLU up-block (3×3
    conv to twice the width) or a DownBlockComp (two convs and a shortcut) costs about four
    DCGAN layers of equal width, so at 64 px with ngf = ndf = 64 a training step costs about
    1.5× the DCGAN's on a CPU.
    (FastGAN's own widths at ngf = ndf = 64 are 4–8× these.) G's parameters: 1.77 M at 64 px,
    1.71 M at 128 px, 1.73 M at 256 px; D's: 0.43 M, 0.44 M, 0.44 M (decoders 31–35 k).

Class conditioning (c_dim > 0, models.conditional): G's batch norms take a gain and a bias per
class (conditional batch norm); D adds a projection of its 8 px map (Miyato & Koyama 2018) to
the logit.

Initialisation: FastGAN's (conv weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cxrgan.models.base import Architecture, Discriminator, Generator
from cxrgan.models.conditional import Projection, batch_norm, run_layers

RESOLUTIONS = (64, 128, 256, 512)
# Channels of G's map at r px, in sixteenths of ngf (ngf = 64: 256 at 4 px, 128, 64, 32, 16, ...).
G_UNITS = {4: 64, 8: 32, 16: 16, 32: 8, 64: 4, 128: 4, 256: 4, 512: 4}
# Channels of D's map at r px, in sixteenths of ndf (ndf = 64: 128 at 8 px, 64, 32, 16, ...).
D_UNITS = {8: 32, 16: 16, 32: 8, 64: 4, 128: 4, 256: 4, 512: 4}
# Which low-res map (source px) gates which high-res map (target px) in G.
SLE_PAIRS = {
    64: ((4, 32), (8, 64)),
    128: ((4, 64), (8, 128)),
    256: ((4, 64), (8, 128), (16, 256)),
    512: ((4, 64), (8, 128), (16, 256), (32, 512)),
}
DEC_UNITS = 2  # the decoders' up-blocks have ndf/8 channels
RECON_MAX = 128  # decoders reconstruct at most 128 px, as FastGAN's


def _width(base: int, units: int) -> int:
    return max(base * units // 16, 1)


def _up_block(c_in: int, c_out: int, c_dim: int = 0) -> nn.Sequential:
    """FastGAN's UpBlock: nearest ×2, 3×3 conv to 2·c_out, BN (per class in a conditional G),
    GLU over channels."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c_in, c_out * 2, 3, 1, 1, bias=False),
        batch_norm(c_out * 2, c_dim),
        nn.GLU(dim=1),
    )


class SLE(nn.Module):
    """Skip-layer excitation: a low-res map gives per-channel gates in (0, 1) for a high-res one."""

    def __init__(self, c_small: int, c_big: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c_small, c_big, 4, 1, 0, bias=False),
            nn.SiLU(),
            nn.Conv2d(c_big, c_big, 1, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, small: Tensor, big: Tensor) -> Tensor:
        return big * self.main(small)


class LightweightGenerator(Generator):
    def __init__(
        self, z_dim: int = 100, resolution: int = 256, channels: int = 1, ngf: int = 64,
        c_dim: int = 0,
    ):  # fmt: skip
        super().__init__(z_dim, c_dim, resolution, channels)
        sizes = [2**k for k in range(2, int(math.log2(resolution)) + 1)]  # 4, 8, ..., resolution
        width = {s: _width(ngf, G_UNITS[s]) for s in sizes}
        self.init = nn.Sequential(
            nn.ConvTranspose2d(z_dim, width[4] * 2, 4, 1, 0, bias=False),
            batch_norm(width[4] * 2, c_dim),
            nn.GLU(dim=1),
        )
        self.ups = nn.ModuleDict(
            {str(s): _up_block(width[s // 2], width[s], c_dim) for s in sizes[1:]}
        )
        self.pairs = SLE_PAIRS[resolution]
        self.sles = nn.ModuleDict({str(t): SLE(width[s], width[t]) for s, t in self.pairs})
        self.to_img = nn.Conv2d(width[resolution], channels, 3, 1, 1, bias=False)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        feat = run_layers(self.init, z.flatten(1)[:, :, None, None], c)
        sources = {s for s, _ in self.pairs}
        source_of = {t: s for s, t in self.pairs}
        kept = {4: feat}
        size = 4
        while size < self.resolution:
            size *= 2
            feat = run_layers(self.ups[str(size)], feat, c)
            if size in source_of:
                feat = self.sles[str(size)](kept[source_of[size]], feat)
            if size in sources:
                kept[size] = feat
        return torch.tanh(self.to_img(feat))


class DownBlockComp(nn.Module):
    """FastGAN's DownBlockComp: a two-conv stride-2 path averaged with a pooled 1×1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.direct = nn.Sequential(
            nn.AvgPool2d(2, 2),
            nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(0.2, inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """FastGAN's SimpleDecoder on an 8×8 map: up-blocks to `out_size`, 3×3 conv, Tanh."""

    def __init__(self, c_in: int, out_size: int, channels: int, ndf: int):
        super().__init__()
        layers: list[nn.Module] = []
        c, size = c_in, 8
        while size < out_size:
            size *= 2
            c_next = _width(ndf, DEC_UNITS)
            layers.append(_up_block(c, c_next))
            c = c_next
        layers += [nn.Conv2d(c, channels, 3, 1, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, feat: Tensor) -> Tensor:
        return self.main(feat)


class LightweightDiscriminator(Discriminator):
    def __init__(self, resolution: int = 256, channels: int = 1, ndf: int = 64, c_dim: int = 0):
        super().__init__(c_dim, resolution, channels)
        width = {s: _width(ndf, u) for s, u in D_UNITS.items()}
        self.from_img = nn.Sequential(
            nn.Conv2d(channels, width[resolution], 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        )
        sizes = [2**k for k in range(int(math.log2(resolution)), 3, -1)]  # resolution, ..., 16
        self.downs = nn.ModuleDict(
            {str(s // 2): DownBlockComp(width[s], width[s // 2]) for s in sizes}
        )
        self.head = nn.Sequential(
            nn.Conv2d(width[8], width[8], 1, 1, 0, bias=False),
            nn.BatchNorm2d(width[8]),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width[8], 1, 4, 1, 0, bias=False),
        )
        self.whole_size = min(resolution, RECON_MAX)
        self.part_size = min(resolution // 2, RECON_MAX)
        self.decoder_whole = Decoder(width[8], self.whole_size, channels, ndf)
        self.decoder_part = Decoder(width[16], self.part_size, channels, ndf)
        self.projection = Projection(c_dim, width[8]) if c_dim else None

    def spectral_norm_modules(self) -> list[nn.Module]:
        """What the logits depend on: spectral norm goes here, not on the decoders (nor on the
        projection's embedding, which is no conv or linear layer)."""
        return [self.from_img, self.downs, self.head]

    def _features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """D's 16 px and 8 px maps."""
        feat = self.from_img(x)
        size = self.resolution
        while size > 16:
            size //= 2
            feat = self.downs[str(size)](feat)
        feat16 = feat
        return feat16, self.downs["8"](feat16)

    def _logits(self, feat8: Tensor, c: Tensor | None) -> Tensor:
        logits = self.head(feat8).mean(dim=(1, 2, 3))
        return logits if self.projection is None else logits + self.projection(feat8, c)

    def logits(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self._logits(self._features(x)[1], c)

    def logits_with_aux(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        feat16, feat8 = self._features(x)
        return self._logits(feat8, c), self.reconstruction_loss(x, feat16, feat8)

    @staticmethod
    def crop_offset() -> tuple[int, int]:
        """Top-left cell (row, column) of the 8×8 window of the 16×16 map; torch's global RNG."""
        row, col = torch.randint(0, 9, (2,)).tolist()
        return row, col

    def reconstruction_loss(self, x: Tensor, feat16: Tensor, feat8: Tensor) -> Tensor:
        whole = _resized(x.detach(), self.whole_size)
        loss = (self.decoder_whole(feat8) - whole).abs().mean()
        row, col = self.crop_offset()
        cell = self.resolution // 16  # pixels per cell of the 16 px map
        part = x.detach()[..., row * cell : (row + 8) * cell, col * cell : (col + 8) * cell]
        part = _resized(part, self.part_size)
        window = feat16[..., row : row + 8, col : col + 8]
        return loss + (self.decoder_part(window) - part).abs().mean()


def _resized(img: Tensor, size: int) -> Tensor:
    if img.shape[-1] == size:
        return img
    return F.interpolate(img, size=(size, size), mode="area")


def weights_init(module: nn.Module) -> None:
    """FastGAN's initialisation: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02), bias 0."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:  # not a conditional G's
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_lightweight(
    z_dim: int,
    c_dim: int,
    resolution: int,
    channels: int,
    ngf: int = 64,
    ndf: int = 64,
) -> tuple[LightweightGenerator, LightweightDiscriminator]:
    g = LightweightGenerator(z_dim, resolution, channels, ngf, c_dim)
    d = LightweightDiscriminator(resolution, channels, ndf, c_dim)
    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


ARCHITECTURE = Architecture(
    build_lightweight,
    resolutions=RESOLUTIONS,
    conditional=True,
    summary="FastGAN-style: skip-layer excitation in G, a self-supervised reconstructing D",
)
