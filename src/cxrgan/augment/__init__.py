"""Augmentation registry: `--augment NAME` picks a module applied in the loss's `run_D`, to
every image D sees (real and generated) and nowhere else.

An augmentation is an nn.Module whose forward maps a batch in [-1, 1] to a batch of the same
shape and range, differentiably (G learns through it). Its buffers are saved in checkpoints.
To add one, write one module and add one line here (see docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

NONE = "none"

AUGMENTS: dict[str, Callable[..., nn.Module]] = {}


def augment_names() -> tuple[str, ...]:
    return (NONE, *AUGMENTS)


def build_augment(name: str, **kwargs: object) -> nn.Module | None:
    """The module for `name`, or None for "none" (D sees images as they are)."""
    if name == NONE:
        return None
    return AUGMENTS[name](**kwargs)


__all__ = ["AUGMENTS", "NONE", "augment_names", "build_augment"]
