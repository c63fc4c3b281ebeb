"""`cxrgan evaluate`: offline sample-quality metrics between real and generated images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cxrgan.cli.arguments import add_no_progress
from cxrgan.cli.data import add_label_options, label_request_of
from cxrgan.evaluation import defaults as d
from cxrgan.files import json_text


def _image_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < d.MIN_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be at least {d.MIN_IMAGE_SIZE} px (the smallest size the wavelet metrics work "
            f"at), got {value}"
        )
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure sample quality offline (FWD, KID, precision/recall, memorisation)",
        description="Compare generated images with real ones using metrics that need no "
        "downloaded weights: Fréchet Wavelet Distance, KID on wavelet features, precision, "
        "recall, density, coverage, and a memorisation (copy) check. When both sides have "
        "class subfolders (NORMAL/, PNEUMONIA/, ...; a conditional RUN draws its classes) every "
        "metric is also reported per class, and the overall numbers pool the classes both "
        "sides share. Files are written only where --json and --memorisation-png say, and "
        "RUN/memorisation.png for a run. See docs/metrics.md.",
    )
    p.add_argument(
        "--real",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder of real images; pass the TRAINING set for the memorisation check. With "
        "--labels, the folder the label file's paths are read under (e.g. --labels "
        "SPLIT/heldout.csv from `cxrgan data split --labels`: patients the run never saw)",
    )
    p.add_argument(
        "--fake",
        type=Path,
        required=True,
        metavar="DIR|RUN",
        help="folder of generated images (class subfolders: also per class), or a run "
        "directory to generate from (a conditional run draws each class of --real, as many "
        "images as --real has of it, at most --n)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=d.N,
        help=f"images drawn from each side (default {d.N}), overall and per class; FWD and KID "
        "depend on n, so compare results at the same n",
    )
    p.add_argument(
        "--image-size",
        type=_image_size,
        default=None,
        metavar="S",
        help="resolution to compare at, in pixels (default: the run's; for a folder of "
        "generated images their own size when they all share one square size, else 64)",
    )
    p.add_argument(
        "--fit", default=d.FIT, help=f"how folders' images become square (default {d.FIT})"
    )
    p.add_argument(
        "--checkpoint",
        default=d.CHECKPOINT,
        help=f"RUN's checkpoint to generate from (default {d.CHECKPOINT})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.SEED,
        help=f"seed for sampling and generation (default {d.SEED})",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--memorisation-png",
        type=Path,
        metavar="FILE",
        help="where to save the closest generated/training pairs (default: "
        "RUN/memorisation.png for a run; for a folder, not saved: nothing is written where "
        "you stand)",
    )
    add_no_progress(p)
    add_label_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing numpy, pydicom and torch
    from cxrgan.evaluation.evaluate import EvaluateOptions, evaluate
    from cxrgan.evaluation.summary import summary

    options = EvaluateOptions(
        real=args.real,
        fake=args.fake,
        n=args.n,
        image_size=args.image_size,
        fit=args.fit,
        checkpoint=args.checkpoint,
        seed=args.seed,
        memorisation_png=args.memorisation_png,
        progress=args.progress,
        real_labels=label_request_of(args, minimum=1),  # a held-out part may be small
    )
    result = evaluate(options, log=_say)
    print(summary(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json_text(result.payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _say(line: str) -> None:
    """Warnings to stderr, notes to stdout."""
    print(line, file=sys.stderr if line.startswith("warning") else sys.stdout)
