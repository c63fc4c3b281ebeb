"""Data pipeline: the DCGAN tutorial's per-item loading against cxrgan's decode-once cache.

One run, one machine, for each data set:
  (a) the tutorial's pipeline: per item open, convert, Resize, CenterCrop, ToTensor,
      Normalize, DataLoader with 2 workers; it does all of that again every epoch;
  (b) cxrgan's first epoch: scan, decode every file once in parallel into the cache, then
      one epoch of batches from it;
  (c) a later epoch (a later run): scan (stat only), memory-map the cache, one epoch of
      batches from the trainer's BatchSampler (median of 3).
Then a steady-state training comparison on the originals: a fixed number of DCGAN steps
(same model, same torch threads) fed by the tutorial's DataLoader, whose decoding competes
with training for the same cores, against cxrgan's training step fed from the cache.

    .venv/bin/python benchmarks/data_pipeline.py [--quick] [--json FILE]

Targets (originals, 64 px): (b) >= 2.5x the tutorial's images/s; (c) >= 100x; training
>= 1.8x faster. PASS/FAIL is printed; the exit code is 0 unless the run itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # our helpers beside us

from cxrgan_step import cxrgan_stepper, make_nets
from tutorial_reference import tutorial_loader, tutorial_step

from cxrgan.data.folder import load_folder
from cxrgan.training.sampler import BatchSampler

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ORIGINALS = SHARED / "cxr-kermany" / "originals"
KAGGLE = SHARED / "kaggle-chest-xray-224" / "train"
SUFFIXES = (".jpeg", ".jpg", ".png")
TARGETS = {"build": 2.5, "later": 100.0, "training": 1.8}
LATER_REPEATS = 3


def image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)


def repeated(files: list[Path], items: int) -> list[Path]:
    """The file list repeated whole until it has at least `items` entries."""
    copies = max(1, -(-items // len(files)))
    return files * copies


def link_folder(files: list[Path], root: Path, dest: Path) -> Path:
    """A folder of symlinks with one entry per item (repeats get their own names), so that
    cxrgan sees the same item list as the tutorial's Dataset."""
    seen: dict[Path, int] = {}
    for f in files:
        k = seen[f] = seen.get(f, -1) + 1
        rel = f.relative_to(root)
        link = dest / rel.parent / f"r{k}-{rel.name}"
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f, link)
    return dest


