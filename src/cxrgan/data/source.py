"""Where training images come from: a folder of X-rays, or the built-in phantoms."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cxrgan.data.folder import ImageSet, load_folder
from cxrgan.data.labels.options import LabelRequest
from cxrgan.data.phantoms import make_phantoms

PHANTOM_NOTE = "built-in synthetic phantoms (procedural demo data, NOT real radiographs)"

Log = Callable[[str], None]


def load_images(
    folder: str | Path | None,
    image_size: int,
    *,
    demo_images: int,
    seed: int,
    fit: str = "crop",
    workers: int = 0,
    progress: bool = True,
    cache_dir: Path | None = None,
    log: Log | None = None,
    labels: LabelRequest | None = None,
) -> ImageSet:
    """A run's images: every image under `folder`, or `demo_images` phantoms when it is None.

    demo_images, seed: how many phantoms, drawn from which seed (unused for a folder).
    fit, workers, progress: as for load_folder.
    cache_dir: the decode-once cache's folder (see data.cache.resolve_cache_dir); None decodes
    every file and writes nothing.
    log: where the cache's one-line messages go (default: stdout, before the run's own log
    exists).
    labels: a label file and its rule choose the images and their classes (docs/labels.md).
    """
    if folder is None:
        return load_phantoms(demo_images, image_size, seed)
    return load_folder(
        Path(folder),
        image_size,
        fit,
        workers,
        progress,
        cache_dir=cache_dir,
        log=log if log is not None else _print,
        labels=labels,
    )


def _print(message: str) -> None:
    print(message, file=sys.stdout, flush=True)


def load_phantoms(n: int, size: int, seed: int) -> ImageSet:
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
    kind = "phantoms" if data.synthetic else "label file" if data.label_rule else "folder"
    summary = {
        "kind": kind,
        "synthetic": data.synthetic,
        "note": PHANTOM_NOTE if data.synthetic else None,
        "root": str(data.root) if data.root else None,
        "count": len(data),
        "classes": data.class_counts,
        "fingerprint": data.fingerprint,
        "skipped": len(data.skipped),
    }
    if data.label_rule is not None:
        summary["labels"] = data.label_rule  # the rule and the counts it produced
    return summary
