"""`cxrgan evaluate`: offline sample-quality metrics between real and generated images."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cxrgan.cli.arguments import add_no_progress
from cxrgan.errors import CxrganError
from cxrgan.files import json_text
from cxrgan.reporting.run_records import is_run_dir

if TYPE_CHECKING:  # annotations only
    import numpy as np

    from cxrgan.metrics.evaluate import ClassResult
    from cxrgan.training.generate import LoadedGenerator

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
        "recall, density, coverage, and a memorisation (copy) check. When both sides have "
        "class subfolders (NORMAL/, PNEUMONIA/, ...; a conditional RUN draws its classes) every "
        "metric is also reported per class, and the overall numbers pool the classes both "
        "sides share. See docs/metrics.md.",
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
        help="folder of generated images (class subfolders: also per class), or a run "
        "directory to generate from (a conditional run draws each class of --real, as many "
        "images as --real has of it, at most --n)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=2000,
        help="images drawn from each side (default 2000), overall and per class; FWD and KID "
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
    add_no_progress(p)
    p.set_defaults(run=run)


def _native_sizes(folder: Path) -> Sizes:
    """(width, height) of every image file under `folder`, from its header (no decoding).

    In a folder with class subfolders, files beside them (such as the grid.png that
    `generate --grid` leaves there) are not counted: they are no image of any class."""
    # deferred: keeps `cxrgan --help` from importing pydicom and Pillow
    from cxrgan.data.decode import collect_warnings, describe, is_image_candidate
    from cxrgan.data.folder import class_labels, scan_files
    from cxrgan.errors import UnreadableImage

    entries = [e for e in scan_files(folder) if is_image_candidate(e.path)]
    labels = class_labels([e.rel for e in entries])
    classed = any(labels)
    sizes: Sizes = Counter()
    with collect_warnings():  # load_folder reports them, once, with the file they belong to
        for entry, label in zip(entries, labels, strict=True):
            if classed and not label:
                continue
            try:
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


@dataclass
class Side:
    """One side's images with the class of each ("" for an image in no class subfolder)."""

    images: np.ndarray
    labels: np.ndarray  # (N,) str: class names
    note: str = ""  # how a run's images were drawn, when that needs saying


def _folder_side(folder: Path, size: int, args: argparse.Namespace) -> Side:
    # deferred: keeps `cxrgan --help` from importing numpy, pydicom and torch
    import numpy as np

    from cxrgan.data.folder import load_folder

    data = load_folder(folder, size, args.fit, progress=args.progress, log=print)
    return Side(data.images, np.array(data.classes, dtype=str)[data.labels])


def _generated_side(model: LoadedGenerator, real: Side, args: argparse.Namespace) -> Side:
    """Images of a run's generator. A conditional one draws each class the real side has, as
    many images as the real side has of it (at most --n), each class as `cxrgan generate
    --label NAME --n N --seed SEED` draws it; when the real side has none of its classes they
    share --n evenly."""
    # deferred: keeps `cxrgan --help` from importing numpy and torch
    import numpy as np

    from cxrgan.metrics.evaluate import class_counts, split_in_proportion
    from cxrgan.training.generate import sample_images
    from cxrgan.training.generated_set import Draw, class_names, draw_images

    if not model.spec.c_dim:
        images = sample_images(model.g, args.n, args.seed, "cpu")
        return Side(images, np.full(len(images), "", dtype=str))
    names = class_names(model.spec)
    have = class_counts(real.labels)
    counts = {c: min(args.n, have[c]) for c in names if have.get(c)}
    note = ""
    if not counts:
        counts = split_in_proportion(args.n, dict.fromkeys(names, 1))
        note = (f"note: {args.real} has no folder of the classes {args.fake} draws "
                f"({', '.join(names)}): drew {args.n} images shared evenly over them")  # fmt: skip
    draws = [Draw(c, names.index(c), args.seed, k) for c, k in counts.items() if k]
    images = np.concatenate([draw_images(model, d, "cpu") for d in draws])
    labels = np.array([d.label for d in draws for _ in range(d.n)], dtype=str)
    return Side(images, labels, note)


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


