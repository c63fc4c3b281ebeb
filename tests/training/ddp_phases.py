"""For the torchrun scripts beside it: the trainer each rank builds, and two training steps
with the step and phase named as each phase runs, so hooks can file what they see under
`STEP/PHASE`."""

from __future__ import annotations

from typing import Any

from cxrgan.config import TrainConfig
from cxrgan.data.source import load_phantoms
from cxrgan.training import distributed as ddp
from cxrgan.training.device import resolve_device
from cxrgan.training.loop import next_batch
from cxrgan.training.setup import build_trainer
from cxrgan.training.step import train_step
from cxrgan.training.trainer import Trainer

# lightweight + hinge + lazy R1: D has aux-only parameters and a Dreg phase at step 0
SETTINGS = dict(recipe="tutorial", model="lightweight", image_size=64, ngf=8, ndf=8, nz=16,
                batch_size=16, loss="hinge", r1_gamma=1.0, device="cpu",
                progress=False)  # fmt: skip


def rank_trainer(world: ddp.World) -> Trainer:
    """This rank's trainer on 64 phantoms, as `cxrgan train` builds it (no run directory)."""
    cfg = TrainConfig.from_dict(SETTINGS).validate()
    data = load_phantoms(64, 64, seed=0)
    device = resolve_device(cfg.device)
    return build_trainer(cfg, None, data, device, rank=world.rank, world_size=world.world_size)


def two_marked_steps(t: Trainer, now: dict[str, Any]) -> None:
    """Steps 0 and 1 (step 0 runs the lazy R1 phase, Dreg; step 1 does not); `now["step"]` and
    `now["phase"]` name what is running whenever a hook is called."""
    accumulate = t.loss.accumulate_gradients

    def marked(phase: str, batch, gain: float = 1.0) -> dict:
        now["phase"] = phase
        return accumulate(phase, batch, gain)

    t.loss.accumulate_gradients = marked
    for step in range(2):
        now["step"] = step
        train_step(t.loss, t.phases, next_batch(t.state, t.device), step)
