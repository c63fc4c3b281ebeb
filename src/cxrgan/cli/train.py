"""`cxrgan train`: train a GAN on a folder of chest X-rays (or the built-in phantoms)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cxrgan.config import DEVICES, IMAGE_SIZES, TrainConfig, load_toml
from cxrgan.data.preprocess import FIT_POLICIES
from cxrgan.models import MODELS

DEFAULTS = TrainConfig()


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


# (flag, type, help). Every flag maps to the TrainConfig field of the same name.
OPTIONS: list[tuple[str, Any, str]] = [
    (
        "--data",
        str,
        "folder of chest X-rays, searched recursively; its immediate subfolders are "
        "class labels (e.g. chest_xray/train with NORMAL/ and PNEUMONIA/; a single wrapper "
        "folder and train/val/test split folders are looked through, so the whole Kaggle "
        "tree is labelled NORMAL/PNEUMONIA too). Omit to train on the built-in synthetic "
        "phantoms (demo data, no download)",
    ),
    ("--out", str, "run directory to create (default: runs/<date-time>)"),
    (
        "--image-size",
        _int,
        f"training resolution, one of {IMAGE_SIZES} (default {DEFAULTS.image_size})",
    ),
    (
        "--fit",
        str,
        f"how non-square images become square: {', '.join(FIT_POLICIES)} "
        f"(default {DEFAULTS.fit}, as the tutorial's Resize + CenterCrop)",
    ),
    ("--model", str, f"architecture, one of {', '.join(MODELS)} (default {DEFAULTS.model})"),
    (
        "--g-lr",
        _float,
        f"generator learning rate (default {DEFAULTS.g_lr:g}); if D overpowers G, "
        "raise it (the tutorial's 2e-4 often needs ×5–×10 on chest X-rays)",
    ),
    ("--d-lr", _float, f"discriminator learning rate (default {DEFAULTS.d_lr:g})"),
    ("--beta1", _float, f"Adam β1 for both networks (default {DEFAULTS.beta1})"),
    ("--beta2", _float, f"Adam β2 for both networks (default {DEFAULTS.beta2})"),
    ("--batch-size", _int, f"images per step (default {DEFAULTS.batch_size})"),
    (
        "--epochs",
        _int,
        f"total epochs to train; on --resume, the new total (default {DEFAULTS.epochs})",
    ),
    (
        "--steps-per-epoch",
        _int,
        "optimiser steps per epoch (default: one pass over the data); "
        "more or fewer than a pass is fine",
    ),
    ("--nz", _int, f"latent vector size (default {DEFAULTS.nz})"),
    ("--ngf", _int, f"generator width (default {DEFAULTS.ngf})"),
    ("--ndf", _int, f"discriminator width (default {DEFAULTS.ndf})"),
    ("--seed", _int, f"seed for weights, noise and shuffling (default {DEFAULTS.seed})"),
    ("--device", str, f"{'|'.join(DEVICES)} (default {DEFAULTS.device}: CUDA, then MPS, then CPU)"),
    ("--workers", _int, "processes decoding images (default 0: as many as CPU cores)"),
    (
        "--cache-dir",
        str,
        "where the decode-once cache lives (default: $XDG_CACHE_HOME/cxrgan, else ~/.cache/cxrgan)",
    ),
    (
        "--demo-images",
        _int,
        f"number of phantoms when --data is omitted (default {DEFAULTS.demo_images})",
    ),
    ("--log-every", _int, f"steps between lines of metrics.jsonl (default {DEFAULTS.log_every})"),
    (
        "--eval-every",
        _int,
        "compute FWD and KID every this many epochs (or steps, see --eval-unit), "
        "log them to metrics.jsonl, draw plots/quality.png and keep checkpoints/best "
        "(default 0: off)",
    ),
    ("--eval-unit", str, "unit of --eval-every: epoch (default) or step"),
    (
        "--eval-n",
        _int,
        f"generated and real images per evaluation (default {DEFAULTS.eval_n}); "
        "FWD depends on n, so compare runs at the same n",
    ),
    ("--eval-data", str, "folder of real images to evaluate against (default: the training set)"),
    (
        "--early-stop-patience",
        _int,
        "stop when FWD has not improved for this many evaluations "
        "(needs --eval-every; default 0: never)",
    ),
    (
        "--early-stop-min-delta",
        _float,
        "an FWD drop smaller than this does not count as an "
        f"improvement (default {DEFAULTS.early_stop_min_delta})",
    ),
    (
        "--balance",
        str,
        "off (default) or auto: adapt G's learning rate while training when D "
        "overpowers G or is too weak (bounded ×/÷10, every change logged in metrics.jsonl)",
    ),
    (
        "--checkpoint-every",
        _int,
        "also keep checkpoints/epoch_NNNN every this many epochs "
        "(default 0: keep only checkpoints/last)",
    ),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a GAN on a folder of chest X-rays (or built-in phantoms)",
        description="Train a DCGAN on chest X-rays. Writes a run directory with config.json, "
        "metrics.jsonl, sample grids, loss plots and resumable checkpoints. "
        "Settings come from the defaults, then --config FILE.toml, then the command line.",
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="TOML file with any of the options below (keys like g_lr or g-lr)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue RUN in place from checkpoints/last: same fixed noise, counters "
        "and metrics continue; --epochs, --steps-per-epoch, --g-lr, --d-lr, --device, "
        "--workers, --log-every, --checkpoint-every, the --eval-*, --early-stop-*, --balance and "
        "--tensorboard options may change",
    )
    for flag, kind, text in OPTIONS:
        p.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument(
        "--hflip",
        action="store_true",
        default=None,
        help="random horizontal flips (off by default: a flipped chest X-ray puts the "
        "heart on the wrong side)",
    )
    p.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        default=None,
        help="decode every image from its file on each start instead of using the "
        "decode-once cache",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        default=None,
        help="also write scalars and sample grids to RUN/tb/ for TensorBoard "
        "(needs: pip install 'cxrgan[tensorboard]')",
    )
    p.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        default=None,
        help="no progress bars (for logs and CI)",
    )
    p.set_defaults(run=run)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """Options set on the command line (None means 'not given')."""
    names = [flag[2:].replace("-", "_") for flag, _, _ in OPTIONS] + [
        "hflip",
        "progress",
        "cache",
        "tensorboard",
    ]
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def run(args: argparse.Namespace) -> int:
    from cxrgan.training.session import resume_run, start_run

    settings = {**(load_toml(args.config) if args.config else {}), **given_options(args)}
    if args.resume is not None:
        resume_run(args.resume, settings)
    else:
        start_run(TrainConfig.from_dict(settings))
    return 0