def _only(side: Side, classes: list[str]) -> Side:
    # deferred: keeps `cxrgan --help` from importing numpy
    import numpy as np

    keep = np.isin(side.labels, classes)
    return Side(side.images[keep], side.labels[keep], side.note)


def _without_loose(side: Side, where: Path) -> Side:
    """A folder of generated images with class subfolders, without the images directly in it
    (the grid.png of `generate --grid`): they are no generated image of any class."""
    # deferred: keeps `cxrgan --help` from importing numpy
    from cxrgan.metrics.evaluate import class_counts

    named = list(class_counts(side.labels))
    loose = int((side.labels == "").sum())
    if not named or not loose:
        return side
    print(f"note: {loose} image(s) directly in {where}, beside its class folders (e.g. a "
          f"grid.png), left out of every metric")  # fmt: skip
    return _only(side, named)


def _shared_classes(real: Side, fake: Side, args: argparse.Namespace, from_run: bool) -> (
    tuple[list[str], list[str]]
):  # fmt: skip
    """The classes to report one by one (the real side's names that the generated side has
    too, in the real side's order), and notes on what could not be matched."""
    # deferred: keeps `cxrgan --help` from importing numpy
    from cxrgan.metrics.evaluate import class_counts

    rc, fc = list(class_counts(real.labels)), list(class_counts(fake.labels))
    both = "per-class metrics need class subfolders on both sides"
    if not rc and not fc:
        return [], []
    if not fc:
        what = "is an unconditional run" if from_run else "has no class subfolders"
        return [], [f"note: {both}; {args.fake} {what}"]
    if not rc:
        return [], [f"note: {both}; {args.real} has no class subfolders"]
    shared = [c for c in rc if c in fc]
    if not shared:
        return [], [f"note: no class in common (real: {', '.join(rc)}; generated: "
                    f"{', '.join(fc)}): overall metrics only"]  # fmt: skip
    notes = [
        f"note: class {c} is only in {where}: left out of every metric"
        for cs, where in ((rc, args.real), (fc, args.fake))
        for c in cs
        if c not in shared
    ]
    for side, where in ((real, args.real), (fake, args.fake)):
        loose = int((side.labels == "").sum())
        if loose:
            notes.append(f"note: {loose} image(s) directly in {where}, in no class subfolder "
                         f"(e.g. a grid.png), left out of every metric")  # fmt: skip
    return shared, notes


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing numpy, pydicom and torch
    import numpy as np

    from cxrgan.metrics import (
        METRICS,
        evaluate_sets,
        format_metrics,
        memorisation,
        save_memorisation_png,
        skipped_metrics,
    )
    from cxrgan.metrics.evaluate import (
        class_counts,
        evaluate_classes,
        first_of_each_class,
        split_in_proportion,
    )
    from cxrgan.metrics.images import subsample
    from cxrgan.training.generate import load_model
    from cxrgan.training.generated_set import class_names, class_seed

    if args.n < 2:
        raise CxrganError(f"--n must be at least 2, got {args.n}")
    from_run = is_run_dir(args.fake)
    if from_run:
        # The size is the generator's own, rebuilt from the model spec in its checkpoint.
        model = load_model(args.fake, args.checkpoint)
        size = model.spec.resolution
        if args.image_size and args.image_size != size:
            raise CxrganError(
                f"{args.fake} generates {size} px images; drop --image-size or pass {size}"
            )
        real = _folder_side(args.real, size, args)
        fake = _generated_side(model, real, args)
        fake_sizes: Sizes = Counter({(size, size): len(fake.images)})
    else:
        fake_sizes = _native_sizes(args.fake)
        size = args.image_size or _one_square(fake_sizes) or DEFAULT_SIZE
        fake = _folder_side(args.fake, size, args)
        real = _folder_side(args.real, size, args)
    for line in size_messages(fake_sizes, _native_sizes(args.real), size, args.fit):
        print(line, file=sys.stderr if line.startswith("warning") else sys.stdout)
    if fake.note:
        print(fake.note)
    if not from_run:
        fake = _without_loose(fake, args.fake)  # what generate --grid leaves: no generated image
    classes, notes = _shared_classes(real, fake, args, from_run)
    for line in notes:
        print(line)
    if classes:  # overall = the classes pooled
        real, fake = _only(real, classes), _only(fake, classes)
    overall_fake = fake
    if classes and from_run:
        # A run drew every class as often as the real side has it (up to --n): the overall
        # set takes them in the real side's proportions, as a pooled folder would hold them.
        share = split_in_proportion(min(args.n, len(real.images)), class_counts(real.labels))
        keep = first_of_each_class(fake.labels, share)
        overall_fake = Side(fake.images[keep], fake.labels[keep])
    picked = subsample(np.arange(len(overall_fake.images)), args.n, args.seed + 1)  # as
    fake_images = overall_fake.images[picked]  # evaluate_sets draws them
    n_real, n_fake = min(len(real.images), args.n), min(len(fake_images), args.n)
    skipped = skipped_metrics(n_real, n_fake, len(real.images))
    if len(skipped) == 4:
        raise CxrganError("nothing to compute: " + "; ".join(skipped.values()))
    memorised = memorisation(real.images, fake_images) if "memorisation" not in skipped else None
    results = evaluate_sets(real.images, fake_images, n=args.n, seed=args.seed,
                            memorised=memorised)  # fmt: skip
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
            args.fake / "memorisation.png" if from_run else Path("memorisation.png")
        )
        save_memorisation_png(memorised, fake_images, real.images, png)
        print(f"closest generated/training pairs: {png}")
    per_class: dict[str, ClassResult] = {}
    if classes:
        per_class = evaluate_classes(real.images, real.labels, fake.images, fake.labels,
                                     classes, n=args.n, seed=args.seed)  # fmt: skip
        _print_per_class(results, per_class, size)
    if args.json:
        about = {k: vars(METRICS[k]) for k in results if k in METRICS}
        payload = {
            "real": str(args.real),
            "fake": str(args.fake),
            "image_size": size,
            "checkpoint": args.checkpoint if from_run else None,
            "metrics": results,
            "skipped": skipped,
            "about": about,
            "classes": classes,
            "per_class": {
                name: {"metrics": r.metrics, "skipped": r.skipped} for name, r in per_class.items()
            },
        }
        if classes:
            real_used = real.labels[subsample(np.arange(len(real.labels)), args.n, args.seed)]
            payload["overall_classes"] = {
                "real": class_counts(real_used),
                "generated": class_counts(overall_fake.labels[picked]),
            }
        if classes and from_run:
            names = class_names(model.spec)
            drawn = class_counts(fake.labels)
            for name in classes:  # how to draw the same images: generate --label NAME --n N
                payload["per_class"][name]["generated"] = {
                    "n": drawn[name], "seed": args.seed,
                    "draw_seed": class_seed(args.seed, names.index(name)),
                }  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json_text(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _print_per_class(
    overall: dict[str, float | None], per_class: dict[str, ClassResult], size: int
) -> None:
    """Each class's skipped metrics and small-sample notes, then the table of every class."""
    # deferred: keeps `cxrgan --help` from importing numpy and torch
    from cxrgan.metrics.evaluate import format_class_table

    for name, result in per_class.items():
        for reason in result.skipped.values():
            print(f"class {name}: skipped {reason}")
        few = min(result.metrics["n_real"] or 0, result.metrics["n_fake"] or 0)
        if few < FEW and "fwd" not in result.skipped:
            print(
                f"note: class {name}: only {few:.0f} images on one side; FWD/KID are biased "
                "and precision/recall noisy below a few hundred"
            )
    title = f"per class at {size} px (overall: the classes pooled, as above)"
    print(format_class_table(overall, per_class, title=title))
