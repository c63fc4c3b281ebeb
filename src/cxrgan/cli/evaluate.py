"""`cxrgan evaluate`: offline sample-quality metrics between real and generated images."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from cxrgan.errors import CxrganError
from cxrgan.reporting.run_records import is_run_dir

if TYPE_CHECKING:  # annotations only
    import numpy as np

DEFAULT_SIZE = 64  # for two folders whose generated images have no one square size
MIN_SIZE = 8  # one Haar level with 4 x 4 coefficients per packet: the least the metrics use
FEW = 500  # below this many images per side FWD/KID are biased and PRDC noisy

Sizes = Counter[tuple[int, int]]  # (width, height) -> number of files


def _image_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < MIN_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be at least {MIN_SIZE} px (the smallest size the wavelet metrics work at), "
            f"got {value}"
        )
    return value


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
        type=_image_size,
        default=None,
        metavar="S",
        help="resolution to compare at, in pixels (default: the run's; for a folder of "
        "generated images their own size when they all share one square size, else 64)",
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


def _native_sizes(folder: Path) -> Sizes:
    """(width, height) of every image file under `folder`, from its header (no decoding)."""
    # deferred: keeps `cxrgan --help` from importing pydicom and Pillow
    from cxrgan.data.decode import collect_warnings, describe, is_image_candidate
    from cxrgan.data.folder import scan_files
    from cxrgan.errors import UnreadableImage

    sizes: Sizes = Counter()
    with collect_warnings():  # load_folder reports them, once, with the file they belong to
        for entry in scan_files(folder):
            try:
                if is_image_candidate(entry.path):
                    facts = describe(entry.path)
                    sizes[(int(facts["width"]), int(facts["height"]))] += 1
            except (UnreadableImage, OSError, KeyError, ValueError):
                continue  # load_folder lists it among the skipped files
    return sizes


def _describe_sizes(sizes: Sizes) -> str:
    if len(sizes) == 1:
        ((w, h),) = sizes
        return f"{w}×{h} px"
    shorter = [min(wh) for wh in sizes]
    return f"of {len(sizes)} sizes (shorter side {min(shorter)}–{max(shorter)} px)"


def _one_square(sizes: Sizes) -> int | None:
    """The side when every image is the same square size, else None."""
    if len(sizes) == 1:
        ((w, h),) = sizes
        return w if w == h else None
    return None


def _fake_images(args: argparse.Namespace) -> tuple[np.ndarray, int | None, Sizes]:
    """The generated side, the size a run's generator draws at (None for a folder), and the
    generated images' own sizes."""
    # deferred: keeps `cxrgan --help` from importing pydicom and torch
    from cxrgan.data.folder import load_folder
    from cxrgan.training.generate import generate_images

    if not is_run_dir(args.fake):
        sizes = _native_sizes(args.fake)
        size = args.image_size or _one_square(sizes) or DEFAULT_SIZE
        images = load_folder(args.fake, size, args.fit, progress=args.progress, log=print).images
        return images, None, sizes
    # The size is the generator's own, rebuilt from the model spec in its checkpoint.
    images = generate_images(args.fake, args.n, args.checkpoint, args.seed)
    run_size = images.shape[-1]
    if args.image_size and args.image_size != run_size:
        raise CxrganError(
            f"{args.fake} generates {run_size} px images; drop --image-size or pass {run_size}"
        )
    return images, run_size, Counter({(run_size, run_size): len(images)})


def _done(sizes: Sizes, size: int) -> str:
    """What fitting images of these sizes to `size` px does to them."""
    sides = [min(wh) for wh in sizes]
    if all(side < size for side in sides):
        return "enlarged"
    if all(side > size for side in sides):
        return "reduced"
    if all(wh == (size, size) for wh in sizes):
        return "kept as they are"
    return "resized (some enlarged)" if any(side < size for side in sides) else "resized"


def size_messages(fake: Sizes, real: Sizes, size: int, fit: str) -> list[str]:
    """What happened to the images' sizes, in one line: 'warning: ...' when images were
    enlarged or the generated ones were not compared at their own size, 'note: ...' when the
    real images were only reduced to the generated images' size (as training reduces them)."""
    if not fake or not real:
        return []
    fake_side = _one_square(fake)
    enlarged = any(min(wh) < size for wh in (*fake, *real))
    if fake_side == size and set(real) == {(size, size)}:
        return []
    what = (
        f"generated images are {_describe_sizes(fake)}, real images {_describe_sizes(real)}; "
        f"compared at {size} px (--fit {fit}): generated images {_done(fake, size)}, real "
        f"images {_done(real, size)}"
    )
    if fake_side == size and not enlarged:
        return [f"note: {what}, as training reduces them"]
    cost = " (enlarging blurs images, which worsens FWD, KID and precision)" if enlarged else ""
    fix = f"; pass --image-size {fake_side} to compare at their own size" if fake_side else ""
    if fake_side == size:
        fix = "; compare against real images at least as large as the generated ones"
    return [f"warning: {what}{cost}{fix}"]


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing pydicom and torch
    from cxrgan.data.folder import load_folder
    from cxrgan.metrics import (
        METRICS,
        evaluate_sets,
        format_metrics,
        memorisation,
        save_memorisation_png,
        skipped_metrics,
    )
    from cxrgan.metrics.images import subsample

    if args.n < 2:
        raise CxrganError(f"--n must be at least 2, got {args.n}")
    fake, run_size, fake_sizes = _fake_images(args)
    fake = subsample(fake, args.n, args.seed + 1)  # as evaluate_sets draws them
    size = fake.shape[-1]
    real = load_folder(args.real, size, args.fit, progress=args.progress, log=print).images
    for line in size_messages(fake_sizes, _native_sizes(args.real), size, args.fit):
        print(line, file=sys.stderr if line.startswith("warning") else sys.stdout)
    n_real, n_fake = min(len(real), args.n), min(len(fake), args.n)
    skipped = skipped_metrics(n_real, n_fake, len(real))
    if len(skipped) == 4:
        raise CxrganError("nothing to compute: " + "; ".join(skipped.values()))
    memorised = memorisation(real, fake) if "memorisation" not in skipped else None
    results = evaluate_sets(real, fake, n=args.n, seed=args.seed, memorised=memorised)
    print(format_metrics(results, title=f"{args.fake} vs {args.real} at {size} px"))
    for reason in skipped.values():
        print(f"skipped {reason}")
    if min(n_real, n_fake) < FEW and "fwd" not in skipped:
        print(
            f"note: only {min(n_real, n_fake)} images on one side; FWD/KID are biased and "
            "precision/recall noisy below a few hundred"
        )
    if memorised is not None:
        png = args.memorisation_png or (
            args.fake / "memorisation.png" if run_size else Path("memorisation.png")
        )
        save_memorisation_png(memorised, fake, real, png)
        print(f"closest generated/training pairs: {png}")
    if args.json:
        about = {k: vars(METRICS[k]) for k in results if k in METRICS}
        payload = {
            "real": str(args.real),
            "fake": str(args.fake),
            "image_size": size,
            "checkpoint": args.checkpoint if run_size else None,
            "metrics": results,
            "skipped": skipped,
            "about": about,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
