"""One optimisation step: for each phase the loss asks for, accumulate gradients, then step."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from cxrgan.losses.base import GanLoss, Phase, StepBatch


@dataclass
class BoundPhase:
    """A loss phase with the network it trains and that network's optimiser."""

    phase: Phase
    module: nn.Module
    opt: torch.optim.Optimizer
    # --precision bf16|fp16: (device type, dtype) of autocast; fp16 also scales the gradients.
    autocast: tuple[str, torch.dtype] | None = None
    scaler: torch.amp.GradScaler | None = None
    # --dp-epsilon: D's main phase runs as DP-SGD (cxrgan.training.private.PrivateD.d_step).
    private: Any = None


def bind_phases(
    loss: GanLoss, nets: dict[str, tuple[nn.Module, torch.optim.Optimizer]]
) -> list[BoundPhase]:
    return [BoundPhase(p, *nets[p.net]) for p in loss.phases()]


def train_step(
    loss: GanLoss, phases: list[BoundPhase], batch: StepBatch, step: int
) -> dict[str, Tensor]:
    """Run every phase due at `step` (0-based); returns their statistics, still on the device."""
    stats: dict[str, Tensor] = {}
    for bound in phases:
        interval = bound.phase.interval
        if step % interval:
            continue
        if bound.private is not None:
            stats.update(bound.private.d_step(loss, batch))
            continue
        bound.module.zero_grad(set_to_none=True)
        # While G trains, D's weight gradients would be thrown away: don't compute them.
        # (D phases leave G's requires_grad on: Gmain reuses the graph of the one G forward.)
        frozen = loss.D if bound.phase.net == "G" else None
        if frozen is not None:
            frozen.requires_grad_(False)
        gain: float = interval
        if bound.scaler is not None:  # fp16: the loss scale multiplies the gain, as scale() does
            one = torch.ones((), device=next(bound.module.parameters()).device)
            gain = interval * float(bound.scaler.scale(one))
        autocast = (
            torch.autocast(bound.autocast[0], dtype=bound.autocast[1])
            if bound.autocast is not None
            else contextlib.nullcontext()
        )
        try:
            with autocast:
                stats.update(loss.accumulate_gradients(bound.phase.name, batch, gain=gain))
        finally:
            if frozen is not None:
                frozen.requires_grad_(True)
        if bound.scaler is not None:  # unscale; skip the step on inf/NaN and lower the scale
            bound.scaler.step(bound.opt)
            bound.scaler.update()
        else:
            bound.opt.step()
    return stats


class StepStats:
    """Sums of the per-step statistics, kept on the device so logging costs one sync."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: dict[str, Tensor]) -> None:
        for key, value in values.items():
            value = value.detach().double()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def pop_means(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        means = torch.stack([self.sums[k] / self.counts[k] for k in keys]).tolist()
        self.sums, self.counts = {}, {}
        return dict(zip(keys, means, strict=True))
