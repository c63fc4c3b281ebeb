"""The Python surface: train a GAN and load its generator without the command line.

import cxrgan
run = cxrgan.train(cxrgan.TrainConfig(data="chest_xray/train", epochs=5, out="runs/r1"))
g = cxrgan.load_generator(run)
images = cxrgan.sample_images(g, 16, seed=0)    # (16, 64, 64) uint8
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxrgan.config import TrainConfig
from cxrgan.models.base import Generator
from cxrgan.training import generate
from cxrgan.training.session import resume_run, start_run


def train(config: TrainConfig | Mapping[str, Any]) -> Path:
    """Train a new run as `cxrgan train` does; returns its run directory."""
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    return start_run(cfg).root


def resume(run: str | Path, **changes: Any) -> Path:
    """Continue `run` in place, e.g. `resume("runs/r1", epochs=10, g_lr=1e-3)`."""
    return resume_run(Path(run), changes).root


def load_generator(
    run: str | Path, checkpoint: str = "last", device: str = "cpu", raw: bool = False
) -> Generator:
    """A run's generator (its EMA copy when it kept one, unless `raw`), ready to sample."""
    return generate.load_generator(Path(run), checkpoint, device, raw)


def sample_images(
    g: Generator, n: int, seed: int = 0, device: str | torch.device | None = None
) -> np.ndarray:
    """`n` images as (n, S, S) uint8; the same seed gives the same images."""
    device = device or next(g.parameters()).device
    return generate.sample_images(g, n, seed, device)
