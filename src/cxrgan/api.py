"""The Python surface: train a GAN, load its generator, draw images by class, feed a DataLoader.

    run = cxrgan.train({"data": "chest_xray/train", "conditional": True, "eval_every": 1})
    g = cxrgan.load_generator(run)                  # checkpoints/best (else last), EMA G
    x = g.sample(16, label="PNEUMONIA", seed=0)     # (16, 64, 64) uint8
    data = cxrgan.SyntheticDataset(run, 1000, label="NORMAL")   # (1, 64, 64) in [-1, 1], 0

The README's example is examples/api_example.py, which tests/test_api.py runs as it stands.
Weights load only from the run's safetensors checkpoints; device="cuda" (or "auto") draws on a
GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxrgan.config import TrainConfig
from cxrgan.inference.synthetic import Label, SyntheticDataset, SyntheticGenerator
from cxrgan.models.base import Generator
from cxrgan.training.session import resume_run, start_run

__all__ = [
    "SyntheticDataset",
    "SyntheticGenerator",
    "load_generator",
    "resume",
    "sample_images",
    "train",
]


def train(config: TrainConfig | Mapping[str, Any]) -> Path:
    """Train a new run as `cxrgan train` does; returns its run directory.

    A dict (keys as in TrainConfig or a TOML file) goes over the recipe it names, like the
    command line; a TrainConfig is used as it is (TrainConfig.from_dict applies a recipe).
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
    same seed gives the same images. device: where the module is (default: found from it)."""
    gen = g if isinstance(g, SyntheticGenerator) else SyntheticGenerator(g)
    return gen.pixels(n, gen.class_indices(label, n), seed, device)