def warm_page_cache(files: list[Path]) -> None:
    for f in set(files):
        f.read_bytes()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (DataLoader / pool workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds incl. worker processes, images) of one call."""
    start, cpu = time.perf_counter(), cpu_seconds()
    n = fn()
    return time.perf_counter() - start, cpu_seconds() - cpu, n


def tutorial_epoch(files: list[Path], size: int, batch: int) -> int:
    n = 0
    for x, _ in tutorial_loader(files, size, batch, workers=2):
        n += len(x)
    return n


def cxrgan_epoch(images: np.ndarray, batch: int) -> int:
    sampler = BatchSampler(torch.from_numpy(images), None, batch, seed=0)
    n = 0
    for _ in range(len(images) // sampler.batch_size):
        n += len(sampler.next()[0])
    return n


def data_rates(files: list[Path], root: Path, work: Path, size: int, batch: int) -> dict[str, Any]:
    folder = link_folder(files, root, work / "items")
    cache = work / "cache"
    t_tut, c_tut, n_tut = timed(lambda: tutorial_epoch(files, size, batch))

    def first() -> int:
        data = load_folder(folder, size, progress=False, cache_dir=cache)
        return cxrgan_epoch(data.images, batch)

    def later() -> int:
        data = load_folder(folder, size, progress=False, cache_dir=cache)
        assert data.cache_entry is not None
        return cxrgan_epoch(data.images, batch)

    t_first, c_first, n_first = timed(first)
    # A later epoch happens many times: the median of three (each a fresh load_folder that
    # reuses the cache, then one epoch of batches) keeps one scheduler hiccup out of it.
    repeats = sorted((timed(later) for _ in range(LATER_REPEATS)), key=lambda r: r[0])
    t_later, c_later, n_later = repeats[len(repeats) // 2]
    rates = {"tutorial": n_tut / t_tut, "build": n_first / t_first, "later": n_later / t_later}
    return {
        "items": len(files),
        "seconds": {"tutorial": t_tut, "build": t_first, "later": t_later},
        "cpu_seconds": {"tutorial": c_tut, "build": c_first, "later": c_later},
        "images_per_cpu_s": {
            "tutorial": n_tut / c_tut,
            "build": n_first / c_first,
            "later": n_later / max(c_later, 1e-9),
        },
        "images_per_s": rates,
        "ratio": {
            "build": rates["build"] / rates["tutorial"],
            "later": rates["later"] / rates["tutorial"],
        },
    }


def tutorial_training(files: list[Path], size: int, batch: int, steps: int) -> float:
    """Seconds for `steps` steps after one warm-up step, DataLoader already running."""
    g, d, opt_g, opt_d = make_nets(size, channels_last=False)
    d = torch.nn.Sequential(d, torch.nn.Sigmoid())  # the tutorial's D ends in a Sigmoid
    criterion = torch.nn.BCELoss()
    it = iter(tutorial_loader(files, size, batch, workers=2))
    x, _ = next(it)
    tutorial_step(g, d, opt_g, opt_d, x, 100, criterion)
    start = time.perf_counter()
    for _ in range(steps):
        x, _ = next(it)
        tutorial_step(g, d, opt_g, opt_d, x, 100, criterion)
    return time.perf_counter() - start


def cxrgan_training(folder: Path, cache: Path, size: int, batch: int, steps: int) -> float:
    data = load_folder(folder, size, progress=False, cache_dir=cache)
    _, step = cxrgan_stepper(torch.from_numpy(data.images), size, batch)
    step()
    start = time.perf_counter()
    for _ in range(steps):
        stats = step()
    torch.stack(list(stats.values())).tolist()  # what the trainer's logging would read
    return time.perf_counter() - start


def verdict(value: float, target: float) -> str:
    return f"[target >= {target:g}x: {'PASS' if value >= target else 'FAIL'}]"


def report_rates(name: str, r: dict[str, Any], targets: bool) -> None:
    rate, secs, ratio = r["images_per_s"], r["seconds"], r["ratio"]
    per_cpu = r["images_per_cpu_s"]
    print(f"{name}: {r['items']:,} items   (wall-clock img/s; img per CPU-second in brackets)")
    print(
        f"  (a) tutorial pipeline, one epoch      {rate['tutorial']:>10,.1f} img/s "
        f"({secs['tutorial']:6.2f} s) [{per_cpu['tutorial']:>8,.1f}]"
    )
    for key, label in (
        ("build", "(b) cxrgan first epoch (cache build)"),
        ("later", "(c) cxrgan later epoch (cache read) "),
    ):
        line = (
            f"  {label} {rate[key]:>10,.1f} img/s ({secs[key]:6.2f} s) "
            f"[{per_cpu[key]:>8,.1f}]  {ratio[key]:,.1f}x tutorial"
        )
        print(line + (f"  {verdict(ratio[key], TARGETS[key])}" if targets else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced run: 300 original items, 600 Kaggle files, 3 steps",
    )
    parser.add_argument("--image-size", type=int, default=64, help="training size (default 64)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    items, kaggle_n, steps = (300, 600, 3) if args.quick else (1000, None, 8)
    size, batch = args.image_size, args.batch_size
    torch.set_num_threads(args.threads)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"data pipeline benchmark: {size} px, batch {batch}, {args.threads} torch threads, "
        f"{cpus} CPUs{' (quick)' if args.quick else ''}; the machine may be shared"
    )
    results: dict[str, Any] = {
        "image_size": size,
        "batch_size": batch,
        "threads": args.threads,
        "cpus": cpus,
        "quick": args.quick,
    }
    work = Path(tempfile.mkdtemp(prefix="cxrgan-bench-"))
    try:
        originals = repeated(image_files(ORIGINALS), items)
        warm_page_cache(originals)
        r = data_rates(originals, ORIGINALS, work / "originals", size, batch)
        report_rates(f"originals (150 files repeated to {len(originals):,})", r, targets=True)
        t_tut = tutorial_training(originals, size, batch, steps)
        t_cx = cxrgan_training(
            work / "originals" / "items", work / "originals" / "cache", size, batch, steps
        )
        speedup = t_tut / t_cx
        print(f"  training, {steps} steps of {batch} (DCGAN {size} px, after 1 warm-up step):")
        print(
            f"      tutorial loop + DataLoader(2 workers) {t_tut:6.2f} s "
            f"({steps * batch / t_tut:6.1f} img/s)"
        )
        print(
            f"      cxrgan step + cache                   {t_cx:6.2f} s "
            f"({steps * batch / t_cx:6.1f} img/s)  {speedup:.2f}x faster  "
            f"{verdict(speedup, TARGETS['training'])}"
        )
        r["training"] = {"steps": steps, "tutorial_s": t_tut, "cxrgan_s": t_cx, "speedup": speedup}
        results["originals"] = r
        kaggle = image_files(KAGGLE)[:kaggle_n]
        warm_page_cache(kaggle)
        k = data_rates(kaggle, KAGGLE, work / "kaggle", size, batch)
        report_rates("kaggle-chest-xray-224/train", k, targets=False)
        results["kaggle224"] = k
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
