"""For the torchrun scripts beside it: two training steps with the step and phase named as each
phase runs, so hooks can file what they see under `STEP/PHASE`."""

from __future__ import annotations

from typing import Any

from cxrgan.training.loop import next_batch
from cxrgan.training.step import train_step
from cxrgan.training.trainer import Trainer


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
