"""Model registry: a ModelSpec's `name` picks an Architecture that builds (generator, D).

To add an architecture, write one module that defines an `Architecture` (models/base.py) and
add one line to MODELS (see docs/extending.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxrgan.models.spec import ModelSpec
from cxrgan.registry import Registry

if TYPE_CHECKING:
    from cxrgan.models.base import Architecture, Discriminator, Generator

MODELS = Registry(
    "model",
    {
        "dcgan": "cxrgan.models.dcgan:ARCHITECTURE",
        "lightweight": "cxrgan.models.lightweight:ARCHITECTURE",
    },
)


def architecture(name: str) -> Architecture:
    return MODELS.load(name)


def build_models(spec: ModelSpec) -> tuple[Generator, Discriminator]:
    return architecture(spec.name).build(spec)


__all__ = ["MODELS", "ModelSpec", "architecture", "build_models"]
