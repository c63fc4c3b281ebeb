"""Augmentation registry: `--augment NAME` picks a module applied in the loss's `run_D`, to
every image D sees (real and generated) and nowhere else.

An augmentation is an `augment.base.Augmentation` (an nn.Module) whose forward maps a batch in
[-1, 1] to a batch of the same shape and range, differentiably (G learns through it); the base
class declares the hooks the loss and the trainer call. Its buffers are saved in checkpoints.
To add one, write one module and add one line to AUGMENTS (see docs/extending.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxrgan.errors import CxrganError
from cxrgan.registry import Registry

if TYPE_CHECKING:
    from cxrgan.augment.base import Augmentation

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


def build_augment(name: str, **kwargs: Any) -> Augmentation | None:
    """The module for `name` (its class called with `kwargs`), or None for "none"."""
    if name == NONE:
        return None
    # deferred: torch, which settings and `--help` list the names without
    from cxrgan.augment.base import Augmentation

    module = AUGMENTS.load(name)(**kwargs)
    if not isinstance(module, Augmentation):
        raise CxrganError(
            f"augmentation {name!r} ({AUGMENTS[name]}) must derive from "
            "cxrgan.augment.base.Augmentation (docs/extending.md)"
        )
    return module
