"""Sample quality during training: FWD/KID every so often (beside the real-vs-real floor),
`best` checkpoint, early stopping."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from cxrgan.data.pixels import batches_to_uint8
from cxrgan.metrics.evaluate import QualityEvaluator
from cxrgan.metrics.images import ClassRows
from cxrgan.models.sampling import mix_labels, sample_batches
from cxrgan.reporting.run_records import selection_fwd

EVAL_NOISE_OFFSET = 7919  # the same noise at every evaluation, apart from training's


@dataclass
class ClassReference:
    """A conditional model's real side per class: the overall fakes are drawn in the real
    images' class mix, and each class with at least MIN_CLASS_IMAGES images is also judged on
    its own against that class's real images."""

    names: tuple[str, ...]
    shares: list[float]  # each class's share of the real images
    evaluators: dict[int, QualityEvaluator]  # class index -> its own real-side statistics

    @classmethod
    def build(
        cls, real: np.ndarray, labels: np.ndarray, names: tuple[str, ...], n: int, seed: int
    ) -> ClassReference:
        counts = np.array([(labels == k).sum() for k in range(len(names))])  # -1: other classes
        evaluators = {
            k: QualityEvaluator(
                ClassRows(real, np.flatnonzero(labels == k)), n=min(n, int(counts[k])), seed=seed
            )
            for k in range(len(names))
            if counts[k] >= MIN_CLASS_IMAGES
        }
        return cls(names, (counts / counts.sum()).tolist(), evaluators)

    def mix(self, n: int) -> torch.Tensor:
        """`n` class indices in the real class mix (largest remainders), grouped by class."""
        return mix_labels(torch.tensor(self.shares), n)


MIN_CLASS_IMAGES = 4  # FWD's floor needs two halves of two


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
    classes: ClassReference | None = None  # a conditional model's per-class real side

    def evaluate(
        self, g: nn.Module, device: torch.device, step: int, epoch: int, elapsed_s: float
    ) -> tuple[dict, bool]:
        """Returns the metrics record and whether it is the best so far by `selection_fwd` (a
        conditional model's record also holds FWD/KID per class under `per_class`, and the worst
        of them as `fwd_worst_class`)."""
        start = time.perf_counter()
        n, seed = self.evaluator.n, self.seed + EVAL_NOISE_OFFSET
        labels = self.classes.mix(n) if self.classes is not None else None
        scores = self.evaluator.evaluate(_draw(g, n, seed, device, labels))
        record = {
            "step": step,
            "epoch": epoch,
            "elapsed_s": round(elapsed_s, 3),  # training time, as --minutes counts it
            **scores,
            **self.floor(),
        }
        if self.classes is not None:
            record["per_class"] = per_class = self._per_class(g, device, seed)
            if per_class:
                record["fwd_worst_class"] = max(c["fwd"] for c in per_class.values())
        record["eval_s"] = round(time.perf_counter() - start, 3)
        self.records.append(record)
        fwd = float(selection_fwd(record))
        improved = fwd < self.best_fwd - self.min_delta
        if fwd < self.best_fwd:
            self.best_fwd, self.best_step = fwd, step
        self.bad_evals = 0 if improved else self.bad_evals + 1
        return record, fwd == self.best_fwd

    def _per_class(self, g: nn.Module, device: torch.device, seed: int) -> dict[str, Any]:
        assert self.classes is not None
        out = {}
        for k, evaluator in self.classes.evaluators.items():
            labels = torch.full((evaluator.n,), k, dtype=torch.long)
            scores = evaluator.evaluate(_draw(g, evaluator.n, seed, device, labels))
            out[self.classes.names[k]] = {
                "fwd": scores["fwd"],
                "kid_mean": scores["kid_mean"],
                "n": evaluator.n,
                "fwd_floor": evaluator.fwd_floor,
            }
        return out

    @property
    def selection_name(self) -> str:
        return "FWD" if self.classes is None else "the worst class's FWD"

    def floor(self) -> dict[str, Any]:
        """The real-vs-real FWD floor (computed once, with the real side) and its n, as every
        evaluation record carries them: `fwd_floor` is null when too few real images."""
        return {"fwd_floor": self.evaluator.fwd_floor, "fwd_floor_n": self.evaluator.fwd_floor_n}

    def stop_reason(self) -> str | None:
        if self.patience and self.bad_evals >= self.patience:
            return (
                f"early_stop: {self.selection_name} has not improved by more than "
                f"{self.min_delta:g} for {self.bad_evals} evaluation(s); best "
                f"{self.best_fwd:.4g} at step {self.best_step}"
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


def _draw(
    g: nn.Module, n: int, seed: int, device: torch.device, labels: torch.Tensor | None
) -> np.ndarray:
    """The fakes an evaluation judges: `n` uint8 images drawn as `cxrgan generate` and
    `cxrgan evaluate` draw them (inference.generate.sample_images, above training), from `g`
    on its standing statistics (Trainer.standing_generator)."""
    return batches_to_uint8(n, g.resolution, sample_batches(g, n, seed, device, labels))
