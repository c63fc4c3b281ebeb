"""`cxrgan evaluate`: offline sample-quality metrics between real and generated images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from cxrgan.errors import CxrganError
from cxrgan.reporting.run_records import is_run_dir

if TYPE_CHECKING:  # annotations only
    import numpy as np


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure sample quality offline (FWD, KID, precision/recall, memorisation)",
        description="Compare generated images with real ones using metrics that need no "
        "downloaded weights: Fréchet Wavelet Distance, KID on wavelet features, precision, "
        "recall, density, coverage, and a memorisation (copy) check. See docs/metrics.md.",
    )
    p.add_argument(
        "--real",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder of real images; pass the TRAINING set for the memorisation check",
    )
    p.add_argument(
        "--fake",
        type=Path,
        required=True,
        metavar="DIR|RUN",
        help="folder of generated images, or a run directory to generate from",
    )
    p.add_argument(
        "--n",
        type=int,
        default=2000,
        help="images drawn from each side (default 2000); FWD and KID depend on n, "
        "so compare results at the same n",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="resolution to compare at (default: the run's, or 64 for two folders)",
    )
    p.add_argument("--fit", default="crop", help="how folders' images become square (default crop)")
    p.add_argument(
        "--checkpoint", default="last", help="RUN's checkpoint to generate from (default last)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed for sampling and generation (default 0)"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--memorisation-png",
        type=Path,
        metavar="FILE",
        help="where to save the closest generated/training pairs (default: "
        "RUN/memorisation.png for a run, ./memorisation.png for a folder)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.set_defaults(run=run)


def _fake_images(args: argparse.Namespace) -> tuple[np.ndarray, int | None]:
    """The generated side, and the size a run's generator draws at (None for a folder)."""
    # deferred: keeps `cxrgan --help` from importing pydicom and torch
    from cxrgan.data.folder import load_folder
    from cxrgan.training.generate import generate_images

    if not is_run_dir(args.fake):
        size = args.image_size or 64
        return load_folder(args.fake, size, args.fit, progress=args.progress).images, None
    # The size is the generator's own, rebuilt from the model spec in its checkpoint.
    images = generate_images(args.fake, args.n, args.checkpoint, args.seed)
    run_size = images.shape[-1]
    if args.image_size and args.image_size != run_size:
        raise CxrganError(
            f"{args.fake} generates {run_size} px images; drop --image-size or pass {run_size}"
        )
    return images, run_size


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing pydicom and torch
    from cxrgan.data.folder import load_folder
    from cxrgan.metrics import (
        METRICS,
        evaluate_sets,
        format_metrics,
        memorisation,
        save_memorisation_png,
    )

    if args.n < 2:
        raise CxrganError(f"--n must be at least 2, got {args.n}")
    fake, run_size = _fake_images(args)
    size = fake.shape[-1]
    real = load_folder(args.real, size, args.fit, progress=args.progress).images
    results = evaluate_sets(real, fake, n=args.n, seed=args.seed)
    print(format_metrics(results, title=f"{args.fake} vs {args.real} at {size} px"))
    if min(len(real), len(fake)) < 500:
        print(
            f"note: only {min(len(real), len(fake))} images on one side; FWD/KID are biased and "
            "precision/recall noisy below a few hundred"
        )
    png = args.memorisation_png or (
        args.fake / "memorisation.png" if run_size else Path("memorisation.png")
    )
    save_memorisation_png(memorisation(real, fake), fake, real, png)
    print(f"closest generated/training pairs: {png}")
    if args.json:
        about = {k: vars(METRICS[k]) for k in results if k in METRICS}
        payload = {
            "real": str(args.real),
            "fake": str(args.fake),
            "image_size": size,
            "checkpoint": args.checkpoint if run_size else None,
            "metrics": results,
            "about": about,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
