"""The Trainer: everything one training process holds, passed to the loop and every callback.

One Trainer for one process or many: `rank` and `world_size` are part of the design (a run
under torchrun has one process per rank, see cxrgan.training.distributed). Only the main
process (rank 0) runs the callbacks that write the run directory. It is built by
cxrgan.training.setup and trained by cxrgan.training.loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cxrgan.config import TrainConfig
from cxrgan.losses.base import GanLoss
from cxrgan.models.standing import compute_standing_stats, standing_tensors
from cxrgan.training.callbacks import Callback
from cxrgan.training.checkpoint import save_checkpoint
from cxrgan.training.ema import EMA
from cxrgan.training.faults import non_finite_weights
from cxrgan.training.rundir import RunDir
from cxrgan.training.state import TrainState
from cxrgan.training.step import BoundPhase


@dataclass
class Trainer:
    cfg: TrainConfig
    device: torch.device
    state: TrainState
    loss: GanLoss
    phases: list[BoundPhase]
    steps_per_epoch: int
    run: RunDir | None  # None on processes other than the main one
    callbacks: list[Callback] = field(default_factory=list)
    rank: int = 0
    world_size: int = 1
    ema: EMA | None = None  # how G_ema follows G, when the run keeps one
    records: list[dict[str, Any]] = field(default_factory=list)  # the run's log records
    eval_records: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    stop_signal: str | None = None  # SIGINT or SIGTERM, when a signal interrupted training
    rollbacks: int = 0  # --on-nan rollback: rollbacks in this train or resume
    # Training time the --lr-schedule reads, the same on every rank (None: the counters').
    spent_s: float | None = None
    private: Any = None  # --dp-epsilon: the PrivateD (cxrgan.training.private)
    # The sampling G with standing statistics, and the step it was made at (standing_generator).
    standing: tuple[int, nn.Module] | None = None

    @property
    def master_process(self) -> bool:
        return self.rank == 0

    def emit(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            if self.master_process or not callback.main_only:
                getattr(callback, event)(self, *args)

    def request_stop(self, reason: str) -> None:
        self.stop_reason = reason

    def save(self, name: str) -> bool:
        """Write checkpoints/<name> with the state of every part, callbacks included; never
        non-finite weights (then nothing is written, the file there is kept, and False)."""
        if not self.master_process:
            return False
        bad = non_finite_weights(self.state)
        if bad is not None:
            self.run.log(f"warning: not saving checkpoints/{name}: {bad} holds NaN/inf")
            return False
        for callback in self.callbacks:
            if callback.name is not None:
                self.state.extras[callback.name] = callback.state()
        ckpt = self.state.state_dict()
        owner = "G" if self.state.g_ema is None else "G_ema"
        ckpt.tensors.update(standing_tensors(self.standing_generator(), owner))
        save_checkpoint(self.run.checkpoint(name), ckpt)
        return True

    def standing_generator(self) -> nn.Module:
        """A copy of the sampling G (G_ema if kept) in eval mode on standing statistics of its
        current weights (models.standing): what checkpoints store and evaluations draw from.
        Made once per step, so an evaluation and the `best` it saves share one; the training
        G itself and every RNG stream are untouched."""
        step = self.state.counters.step
        if self.standing is None or self.standing[0] != step:
            g = copy.deepcopy(self.state.sampling_g)
            self.standing = (step, compute_standing_stats(g))
        return self.standing[1]

    def load_callback_states(self) -> None:
        """Each named callback's state as the restored TrainState holds it (after a resume or
        a rollback); `save` is the other half."""
        self.standing = None  # weights of another moment
        for callback in self.callbacks:
            if callback.name is not None:
                callback.load_state(self, self.state.extras.get(callback.name) or {})
