"""`cxrgan generate`: write synthetic chest X-rays from a trained run, as a data set.

An unconditional run writes OUT/sample_00000.png, ...; a conditional one (`train --conditional`)
writes OUT/<class>/00000.png, ... per class, a folder that cxrgan, torchvision's ImageFolder and
MONAI read as a labelled data set. Every call also writes OUT/manifest.csv (one row per image:
class, seeds, checkpoint and its hash, model spec, ...). See docs/generate.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cxrgan.cli.arguments import add_device, add_no_progress, whole_number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write synthetic images from a trained run (per class for conditional runs)",
        description="Write images drawn by RUN's generator into OUT, with OUT/manifest.csv "
        "(one row per image: class, seeds, checkpoint, model spec; enough to draw it again). "
        "An unconditional run: --n images as OUT/sample_NNNNN.png. A conditional run (trained "
        "with --conditional): --per-class N writes N images of every class, --label NAME --n N "
        "N of one class, as OUT/<class>/NNNNN.png, a folder that cxrgan, torchvision's "
        "ImageFolder and MONAI read as a labelled data set. See docs/generate.md.",
    )
    p.add_argument(
        "run_dir", type=Path, metavar="RUN", help="run directory written by `cxrgan train`"
    )
    p.add_argument(
        "--n",
        type=whole_number(1),
        default=None,
        metavar="N",
        help="number of images (default 64): of an unconditional run, or of the class --label "
        "names",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--per-class",
        type=whole_number(1),
        default=None,
        metavar="N",
        help="conditional runs: N images of every class, in OUT/<class>/",
    )
    which.add_argument(
        "--label",
        default=None,
        metavar="NAME",
        help="conditional runs: only the class NAME (one of the training folder's class "
        "subfolders), --n images in OUT/NAME/; run it again with another NAME and the same "
        "OUT to add a class (manifest.csv keeps the rows of both)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="folder to write the images into (created)"
    )
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("png", "dicom"),
        default="png",
        help="png (default): 8-bit grayscale PNGs; dicom: Secondary Capture DICOM files (.dcm) "
        "marked SYNTHETIC, with fresh UIDs and no patient identity",
    )
    p.add_argument(
        "--checkpoint",
        default="last",
        help="checkpoint name in RUN/checkpoints: last (default), best, epoch_0005, …",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="noise seed (default 0); the same seed, class, checkpoint and device give the "
        "same images, and image i is the same for any N (G samples on standing statistics, "
        "docs/metrics.md). Class k draws from seed × 1000 + k (manifest column draw_seed)",
    )
    add_device(p, "the generator draws")
    p.add_argument(
        "--grid",
        action="store_true",
        help="also write OUT/grid.png: every image tiled (unconditional), or one labelled band "
        "of up to 16 images per class (conditional; it sits beside the class folders, where "
        "ImageFolder ignores it)",
    )
    p.add_argument(
        "--raw",
        action="store_true",
        help="sample the trained G itself instead of its EMA copy (for runs with --ema-kimg; "
        "without an EMA generator both are the same)",
    )
    add_no_progress(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing torch, pydicom, Pillow and tqdm
    from cxrgan.inference.generate import load_model
    from cxrgan.inference.generated_set import plan_draws, write_generated
    from cxrgan.training.device import resolve_device

    device = str(resolve_device(args.device))
    # The model first: a bad checkpoint or request fails before OUT is created.
    model = load_model(args.run_dir, args.checkpoint, device, raw=args.raw)
    draws = plan_draws(
        model.spec,
        args.seed,
        n=args.n,
        per_class=args.per_class,
        label=args.label,
        source=str(args.run_dir),
    )
    done = write_generated(model, draws, args.out, device, args.fmt, args.grid, args.progress)
    kind = "DICOM files" if done.format == "dicom" else "PNGs"
    total = sum(done.counts.values())
    classes = ", ".join(f"{name} {n}" for name, n in done.counts.items() if name)
    print(
        f"wrote {total} {kind} of {done.size}×{done.size} to {args.out}"
        + (f" ({classes})" if classes else "")
    )
    kept = f" (and {done.kept_rows} rows of earlier calls)" if done.kept_rows else ""
    print(f"manifest: {done.manifest}{kept}")
    if done.grid is not None:
        print(f"grid: {done.grid}")
    return 0
