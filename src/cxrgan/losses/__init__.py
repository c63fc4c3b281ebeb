"""Loss registry: `--loss NAME` picks a GanLoss subclass. To add one, write one module with a
subclass and add one line here (see docs/extending.md)."""

from __future__ import annotations

from cxrgan.losses.base import PHASES, GanLoss, Phase, StepBatch
from cxrgan.losses.bce import BCELoss

LOSSES: dict[str, type[GanLoss]] = {
    "bce": BCELoss,
}

__all__ = ["LOSSES", "PHASES", "GanLoss", "Phase", "StepBatch"]
