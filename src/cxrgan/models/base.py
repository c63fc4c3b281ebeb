"""The contract every architecture keeps, so that losses, training and loaders need no names.

- A generator maps latents `z` of shape (N, z_dim) (and class indices `c` of shape (N,) when
  c_dim > 0) to images (N, channels, resolution, resolution) in [-1, 1], and draws its own
  latents with `sample_latents`.
- A discriminator maps images (and `c`) to one raw logit per image, shape (N,): losses decide
  how logits become a loss (BCE-with-logits, hinge, ...), so no sigmoid lives in D. On real
  images it may add an auxiliary loss of its own (`D(x, c, with_aux=True)`). Architectures
  write `logits` (and `logits_with_aux`); `forward` is the one entry point, so that
  DistributedDataParallel, torch.compile and hooks see every call of D.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from cxrgan.errors import CxrganError
from cxrgan.models.spec import ModelSpec


class Generator(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, resolution: int, channels: int):
        super().__init__()
        self.z_dim, self.c_dim = z_dim, c_dim
        self.resolution, self.channels = resolution, channels
        if c_dim:
            # How often each class was drawn in training batches. Batch norm's standing
            # statistics (models.standing) are averaged over batches in this mix, as training
            # normalised them: a batch of one class would lose the mean of the class's
            # features. Saved with G, so loaders know it.
            self.register_buffer("class_mix", torch.full((c_dim,), 1.0 / c_dim))

    def sample_latents(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Standard normal latents; an architecture with another prior overrides this."""
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        raise NotImplementedError


class Discriminator(nn.Module):
    def __init__(self, c_dim: int, resolution: int, channels: int):
        super().__init__()
        self.c_dim, self.resolution, self.channels = c_dim, resolution, channels

    def forward(
        self, x: Tensor, c: Tensor | None = None, with_aux: bool = False
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        """Logits; with `with_aux`, (logits, the auxiliary loss or None)."""
        return self.logits_with_aux(x, c) if with_aux else self.logits(x, c)

    def logits(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def spectral_norm_modules(self) -> list[nn.Module]:
        """Where --d-spectral-norm applies: all of D, unless an architecture keeps parts out
        (a self-supervised D's decoders, say)."""
        return [self]

    def logits_with_aux(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits for real images, and an auxiliary loss D minimises on them (None: no such
        loss). A self-supervised D (FastGAN's decoders) overrides this; it runs once per step."""
        return self.logits(x, c), None

    def has_aux(self) -> bool:
        """Whether some parameters train only through the auxiliary loss (FastGAN's decoders):
        a pass without it leaves them without gradients."""
        return type(self).logits_with_aux is not Discriminator.logits_with_aux


Builder = Callable[..., tuple[Generator, Discriminator]]


@dataclass(frozen=True)
class Architecture:
    """A registry entry: the builder, and what it supports (checked before building)."""

    builder: Builder  # (z_dim, c_dim, resolution, channels, **kwargs) -> (G, D)
    resolutions: tuple[int, ...]
    conditional: bool = False
    summary: str = ""

    def build(self, spec: ModelSpec) -> tuple[Generator, Discriminator]:
        if spec.resolution not in self.resolutions:
            raise CxrganError(
                f"model {spec.name} supports {', '.join(map(str, self.resolutions))} px, "
                f"not {spec.resolution}"
            )
        if spec.c_dim and not self.conditional:
            raise CxrganError(f"model {spec.name} is unconditional (c_dim must be 0)")
        try:  # bind first, so an unknown kwarg is the user's error, not a crash inside
            inspect.signature(self.builder).bind(
                spec.z_dim, spec.c_dim, spec.resolution, spec.channels, **spec.kwargs
            )
        except TypeError as exc:
            raise CxrganError(f"model {spec.describe()}: {exc}") from None
        g, d = self.builder(spec.z_dim, spec.c_dim, spec.resolution, spec.channels, **spec.kwargs)
        if spec.d_spectral_norm:  # after the builder's init, so SN wraps the initial weights
            for part in d.spectral_norm_modules():
                add_spectral_norm(part)
        if spec.d_group_norm:
            group_norm(d)
        return g, d


def group_norm(module: nn.Module, groups: int = 32) -> None:
    """Every batch norm in `module` becomes a group norm, in place (of `groups` groups, or the
    largest divisor of the channels below it, as Opacus's ModuleValidator.fix does): batch
    statistics mix the images of a batch, so DP-SGD's per-image gradients need another norm
    (docs/privacy.md)."""
    for name, layer in list(module.named_modules()):
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            channels = layer.num_features
            new = nn.GroupNorm(math.gcd(groups, channels), channels, affine=layer.affine)
            module.set_submodule(name, new)


def add_spectral_norm(module: nn.Module) -> None:
    """Spectral normalisation (Miyato et al. 2018) on every conv and linear weight, in place.

    Layers that already carry it (an architecture may build D with it) are left alone.
    """
    for layer in list(module.modules()):
        if isinstance(layer, nn.Conv2d | nn.Linear) and not parametrize.is_parametrized(
            layer, "weight"
        ):
            spectral_norm(layer)
