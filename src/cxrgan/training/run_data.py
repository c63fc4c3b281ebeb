"""A run's images: loaded as its config asks, logged in train.log, and a grid of them beside
the samples (samples/real.png)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cxrgan.config import TrainConfig
from cxrgan.data.cache import resolve_cache_dir
from cxrgan.data.folder import ImageSet
from cxrgan.data.source import dataset_summary, load_images
from cxrgan.input_settings import label_request
from cxrgan.reporting.plots import save_grid
from cxrgan.training.rundir import RunDir


def load_data(cfg: TrainConfig, log: Callable[[str], None] | None = None) -> ImageSet:
    """The run's images as the config asks; folders go through the decode-once cache unless
    cfg.cache is off."""
    return load_images(
        cfg.data,
        cfg.image_size,
        demo_images=cfg.demo_images,
        seed=cfg.seed,
        fit=cfg.fit,
        workers=cfg.workers,
        progress=cfg.progress,
        cache_dir=resolve_cache_dir(cfg.cache_dir) if cfg.cache else None,
        log=log,
        labels=label_request(cfg),
    )


def log_data(run: RunDir, data: ImageSet) -> None:
    """How many images from where (per class), and every file skipped with its reason."""
    if data.synthetic:
        run.log(f"data: {len(data)} {dataset_summary(data)['note']}")
    else:
        counts = ", ".join(f"{k or '(no class)'} {v}" for k, v in data.class_counts.items())
        run.log(f"data: {len(data)} images from {data.root} ({counts})")
    if data.skipped:
        run.log(f"warning: skipped {len(data.skipped)} unreadable or non-image file(s):")
        for path, reason in data.skipped:
            run.log(f"  skipped {path}: {reason}", echo=len(data.skipped) <= 20)


def save_real_grid(run: RunDir, data: ImageSet, seed: int) -> None:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(data), size=min(64, len(data)), replace=False)
    save_grid(data.images[np.sort(idx)], run.samples / "real.png")
