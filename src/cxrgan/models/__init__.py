"""Model registry: a ModelSpec's `name` picks an Architecture that builds (generator, D).

To add an architecture, write one module that defines an `Architecture` and add one line to
MODELS (see docs/extending.md).
"""

from __future__ import annotations

from cxrgan.errors import CxrganError
from cxrgan.models import dcgan
from cxrgan.models.base import Architecture, Discriminator, Generator
from cxrgan.models.spec import ModelSpec

MODELS: dict[str, Architecture] = {
    "dcgan": dcgan.ARCHITECTURE,
}


def build_models(spec: ModelSpec) -> tuple[Generator, Discriminator]:
    if spec.name not in MODELS:
        raise CxrganError(f"unknown model {spec.name!r}; known: {', '.join(MODELS)}")
    return MODELS[spec.name].build(spec)


__all__ = ["MODELS", "Architecture", "Discriminator", "Generator", "ModelSpec", "build_models"]
