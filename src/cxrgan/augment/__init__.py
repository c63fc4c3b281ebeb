"""Augmentation registry: `--augment NAME` picks a module applied in the loss's `run_D`, to
every image D sees (real and generated) and nowhere else.

An augmentation is an nn.Module whose forward maps a batch in [-1, 1] to a batch of the same
shape and range, differentiably (G learns through it). Its buffers are saved in checkpoints.
To add one, write one module and add one line to AUGMENTS (see docs/extending.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxrgan.registry import Registry

if TYPE_CHECKING:
    from torch import nn

NONE = "none"  # D sees images as they are

AUGMENTS = Registry(
    "augmentation",
    {
        "diff": "cxrgan.augment.diffaug:DiffAugment",
        "ada": "cxrgan.augment.ada:ADA",
    },
)


def augment_names() -> tuple[str, ...]:
    return (NONE, *AUGMENTS)


def build_augment(name: str, **kwargs: Any) -> nn.Module | None:
    """The module for `name` (its class called with `kwargs`), or None for "none"."""
    return None if name == NONE else AUGMENTS.load(name)(**kwargs)
