"""TensorBoard: event files in RUN/tb/, which a resumed run appends to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cxrgan.tracking.base import Tracker, need


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    @classmethod
    def required(cls) -> tuple[str, ...]:
        return ("tensorboard",)

    def __init__(self, root: Path, config: dict[str, Any]):
        need("tensorboard", "tensorboard")
        # deferred: torch's writer loads the tensorboard package, an optional extra
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(root / "tb"))
        self.writer.add_text("config", f"```\n{json.dumps(config, indent=2)}\n```")

    def scalars(self, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)

    def image(self, tag: str, path: Path, step: int) -> None:
        with Image.open(path) as png:
            pixels = np.asarray(png)
        if pixels.ndim == 2:
            self.writer.add_image(tag, pixels[None], step)
        else:
            self.writer.add_image(tag, pixels, step, dataformats="HWC")

    def summary(self, values: dict[str, float], step: int) -> None:
        self.scalars(values, step)

    def close(self, reason: str) -> None:
        self.writer.close()
