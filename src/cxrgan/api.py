"""The Python surface: train a GAN, load its generator, draw images by class, feed a DataLoader.

    run = cxrgan.train({"data": "chest_xray/train", "conditional": True, "eval_every": 1})
    g = cxrgan.load_generator(run)                  # checkpoints/best (else last), EMA G
    x = g.sample(16, label="PNEUMONIA", seed=0)     # (16, 64, 64) uint8
    data = cxrgan.SyntheticDataset(run, 1000, label="NORMAL")   # (1, 64, 64) in [-1, 1], 0
    result = cxrgan.evaluate("chest_xray/train", run)   # what `cxrgan evaluate --json` writes

docs/api.md's example is examples/api_example.py, which tests/test_api.py runs as it stands.
Weights load only from the run's safetensors checkpoints; device="cuda" (or "auto") draws on a
GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxrgan.config import TrainConfig
from cxrgan.evaluation import defaults as evaluation_defaults
from cxrgan.evaluation.evaluate import EvaluateOptions
from cxrgan.evaluation.evaluate import evaluate as run_evaluation
from cxrgan.inference.synthetic import Label, SyntheticDataset, SyntheticGenerator
from cxrgan.models.base import Generator
from cxrgan.training.session import resume_run, start_run

__all__ = [
    "SyntheticDataset",
    "SyntheticGenerator",
    "evaluate",
    "load_generator",
    "resume",
    "sample_images",
    "train",
]


def train(config: TrainConfig | Mapping[str, Any]) -> Path:
    """Train a new run as `cxrgan train` does; returns its run directory.

    A dict (keys as in TrainConfig or a TOML file) or a TrainConfig goes over the recipe it
    names, like the command line: `TrainConfig(recipe="tutorial", g_lr=1e-3)` is the tutorial's
    recipe with G at 1e-3.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    return start_run(cfg).root


def resume(run: str | Path, **changes: Any) -> Path:
    """Continue `run` in place, e.g. `resume("runs/r1", epochs=10, g_lr=1e-3)`."""
    return resume_run(Path(run), changes).root


def load_generator(
    run: str | Path,
    checkpoint: str = "best",
    device: str | torch.device = "cpu",
    raw: bool = False,
) -> SyntheticGenerator:
    """A run's generator (its EMA copy when it kept one, unless `raw`), ready to `.sample()`.

    checkpoint: "best" (the lowest FWD; runs without eval_every have none, and get "last"
    with a warning), "last", or "epoch_NNNN". device: "cpu", "cuda", "mps" or "auto".
    """
    return SyntheticGenerator.load(run, checkpoint, device, raw)


def sample_images(
    g: SyntheticGenerator | Generator,
    n: int,
    seed: int = 0,
    device: str | torch.device | None = None,
    label: Label = None,
) -> np.ndarray:
    """`n` images as (n, S, S) uint8 from a loaded generator or a bare Generator module; the
    same seed gives the same images. device: where the module is (default: found from it).
    A bare module samples in eval mode on its running statistics (see SyntheticGenerator)."""
    gen = g if isinstance(g, SyntheticGenerator) else SyntheticGenerator(g)
    return gen.pixels(n, gen.class_indices(label, n), seed, device)


def evaluate(
    real: str | Path,
    fake: str | Path,
    *,
    n: int = evaluation_defaults.N,
    image_size: int | None = None,
    fit: str = evaluation_defaults.FIT,
    checkpoint: str = evaluation_defaults.CHECKPOINT,
    seed: int = evaluation_defaults.SEED,
    memorisation_png: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Generated images against real ones, as `cxrgan evaluate` measures them; returns what
    its --json writes: "metrics" (every metric, None where skipped), "skipped" (why), "about",
    and per class ("classes", "per_class", "overall_classes") when both sides have classes.

    real: a folder of real images (the TRAINING set, for the memorisation check). fake: a
    folder of generated images, or a run directory whose `checkpoint` draws them (a conditional
    run draws each class of `real`). The keywords are the command's options (docs/metrics.md);
    memorisation_png None writes RUN/memorisation.png for a run, and no file for a folder.
    log: receives the notes and warnings the command prints (None: silence).
    """
    options = EvaluateOptions(
        real=Path(real),
        fake=Path(fake),
        n=n,
        image_size=image_size,
        fit=fit,
        checkpoint=checkpoint,
        seed=seed,
        memorisation_png=None if memorisation_png is None else Path(memorisation_png),
        progress=progress,
    )
    return run_evaluation(options, log=log).payload
