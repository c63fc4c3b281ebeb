"""Sample quality during training: FWD/KID every so often (beside the real-vs-real floor),
`best` checkpoint, early stopping."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cxrgan.metrics.evaluate import QualityEvaluator
from cxrgan.training.generate import sample_images

EVAL_NOISE_OFFSET = 7919  # the same noise at every evaluation, apart from training's


@dataclass
class QualityTracker:
    """Holds the real-side statistics (computed once) and the early-stopping state."""

    evaluator: QualityEvaluator
    seed: int
    patience: int = 0
    min_delta: float = 0.0
    best_fwd: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    def evaluate(
        self, g: nn.Module, device: torch.device, step: int, epoch: int
    ) -> tuple[dict, bool]:
        """Returns the metrics record and whether FWD improved on the best so far."""
        start = time.perf_counter()
        fakes = sample_images(g, self.evaluator.n, self.seed + EVAL_NOISE_OFFSET, device)
        scores = self.evaluator.evaluate(fakes)
        record = {
            "step": step,
            "epoch": epoch,
            **scores,
            **self.floor(),
            "eval_s": round(time.perf_counter() - start, 3),
        }
        self.records.append(record)
        improved = scores["fwd"] < self.best_fwd - self.min_delta
        if scores["fwd"] < self.best_fwd:
            self.best_fwd, self.best_step = scores["fwd"], step
        self.bad_evals = 0 if improved else self.bad_evals + 1
        return record, scores["fwd"] == self.best_fwd

    def floor(self) -> dict[str, Any]:
        """The real-vs-real FWD floor (computed once, with the real side) and its n, as every
        evaluation record carries them: `fwd_floor` is null when too few real images."""
        return {"fwd_floor": self.evaluator.fwd_floor, "fwd_floor_n": self.evaluator.fwd_floor_n}

    def stop_reason(self) -> str | None:
        if self.patience and self.bad_evals >= self.patience:
            return (
                f"early_stop: FWD has not improved by more than {self.min_delta:g} for "
                f"{self.bad_evals} evaluation(s); best {self.best_fwd:.4g} at step {self.best_step}"
            )
        return None

    def state(self) -> dict[str, Any]:
        best = self.best_fwd if math.isfinite(self.best_fwd) else None
        return {"best_fwd": best, "best_step": self.best_step, "bad_evals": self.bad_evals}

    def load_state(self, state: dict[str, Any], evals: list[dict[str, Any]]) -> None:
        self.best_fwd = math.inf if state.get("best_fwd") is None else state["best_fwd"]
        self.best_step = state.get("best_step", 0)
        self.bad_evals = state.get("bad_evals", 0)
        self.records = list(evals)
