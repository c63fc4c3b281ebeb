"""Reduced-size JPEG decoding: is draft + fit visually equal to full decode + fit, and faster?

For every JPEG under the folder (default: the 150 shared Kermany originals) and each target
size, compares fit_square(read_gray(p, size)) (libjpeg DCT scaling by 1/2, 1/4 or 1/8 where
the decoded shorter side stays >= 2x size) with fit_square(read_gray(p)) (full decode), as
the mean absolute difference in 8-bit gray levels, and times both on one core (CPU time,
so that other processes on a shared machine do not distort the rate).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/draft_decode.py [FOLDER] [--sizes 64 128]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from cxrgan.data.decode import read_gray
from cxrgan.data.decode_pillow import draft_scale
from cxrgan.data.preprocess import FIT_POLICIES, fit_square

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/cxr-kermany/originals"


def mad(path: Path, size: int, fit: str) -> float:
    full = fit_square(read_gray(path), size, fit).astype(np.int16)
    draft = fit_square(read_gray(path, size), size, fit).astype(np.int16)
    return float(np.abs(full - draft).mean())


def images_per_second(paths: list[Path], size: int, draft: bool, repeats: int = 2) -> float:
    """Decode + crop rate per CPU-second of this (single-threaded) process, best of `repeats`:
    CPU time, unlike wall time, does not count the time other processes hold the core."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for path in paths:
            fit_square(read_gray(path, size if draft else None), size, "crop")
        best = min(best, time.process_time() - start)
    return len(paths) / best


def scales(paths: list[Path], size: int) -> str:
    from PIL import Image

    counts: Counter[int] = Counter()
    for path in paths:
        with Image.open(path) as img:
            counts[draft_scale(img.size, size)] += 1
    return ", ".join(f"1/{s}: {counts[s]}" for s in sorted(counts, reverse=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--fits", nargs="+", default=list(FIT_POLICIES), choices=FIT_POLICIES)
    args = parser.parse_args()
    paths = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    if not paths:
        raise SystemExit(f"no JPEGs under {args.folder}")
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"{len(paths)} JPEGs under {args.folder}; OMP_NUM_THREADS={threads}")
    print("MAD = mean |draft+fit - full+fit| per image, in 8-bit gray levels")
    for size in args.sizes:
        print(f"\n{size} px  (draft scales used: {scales(paths, size)})")
        for fit in args.fits:
            values = np.array([mad(p, size, fit) for p in paths])
            worst = paths[int(values.argmax())].name
            print(
                f"  {fit:6s} MAD mean {values.mean():.3f}  median {np.median(values):.3f}  "
                f"max {values.max():.3f} ({worst})"
            )
        full = images_per_second(paths, size, draft=False)
        draft = images_per_second(paths, size, draft=True)
        print(
            f"  speed (crop, decode+fit, per CPU-second on one core): full {full:.1f} img/s, "
            f"draft {draft:.1f} img/s ({draft / full:.1f}x)"
        )


if __name__ == "__main__":
    main()
