"""The settings of a run's input, declared once: which images, their label file, and how they
are decoded and kept. TrainConfig (cxrgan.config) lists each under its name, e.g.

    data: str | None = inputs.DATA

so the field keeps its place among the run's settings while its default, help and checks live
here; config.py stays small enough to read.
"""

from __future__ import annotations

from typing import Any

from cxrgan.data.fit import FIT_POLICIES
from cxrgan.settings import setting

IMAGE_SIZES = (32, 64, 128, 256)

DATA: Any = setting(
    None,
    "folder of chest X-rays, searched recursively; its immediate subfolders are class "
    "labels (e.g. chest_xray/train with NORMAL/ and PNEUMONIA/; a single wrapper folder and "
    "train/val/test split folders are looked through, so the whole Kaggle tree is labelled "
    "NORMAL/PNEUMONIA too). Omit to train on the built-in synthetic phantoms (demo data, "
    "no download)",
    group="data",
)

IMAGE_SIZE: Any = setting(
    64, "training resolution in pixels", group="data", choices=lambda: IMAGE_SIZES
)

FIT: Any = setting(
    "crop",
    "how non-square images become square (crop: the tutorial's Resize + CenterCrop; pad "
    "keeps the whole chest; squash matches public 224×224 copies)",
    group="data",
    choices=lambda: FIT_POLICIES,
)

WORKERS: Any = setting(
    0,
    "processes decoding images (0: as many as CPU cores)",
    group="data",
    resumable=True,
    min=0,
    max=1024,  # more than any machine's cores; 10**6 would fork that many processes
)

CACHE: Any = setting(
    True,
    "the decode-once cache of preprocessed images (--no-cache: decode every image from "
    "its file on each start)",
    group="data",
    resumable=True,
)

CACHE_DIR: Any = setting(
    None,
    "where the decode-once cache lives (default: $XDG_CACHE_HOME/cxrgan, else ~/.cache/cxrgan)",
    group="data",
    resumable=True,
)

DATA_ON: Any = setting(
    "auto",
    "where the training images live. device: all copied to the GPU once (fastest); host: "
    "in host memory (the decode-once cache is memory-mapped) and each step copies only "
    "this process's share, through pinned memory, for data larger than the GPU; auto: "
    "device when they take at most half the GPU's free memory (on CPU they are in memory)",
    group="data",
    resumable=True,
    choices=lambda: ("auto", "device", "host"),
)

DEMO_IMAGES: Any = setting(
    2048, "number of phantoms when --data is omitted", group="data", min=1, max=100_000
)
