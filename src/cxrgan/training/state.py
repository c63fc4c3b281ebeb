"""Everything a training run is at one moment, and its one checkpoint format.

`state_dict()` gives (tensors, meta): the tensors go into safetensors, the meta is JSON; the
pair is a Checkpoint. `load_state_dict()` restores exactly what `state_dict()` saved, so a
resumed run continues bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from cxrgan.augment.base import Augmentation
from cxrgan.models import ModelSpec
from cxrgan.training.checkpoint import Checkpoint, model_tensors, optimizer_tensors
from cxrgan.training.checkpoint_schema import Counters
from cxrgan.training.sampler import BatchSampler

FORMAT_VERSION = 2  # 1: cxrgan 0.1 (no model spec, D ended in a Sigmoid)


@dataclass
class TrainState:
    spec: ModelSpec
    g: nn.Module
    d: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sampler: BatchSampler
    noise_gen: torch.Generator  # latents and fake labels of every step
    fixed_z: Tensor  # the latents of every sample grid
    fixed_c: Tensor | None = None  # and their labels, for a conditional model
    g_ema: nn.Module | None = None  # a moving average of G's weights, when kept
    augment: Augmentation | None = None
    counters: Counters = field(default_factory=Counters)
    # JSON state of the parts around the step (quality tracker, balance controller), by name.
    extras: dict[str, Any] = field(default_factory=dict)
    # The rates a resume, a rollback or --balance set (None: as the optimisers hold them), and
    # the --lr-schedule factor the optimisers run them at. Neither is saved: the factor follows
    # from the counters, and whoever loads a checkpoint sets the rates.
    base_rates: tuple[float, float] | None = None
    lr_scale: float = 1.0

    @property
    def images_seen(self) -> int:
        """Images trained on so far, across resumes: what the EMA's ramp-up and --lr-hold-kimg
        count in."""
        return self.counters.step * self.sampler.batch_size

    @property
    def sampling_g(self) -> nn.Module:
        """The generator that draws grids and is evaluated: G_ema when there is one."""
        return self.g_ema if self.g_ema is not None else self.g

    def rates(self) -> tuple[float, float]:
        """G's and D's learning rates before the schedule's factor (`applied_rates` × 1/it)."""
        return self.base_rates if self.base_rates is not None else self.applied_rates()

    def applied_rates(self) -> tuple[float, float]:
        """G's and D's learning rates as the optimisers hold them."""
        return self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"]

    def set_rates(self, g: float, d: float) -> None:
        """The one place the learning rates change after the optimisers are built (a resume,
        a rollback, --balance); the optimisers run them × `lr_scale`."""
        self.base_rates = (g, d)
        for opt, lr in ((self.opt_g, g), (self.opt_d, d)):
            for group in opt.param_groups:
                group["lr"] = lr * self.lr_scale if self.lr_scale != 1.0 else lr

    def set_scale(self, scale: float) -> None:
        """The schedule's factor on the rates (cxrgan.schedule), kept until the next call."""
        if scale != self.lr_scale:
            rates = self.rates()
            self.lr_scale = scale
            self.set_rates(*rates)

    def state_dict(self) -> Checkpoint:
        sampler_tensors, sampler_meta = self.sampler.state()
        g_opt, g_groups = optimizer_tensors("optG", self.opt_g)
        d_opt, d_groups = optimizer_tensors("optD", self.opt_d)
        tensors = {
            **model_tensors("G", self.g),
            **model_tensors("D", self.d),
            **g_opt,
            **d_opt,
            **sampler_tensors,
            "rng.noise": self.noise_gen.get_state(),
            "rng.torch": torch.get_rng_state(),  # augmentations draw from the global RNG
            "fixed_noise": self.fixed_z,
        }
        if self.fixed_c is not None:
            tensors["fixed_labels"] = self.fixed_c
        if self.g_ema is not None:
            tensors.update(model_tensors("G_ema", self.g_ema))
        if self.augment is not None:
            tensors.update(model_tensors("augment", self.augment))
        state = {
            "counters": asdict(self.counters),
            "sampler": sampler_meta,
            **self.extras,
        }
        meta = {
            "format": FORMAT_VERSION,
            "model_spec": self.spec.to_dict(),
            "state": state,
            "optG_param_groups": g_groups,
            "optD_param_groups": d_groups,
        }
        return Checkpoint(tensors, meta)

    def load_state_dict(self, ckpt: Checkpoint) -> None:
        ckpt.load_model("G", self.g)
        ckpt.load_model("D", self.d)
        if self.g_ema is not None:
            ckpt.load_model("G_ema", self.g_ema)
        if self.augment is not None:
            ckpt.load_model("augment", self.augment)
        ckpt.load_optimizer("optG", self.opt_g)
        ckpt.load_optimizer("optD", self.opt_d)
        self.base_rates, self.lr_scale = None, 1.0  # the rates as saved, factor included
        state = ckpt.meta["state"]
        self.sampler.load_state(ckpt.tensors, state["sampler"])
        self.noise_gen.set_state(ckpt.tensors["rng.noise"])
        torch.set_rng_state(ckpt.tensors["rng.torch"])
        device = self.fixed_z.device
        self.fixed_z = ckpt.tensors["fixed_noise"].to(device)
        if "fixed_labels" in ckpt.tensors:
            self.fixed_c = ckpt.tensors["fixed_labels"].to(device)
        self.counters = Counters(**state["counters"])
        self.extras = {k: v for k, v in state.items() if k not in ("counters", "sampler")}
