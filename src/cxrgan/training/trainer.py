"""The Trainer: everything one training process holds, passed to the loop and every callback.

One Trainer for one process or many: `rank` and `world_size` are part of the design (a run
under torchrun has one process per rank, see cxrgan.training.distributed). Only the main
process (rank 0) runs the callbacks that write the run directory. It is built by
cxrgan.training.setup and trained by cxrgan.training.loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from cxrgan.config import TrainConfig
from cxrgan.losses.base import GanLoss
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
        save_checkpoint(self.run.checkpoint(name), self.state.state_dict())
        return True

    def load_callback_states(self) -> None:
        """Each named callback's state as the restored TrainState holds it (after a resume or
        a rollback); `save` is the other half."""
        for callback in self.callbacks:
            if callback.name is not None:
                callback.load_state(self, self.state.extras.get(callback.name) or {})
