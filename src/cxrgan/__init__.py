"""cxrgan: train GANs that make synthetic chest X-rays, and judge them offline.

The public names load on first use, so `import cxrgan` (and `cxrgan --help`) stays quick:
    TrainConfig, train, resume, load_generator, sample_images, SyntheticGenerator,
    SyntheticDataset, ModelSpec, evaluate
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# name → module that defines it (see cxrgan/api.py for the functions)
_PUBLIC = {
    "TrainConfig": "cxrgan.config",
    "ModelSpec": "cxrgan.models.spec",
    "train": "cxrgan.api",
    "resume": "cxrgan.api",
    "load_generator": "cxrgan.api",
    "sample_images": "cxrgan.api",
    "SyntheticGenerator": "cxrgan.api",
    "SyntheticDataset": "cxrgan.api",
    "evaluate": "cxrgan.api",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'cxrgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
