"""Loss registry: `--loss NAME` picks a GanLoss subclass (losses/base.py). To add one, write one
module with a subclass and add one line to LOSSES (see docs/extending.md)."""

from __future__ import annotations

from cxrgan.registry import Registry

LOSSES = Registry(
    "loss",
    {
        "bce": "cxrgan.losses.bce:BCELoss",
        "ns": "cxrgan.losses.ns:NonSaturatingLoss",
        "hinge": "cxrgan.losses.hinge:HingeLoss",
    },
)
