"""Model registry: `--model NAME` picks a builder returning (generator, discriminator)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cxrgan.models.dcgan import build_dcgan

Builder = Callable[[int, int, int, int], tuple[nn.Module, nn.Module]]

# name → builder(image_size, nz, ngf, ndf). Add architectures here.
MODELS: dict[str, Builder] = {"dcgan": build_dcgan}


def build_models(
    name: str, image_size: int, nz: int, ngf: int, ndf: int
) -> tuple[nn.Module, nn.Module]:
    return MODELS[name](image_size, nz, ngf, ndf)
