"""Where training images come from: a folder of X-rays, or the built-in phantoms."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cxrgan.config import TrainConfig
from cxrgan.data.folder import ImageSet, load_folder

PHANTOM_NOTE = "built-in synthetic phantoms (procedural demo data, NOT real radiographs)"


def load_training_data(cfg: TrainConfig, log: Callable[[str], None] | None = None) -> ImageSet:
    """The run's images; folders go through the decode-once cache unless cfg.cache is off.

    log: where the cache's one-line messages go (default: stdout, before the run's own log
    exists).
    """
    if cfg.data is None:
        return load_phantoms(cfg.demo_images, cfg.image_size, cfg.seed)
    from cxrgan.data.cache import resolve_cache_dir

    return load_folder(
        Path(cfg.data),
        cfg.image_size,
        cfg.fit,
        cfg.workers,
        cfg.progress,
        cache_dir=resolve_cache_dir(cfg.cache_dir) if cfg.cache else None,
        log=log if log is not None else _print,
    )


def _print(message: str) -> None:
    print(message, file=sys.stdout, flush=True)


def load_phantoms(n: int, size: int, seed: int) -> ImageSet:
    from cxrgan.data.phantoms import make_phantoms

    return ImageSet(
        images=make_phantoms(n, size, seed),
        labels=np.zeros(n, dtype=np.int64),
        classes=["phantom"],
        paths=[f"phantom/{i:05d}" for i in range(n)],
        root=None,
        synthetic=True,
    )


def dataset_summary(data: ImageSet) -> dict:
    """What config.json records about the data (no pixels, no patient information)."""
    return {
        "kind": "phantoms" if data.synthetic else "folder",
        "synthetic": data.synthetic,
        "note": PHANTOM_NOTE if data.synthetic else None,
        "root": str(data.root) if data.root else None,
        "count": len(data),
        "classes": data.class_counts,
        "fingerprint": data.fingerprint,
        "skipped": len(data.skipped),
    }
