"""The one typed configuration that flows from CLI/TOML to the trainer."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError

IMAGE_SIZES = (32, 64, 128, 256)
DEVICES = ("auto", "cpu", "cuda", "mps")

# Settings a resumed run may change; everything else is fixed by the checkpoint.
RESUMABLE = frozenset(
    {
        "epochs",
        "steps_per_epoch",
        "g_lr",
        "d_lr",
        "log_every",
        "checkpoint_every",
        "device",
        "workers",
        "progress",
        "cache",
        "cache_dir",
        "eval_every",
        "eval_unit",
        "eval_n",
        "eval_data",
        "early_stop_patience",
        "early_stop_min_delta",
        "balance",
        "tensorboard",
    }
)


@dataclass
class TrainConfig:
    """Every setting of a training run. Defaults follow the PyTorch DCGAN tutorial."""

    data: str | None = None  # folder of images; None = built-in synthetic phantoms
    out: str | None = None  # run directory; None = runs/<date-time>
    image_size: int = 64
    fit: str = "crop"
    hflip: bool = False
    model: str = "dcgan"
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 128
    epochs: int = 5
    steps_per_epoch: int | None = None  # None = one pass over the data
    seed: int = 0
    device: str = "auto"
    workers: int = 0  # decoding processes; 0 = choose from the CPU count
    cache: bool = True  # decode-once cache of preprocessed images
    cache_dir: str | None = None  # None = $XDG_CACHE_HOME/cxrgan or ~/.cache/cxrgan
    demo_images: int = 2048  # how many phantoms make up the built-in dataset
    log_every: int = 10
    checkpoint_every: int = 0  # 0 = keep only `last`
    progress: bool = True
    eval_every: int = 0  # evaluate FWD/KID every this many units; 0 = off
    eval_unit: str = "epoch"  # "epoch" or "step"
    eval_n: int = 2000  # generated (and real) images per evaluation
    eval_data: str | None = None  # real images to compare with; None = the training set
    early_stop_patience: int = 0  # stop after this many evaluations without improvement; 0 = off
    early_stop_min_delta: float = 0.0  # an FWD drop must exceed this to count as improvement
    balance: str = "off"  # "auto" = adapt G's learning rate to keep the game balanced
    tensorboard: bool = False

    def validate(self) -> TrainConfig:
        _check(
            self.image_size in IMAGE_SIZES,
            f"--image-size must be one of {IMAGE_SIZES}, got {self.image_size}",
        )
        _check(self.g_lr > 0, f"--g-lr must be positive, got {self.g_lr}")
        _check(self.d_lr > 0, f"--d-lr must be positive, got {self.d_lr}")
        _check(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "Adam betas must be in [0, 1)")
        _check(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        _check(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        _check(
            self.steps_per_epoch is None or self.steps_per_epoch >= 1,
            f"--steps-per-epoch must be at least 1, got {self.steps_per_epoch}",
        )
        _check(
            self.device in DEVICES,
            f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}",
        )
        _check(
            self.nz >= 1 and self.ngf >= 1 and self.ndf >= 1,
            "--nz, --ngf and --ndf must be positive",
        )
        _check(self.log_every >= 1, f"--log-every must be at least 1, got {self.log_every}")
        _check(self.checkpoint_every >= 0, "--checkpoint-every must be 0 (off) or positive")
        _check(self.workers >= 0, "--workers must be 0 (auto) or positive")
        _check(self.demo_images >= 1, "--demo-images must be positive")
        _check(self.eval_every >= 0, "--eval-every must be 0 (off) or positive")
        _check(
            self.eval_unit in ("epoch", "step"),
            f"--eval-unit must be epoch or step, got {self.eval_unit!r}",
        )
        _check(self.eval_n >= 2, f"--eval-n must be at least 2, got {self.eval_n}")
        _check(self.early_stop_patience >= 0, "--early-stop-patience must be 0 (off) or positive")
        _check(
            self.early_stop_patience == 0 or self.eval_every > 0,
            "--early-stop-patience needs --eval-every (early stopping watches FWD)",
        )
        _check(self.early_stop_min_delta >= 0, "--early-stop-min-delta must not be negative")
        _check(
            self.balance in ("off", "auto"), f"--balance must be off or auto, got {self.balance!r}"
        )
        from cxrgan.data.preprocess import FIT_POLICIES
        from cxrgan.models import MODELS

        _check(
            self.fit in FIT_POLICIES,
            f"--fit must be one of {', '.join(FIT_POLICIES)}, got {self.fit!r}",
        )
        _check(
            self.model in MODELS, f"--model must be one of {', '.join(MODELS)}, got {self.model!r}"
        )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CxrganError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise CxrganError(message)


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config; keys may use dashes like the CLI (`g-lr`) or underscores."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CxrganError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CxrganError(f"{path} is not valid TOML: {exc}") from None
    values = {key.replace("-", "_"): value for key, value in raw.items()}
    TrainConfig.from_dict(values)  # reject unknown keys early, with the file named
    return values
