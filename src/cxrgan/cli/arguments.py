"""argparse types and options shared by the commands: each declared once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def whole_number(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `low`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="processes decoding images (default 0: one per 64 files, up to the CPU count)",
    )


def add_cache_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache-dir",
        type=Path,
        metavar="D",
        help="where the decode-once cache lives, the same as `cxrgan train --cache-dir` "
        "(default: $XDG_CACHE_HOME/cxrgan, else ~/.cache/cxrgan)",
    )


def add_no_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bars (for logs and CI)",
    )


def add_device(p: argparse.ArgumentParser, does: str) -> None:
    """--device for commands that draw from (or score with) a trained run: `does` runs there."""
    p.add_argument(
        "--device",
        default="cpu",
        choices=("auto", "cpu", "cuda", "mps"),
        help=f"where {does} (default cpu; auto: cuda, else mps, else cpu)",
    )


def add_no_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-cache", action="store_true", help="decode every image, read or write no cache"
    )


def add_reading_and_device(p: argparse.ArgumentParser, does: str) -> None:
    """What commands that read folders of images and draw from a run share: --device (where
    `does` runs), --workers, --cache-dir, --no-cache and --no-progress."""
    add_device(p, does)
    add_workers(p)
    add_cache_dir(p)
    add_no_cache(p)
    add_no_progress(p)
