"""`cxrgan generate`: write synthetic chest X-rays from a trained run as 8-bit PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write synthetic images from a trained run",
        description="Write N generated images from RUN's generator as 8-bit grayscale PNGs.",
    )
    p.add_argument(
        "run_dir", type=Path, metavar="RUN", help="run directory written by `cxrgan train`"
    )
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--out", type=Path, required=True, help="folder to write PNGs into (created)")
    p.add_argument(
        "--checkpoint",
        default="last",
        help="checkpoint name in RUN/checkpoints: last (default), best, epoch_0005, …",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="noise seed; same seed, same images (default 0)"
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    p.add_argument("--grid", action="store_true", help="also write grid.png with all images tiled")
    p.add_argument(
        "--raw",
        action="store_true",
        help="sample the trained G itself instead of its EMA copy (for runs with --ema-kimg; "
        "without an EMA generator both are the same)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # deferred: keeps `cxrgan --help` from importing torch, matplotlib, Pillow and tqdm
    from PIL import Image
    from tqdm import tqdm

    from cxrgan.reporting.plots import save_grid
    from cxrgan.training.generate import generate_images
    from cxrgan.training.trainer import resolve_device

    device = str(resolve_device(args.device))
    images = generate_images(args.run_dir, args.n, args.checkpoint, args.seed, device, raw=args.raw)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(tqdm(images, desc="writing PNGs", unit="img", leave=False)):
        Image.fromarray(img).save(args.out / f"sample_{i:05d}.png")
    if args.grid:
        save_grid(images, args.out / "grid.png")
    print(f"wrote {len(images)} PNGs of {images.shape[1]}×{images.shape[2]} to {args.out}")
    return 0
