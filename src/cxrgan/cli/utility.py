"""`cxrgan utility`: do synthetic images help a classifier? TRTR, TSTR and real+synthetic."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from cxrgan.cli.arguments import add_reading_and_device, whole_number
from cxrgan.cli.data import add_label_options, label_request_of
from cxrgan.data.fit import FIT_POLICIES
from cxrgan.errors import CxrganError
from cxrgan.reporting.run_records import is_run_dir
from cxrgan.utility import defaults as d

if TYPE_CHECKING:
    from cxrgan.data.labels.options import LabelRequest


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "utility",
        help="do synthetic images help a classifier? (TRTR, TSTR, real + synthetic)",
        description="Train one fixed, small CNN three ways: on the real training images (TRTR), "
        "on synthetic images with the same class counts (TSTR), and on the real images with "
        "each smaller class topped up with synthetic images to balance the classes. Each is "
        "tested on held-out real images: accuracy, balanced accuracy and ROC AUC, mean ± std "
        "over seeds with 95 % bootstrap intervals, the TSTR/TRTR ratios and the gain from "
        "adding synthetic images. Writes OUT/utility.json and OUT/utility.png (RUN's, without "
        "--out, for a run; for a --synthetic folder only with --out). With --labels, a label "
        "file gives the real images' classes and patients instead of class subfolders, and a "
        "patient on both sides is refused (docs/labels.md). See docs/utility.md.",
    )
    _add_inputs(p)
    _add_statistics(p)
    _add_output_and_device(p)
    add_label_options(p).add_argument(
        "--test-labels",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --labels, the label file of --test (e.g. SPLIT/heldout.csv from `cxrgan "
        "data split --labels`, with --train and --test both the folder its paths are read "
        "under), read with the same format and rule (default: --labels itself, read under "
        "--test); no patient may be on both sides",
    )
    p.set_defaults(run=run)


def _add_inputs(p: argparse.ArgumentParser) -> None:
    """The three image sources and how every image is loaded."""
    p.add_argument(
        "--train",
        type=Path,
        required=True,
        metavar="DIR",
        help="real training images in class subfolders (e.g. NORMAL/, PNEUMONIA/); with "
        "--labels, the folder the label file's paths are read under",
    )
    p.add_argument(
        "--test",
        type=Path,
        required=True,
        metavar="DIR",
        help="held-out real images in the same class subfolders, from other patients; with "
        "--labels, the folder the paths of --test-labels (else --labels) are read under",
    )
    p.add_argument(
        "--synthetic",
        type=Path,
        required=True,
        metavar="RUN|DIR",
        help="a conditional run (`cxrgan train --conditional`; its generator draws each class) "
        "or a folder of synthetic images in the same class subfolders",
    )
    p.add_argument(
        "--image-size",
        type=whole_number(d.MIN_IMAGE_SIZE),
        default=None,
        metavar="S",
        help=f"side in pixels every image is loaded at (default: the run's; {d.IMAGE_SIZE} for "
        f"a folder; at least {d.MIN_IMAGE_SIZE})",
    )
    p.add_argument(
        "--fit",
        choices=FIT_POLICIES,
        default=None,
        help="how non-square images become square (default: the run's --fit, else crop)",
    )


def _add_statistics(p: argparse.ArgumentParser) -> None:
    """Seeds, the classifier's schedule and the bootstrap."""
    p.add_argument(
        "--seeds",
        type=whole_number(1),
        default=d.SEEDS,
        metavar="N",
        help=f"classifiers per training set, with seeds S..S+N-1 (default {d.SEEDS})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="first seed: of the classifiers, the synthetic draw and the bootstrap (default 0)",
    )
    p.add_argument(
        "--epochs",
        type=whole_number(1),
        default=d.EPOCHS,
        metavar="N",
        help=f"passes over each training set (default {d.EPOCHS}, the documented schedule)",
    )
    p.add_argument(
        "--bootstrap",
        type=whole_number(d.MIN_BOOTSTRAP),
        default=d.BOOTSTRAP,
        metavar="B",
        help=f"resamples of the test images for the 95 %% intervals (default {d.BOOTSTRAP})",
    )


def _add_output_and_device(p: argparse.ArgumentParser) -> None:
    """Where the results go, which checkpoint draws, and where and how the work runs."""
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where utility.json and utility.png go (default: the run, whose report then "
        "shows them; for a --synthetic folder, not written: the summary is only printed)",
    )
    p.add_argument(
        "--checkpoint",
        default=d.CHECKPOINT,
        help="the run's checkpoint to draw from: last (default), best, epoch_0005, …",
    )
    add_reading_and_device(p, "the classifier trains and the generator draws")


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing torch, numpy and matplotlib
    from cxrgan.data.cache import resolve_cache_dir
    from cxrgan.reporting.html_report import write_report
    from cxrgan.utility.score import UtilityOptions, run_utility, write_outputs
    from cxrgan.utility.summary import summary

    options = UtilityOptions(
        train=args.train,
        test=args.test,
        synthetic=args.synthetic,
        image_size=args.image_size,
        fit=args.fit,
        seeds=args.seeds,
        seed=args.seed,
        epochs=args.epochs,
        bootstrap=args.bootstrap,
        checkpoint=args.checkpoint,
        device=args.device,
        workers=args.workers,
        cache_dir=None if args.no_cache else resolve_cache_dir(args.cache_dir),
        progress=args.progress,
        **_label_requests(args),
    )
    result = run_utility(options, log=print)
    from_run = is_run_dir(args.synthetic)
    out = args.out or (args.synthetic if from_run else None)
    print(summary(result))
    if out is None:
        print("utility.json and utility.png not written (--out DIR writes them)")
        return 0
    json_path, png_path = write_outputs(result, out)
    print(f"wrote {json_path} and {png_path}")
    if from_run and Path(out).resolve() == Path(args.synthetic).resolve():
        print(f"report: {write_report(args.synthetic)}")
    return 0


def _label_requests(args: argparse.Namespace) -> dict[str, LabelRequest | None]:
    """--train's label file and --test's: --test-labels, else the same file (read under
    --test); a test side may be small, so a class there needs one image."""
    train = label_request_of(args)
    if train is None:
        if args.test_labels is not None:
            raise CxrganError("--test-labels needs --labels (their format and rule are shared)")
        return {"labels": None, "test_labels": None}
    file = args.test_labels.expanduser() if args.test_labels else train.file
    return {"labels": train, "test_labels": dataclasses.replace(train, file=file, minimum=1)}
