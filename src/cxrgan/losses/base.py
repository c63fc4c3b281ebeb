"""The loss as an object with phases, in the manner of stylegan2-ada-pytorch's training/loss.py.

One training step runs the phases the loss asks for, in order; each phase accumulates
gradients into one network and the trainer then steps that network's optimiser:
- Dmain: D learns to tell real from generated images;
- Dreg:  a regulariser on D (R1), run lazily every `r1_interval` steps with its gain scaled;
- Gmain: G learns to fool D.

`run_D` is the single place where D sees images, real or generated, so an augmentation module
given to the loss is applied to every image D sees and to nothing else; `run_D_real` hands the
augmentation D's logits on real images (its `observe` hook, see `Augment`).

Under DistributedDataParallel a network's gradients are averaged over the processes in the
backward of its last forward run with `sync`; its other forwards run in `no_sync()` and only
accumulate. So each phase's synchronised forward comes last and reaches every parameter that
phase trains: Dmain runs D on the generated images first and on the real ones (with D's
auxiliary loss) last, as stylegan2-ada-pytorch does; Gmain runs the frozen D unsynchronised.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

PHASES = ("Dmain", "Dreg", "Gmain")


class Augment(Protocol):
    """What the loss calls on an augmentation, as `cxrgan.augment.base.Augmentation` declares
    it: losses and augment are independent building blocks, so the loss names the hooks, not
    the class."""

    def __call__(self, img: Tensor) -> Tensor: ...

    def observe(self, real_logits: Tensor) -> None: ...


@dataclass
class StepBatch:
    """What one step trains on; `fake` is G(z, c), made once and shared by the phases."""

    real: Tensor
    real_c: Tensor | None
    z: Tensor
    c: Tensor | None
    fake: Tensor | None = None


@dataclass(frozen=True)
class Phase:
    name: str  # one of PHASES
    net: str  # "G" or "D": whose gradients it accumulates, whose optimiser steps after it
    interval: int = 1  # run every this many steps


class GanLoss:
    """Subclasses give the three per-logit losses; the phases are written once, here."""

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        augment: Augment | None = None,
        r1_gamma: float = 0.0,
        r1_interval: int = 16,
    ):
        self.G, self.D, self.augment = G, D, augment
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval

    # --- what a loss defines -------------------------------------------------------------------
    def d_real_loss(self, logits: Tensor) -> Tensor:
        raise NotImplementedError

    def d_fake_loss(self, logits: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, logits: Tensor) -> Tensor:
        raise NotImplementedError

    # --- the machinery -------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        phases = [Phase("Dmain", "D")]
        if self.r1_gamma > 0:
            phases.append(Phase("Dreg", "D", self.r1_interval))
        return [*phases, Phase("Gmain", "G")]

    def run_G(self, z: Tensor, c: Tensor | None) -> Tensor:
        return self.G(z, c)

    def run_D(self, img: Tensor, c: Tensor | None, sync: bool = True) -> Tensor:
        with _synced(self.D, sync):
            return self.D(self._augmented(img), c)

    def run_D_real(self, img: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """D on real images: logits, plus D's own auxiliary loss when its architecture has one
        (FastGAN's reconstruction of the real image). The augmentation is told the logits
        (`observe`), the signal an adaptive one adapts on."""
        logits, aux = self.D(self._augmented(img), c, with_aux=True)
        if self.augment is not None:
            self.augment.observe(logits.detach())
        return logits, aux

    def _augmented(self, img: Tensor) -> Tensor:
        return img if self.augment is None else self.augment(img)

    def generated(self, batch: StepBatch) -> Tensor:
        # One G forward per step, kept with its graph for Gmain (the tutorial's design).
        if batch.fake is None:
            batch.fake = self.run_G(batch.z, batch.c)
        return batch.fake

    def accumulate_gradients(self, phase: str, batch: StepBatch, gain: float = 1.0) -> dict:
        """Backpropagate `phase`'s loss × gain; returns its named statistics (detached)."""
        if phase == "Dmain":
            return self._d_main(batch, gain)
        if phase == "Dreg":
            return self._d_reg(batch, gain)
        if phase == "Gmain":
            return self._g_main(batch, gain)
        raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")

    def _d_main(self, batch: StepBatch, gain: float) -> dict[str, Tensor]:
        # Generated and real go through D separately, as in the tutorial (D's BatchNorm sees
        # batches of one kind; one graph is freed before the next is built), generated first:
        # the real pass, the last, is the synchronised one (module docstring).
        fake_logits = self.run_D(self.generated(batch).detach(), batch.c, sync=False)
        loss_fake = self.d_fake_loss(fake_logits)
        _backward(loss_fake, gain)
        real_logits, aux = self.run_D_real(batch.real, batch.real_c)
        loss_real = self.d_real_loss(real_logits)
        _backward(loss_real if aux is None else loss_real + aux, gain)
        stats = {
            "loss_d": (loss_real + loss_fake).detach(),
            "d_x": torch.sigmoid(real_logits.detach()).mean(),
            "d_g_z1": torch.sigmoid(fake_logits.detach()).mean(),
        }
        if aux is not None:
            stats["loss_d_aux"] = aux.detach()
        return stats

    def _d_reg(self, batch: StepBatch, gain: float) -> dict[str, Tensor]:
        """R1 (Mescheder et al. 2018): γ/2 · E‖∇ₓD(x)‖² on real images."""
        real = batch.real.detach().requires_grad_(True)
        logits = self.run_D(real, batch.real_c)
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        penalty = grad.square().sum(dim=[1, 2, 3])
        _backward(penalty.mean() * (self.r1_gamma / 2), gain)
        return {"r1_penalty": penalty.detach().mean()}

    def _g_main(self, batch: StepBatch, gain: float) -> dict[str, Tensor]:
        # D is frozen here: unsynchronised, so that its reducer expects no gradients.
        logits = self.run_D(self.generated(batch), batch.c, sync=False)
        loss = self.g_loss(logits)
        _backward(loss, gain)
        return {"loss_g": loss.detach(), "d_g_z2": torch.sigmoid(logits.detach()).mean()}


def _backward(loss: Tensor, gain: float) -> None:
    (loss if gain == 1 else loss * gain).backward()


def _synced(module: nn.Module, sync: bool) -> contextlib.AbstractContextManager:
    """`module.no_sync()` for a forward that must not trigger DDP's gradient reduction; nothing
    for a network that is not data-parallel."""
    if sync or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()
