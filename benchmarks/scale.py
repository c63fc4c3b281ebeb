"""Scale: does the cost per image stay flat from 5k to 100k images, and does training work when
the decoded cache is larger than the machine's memory? (issue 24; docs/performance.md, Scale)

The collection is synthetic, generated on disk by resampling the shared Kaggle training images
(../shared/data/kaggle-chest-xray-224): image i is source image i mod 5,216 with a small random
crop (up to 6 % of each side) and a random horizontal flip, saved as JPEG at --source-size, so
no two files are the same bytes. Each image keeps its source's class (NORMAL / PNEUMONIA);
patients are made up, three images each. A generic label CSV (path, label, patient;
docs/labels-generic.md) lists them. The largest size's files are generated once; every size is
a folder of hard links to the first N of them.

For each size, each step runs as its own process (its wall time and peak RSS, read with
wait4, include its worker processes):

    inspect      cxrgan data inspect            time per image of the collection
    cache        cxrgan data prepare            the cache build (what a first epoch does)
    train        cxrgan train, one epoch of --steps-per-epoch steps from the built cache:
                 time per image drawn (steps x batch)
    evaluate     cxrgan evaluate --n N against that run: time per generated image (N)
    memorisation every training image's nearest neighbour search for --queries images:
                 time per image of the collection
    split        cxrgan data split --labels     time per image of the collection

--huge adds a set whose cache is larger than this machine's memory: --huge-count images (by
default enough for 1.1 x the physical memory) at --huge-size px (256, the largest size cxrgan
trains: on a 24 GiB machine 440k images, a 29 GB cache, as ChestX-ray14 is at 512 px).
Its cache is built, then it trains --huge-steps steps. The disk is checked first.

Each (size, step) writes results/<size>-<step>.json; a rerun skips what is done
(--redo: measure again), so an interrupted run resumes. Then table.md, and the targets:
time per image at the largest size <= 1.3 x at the smallest for every step; training's peak
RSS within 1 GiB; the huge set trains without being killed. Run it alone (it takes hours at
full size):

    python benchmarks/scale.py                           # 5k, 20k, 100k at 128 px, + nothing huge
    python benchmarks/scale.py --huge                    # and the larger-than-memory set
    python benchmarks/scale.py --sizes 200,400 --image-size 32 --work /tmp/scale   # smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_table import STEPS, check_targets, load_results, markdown_table

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "kaggle-chest-xray-224" / "train"
CXRGAN = [sys.executable, "-m", "cxrgan"]
PER_PATIENT = 3
GiB = 1 << 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="5000,20000,100000", help="collection sizes, comma-separated")
    p.add_argument(
        "--work",
        type=Path,
        default=REPO / "runs" / "scale",
        help="where the collections, caches, runs and results go",
    )
    p.add_argument("--source", type=Path, default=SOURCE, help="folder of images to resample")
    p.add_argument("--source-size", type=int, default=224, help="generated files' size, px")
    p.add_argument("--image-size", type=int, default=128, help="training / cache size, px")
    p.add_argument("--steps-per-epoch", type=int, default=50, help="the steady epoch's steps")
    p.add_argument("--batch-size", type=int, default=32, help="training batch")
    p.add_argument("--n", type=int, default=10_000, help="evaluate's --n")
    p.add_argument(
        "--queries",
        type=int,
        default=1_000,
        help="memorisation: images searched for among all training images",
    )
    p.add_argument("--device", default="auto", help="cxrgan train --device")
    p.add_argument(
        "--huge",
        action="store_true",
        help="also a set whose cache is larger than the memory (--huge-count, --huge-size)",
    )
    p.add_argument("--huge-size", type=int, default=256, help="the huge set's image size, px")
    p.add_argument(
        "--huge-count",
        type=int,
        default=0,
        help="the huge set's images (0: a cache of 1.1 x the physical memory)",
    )
    p.add_argument("--huge-steps", type=int, default=200, help="the huge set's training steps")
    p.add_argument("--redo", action="store_true", help="measure again what is already measured")
    return p.parse_args(argv)


# --- the synthetic collection -------------------------------------------------------------


def source_files(source: Path) -> list[tuple[Path, str]]:
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
    if not files:
        raise SystemExit(f"no images under {source}")
    return [(p, p.parent.name) for p in files]


def _resample(job: tuple[int, str, str, int]) -> None:
    """One file: a random crop of at most 6 % per side, maybe flipped, at `size` px."""
    i, src, dst, size = job
    rng = np.random.default_rng(i)
    with Image.open(src) as im:
        im = im.convert("L")
        w, h = im.size
        left, top = (int(x) for x in rng.integers(0, max(1, int(0.06 * w)), 2))
        right, bottom = (int(x) for x in rng.integers(0, max(1, int(0.06 * h)), 2))
        im = im.crop((left, top, w - right, h - bottom)).resize((size, size), Image.BILINEAR)
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        tmp = Path(dst + ".part")
        im.save(tmp, format="JPEG", quality=90)
        os.replace(tmp, dst)


def make_pool(args: argparse.Namespace, count: int) -> Path:
    """The largest collection's files (generated once, resumable) and its label rows."""
    pool = args.work / f"pool-{args.source_size}px"
    sources = source_files(args.source)
    rows, jobs = [], []
    for i in range(count):
        src, label = sources[i % len(sources)]
        rel = f"{label}/img{i:06d}.jpg"
        rows.append((rel, label, f"patient{i // PER_PATIENT:06d}"))
        if not (pool / rel).exists():
            jobs.append((i, str(src), str(pool / rel), args.source_size))
    for label in {r[1] for r in rows}:
        (pool / label).mkdir(parents=True, exist_ok=True)
    if jobs:
        print(f"generating {len(jobs)} images in {pool}", flush=True)
        with ProcessPoolExecutor() as ex:
            list(ex.map(_resample, jobs, chunksize=64))
    np.save(pool / "rows.npy", np.array(rows, dtype=str))
    return pool


def make_set(args: argparse.Namespace, pool: Path, size: int) -> tuple[Path, Path]:
    """A folder of hard links to the pool's first `size` files, and its labels.csv."""
    folder = args.work / "sets" / f"n{size}"
    rows = np.load(pool / "rows.npy")[:size]
    for rel, _, _ in rows:
        dst = folder / rel
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(pool / rel, dst)
    labels = args.work / "sets" / f"n{size}.csv"  # beside the folder: not one of its files
    if not labels.exists():
        lines = ["path,label,patient", *(",".join(r) for r in rows)]
        labels.write_text("\n".join(lines) + "\n")
    return folder, labels


# --- measuring ----------------------------------------------------------------------------


def measure(cmd: list[str], log: Path) -> dict[str, Any]:
    """Run `cmd`; its wall time, peak RSS (with its children) and exit code."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return {
        "cmd": cmd,
        "seconds": wall,
        "peak_rss_bytes": usage.ru_maxrss * 1024,
        "rc": proc.returncode,
        "log": str(log),
    }


MEMORISATION = """
import sys, time, numpy as np
from pathlib import Path
from cxrgan.data.folder import load_folder
from cxrgan.data.labels.options import LabelOptions, LabelRequest
from cxrgan.metrics.memorisation import memorisation
folder, csv, size, cache, queries = sys.argv[1:6]
labels = LabelRequest(Path(csv), LabelOptions("generic", patient_column="patient"))
train = load_folder(Path(folder), int(size), cache_dir=Path(cache), progress=False, labels=labels)
pick = np.sort(np.random.default_rng(0).choice(len(train), min(int(queries), len(train)), False))
fake = np.ascontiguousarray(train.images[pick][:, :, ::-1])  # mirrored films: near, not equal
result = memorisation(train.images, fake)
print({"train": len(train), "queries": len(fake), **result.as_dict()})
"""


def commands(
    args: argparse.Namespace, folder: Path, csv: Path, size: int, px: int, steps: int
) -> dict[str, tuple[list[str], int]]:
    """Each step's command and what its time is divided by."""
    out = args.work / "out" / f"n{size}-{px}px"
    cache = str(args.work / "cache")
    labels = ["--labels", str(csv), "--labels-format", "generic", "--patient-column", "patient"]
    common = [*labels, "--image-size", str(px), "--no-progress"]
    run = out / "run"
    drawn = steps * args.batch_size
    return {
        "inspect": ([*CXRGAN, "data", "inspect", str(folder), *common, "--no-sheet"], size),
        "cache": ([*CXRGAN, "data", "prepare", str(folder), *common, "--cache-dir", cache], size),
        "train": (
            [
                *CXRGAN,
                "train",
                "--data",
                str(folder),
                *common,
                "--cache-dir",
                cache,
                "--out",
                str(run),
                "--epochs",
                "1",
                "--steps-per-epoch",
                str(steps),
                "--batch-size",
                str(args.batch_size),
                "--eval-every",
                "0",
                "--device",
                args.device,
            ],
            drawn,
        ),
        "evaluate": (
            [
                *CXRGAN,
                "evaluate",
                "--real",
                str(folder),
                *labels,
                "--fake",
                str(run),
                "--n",
                str(args.n),
                "--no-progress",
                "--json",
                str(out / "eval.json"),
            ],
            args.n,
        ),
        "memorisation": (
            [
                sys.executable,
                "-c",
                MEMORISATION,
                str(folder),
                str(csv),
                str(px),
                cache,
                str(args.queries),
            ],
            size,
        ),
        "split": (
            [*CXRGAN, "data", "split", str(folder), *labels, "--out", str(out / "split")],
            size,
        ),
    }


def run_steps(
    args: argparse.Namespace,
    label: str,
    size: int,
    folder: Path,
    csv: Path,
    px: int,
    steps: int,
    which: tuple[str, ...],
) -> None:
    results = args.work / "results"
    results.mkdir(parents=True, exist_ok=True)
    for step, (cmd, per) in commands(args, folder, csv, size, px, steps).items():
        dest = results / f"{label}-{step}.json"
        if step not in which or (dest.exists() and not args.redo):
            continue
        if step == "split":
            shutil.rmtree(args.work / "out" / f"n{size}-{px}px" / "split", ignore_errors=True)
        print(f"{label}: {step} ...", flush=True)
        row = measure(cmd, results / f"{label}-{step}.log")
        row.update(
            size=size,
            label=label,
            step=step,
            image_size=px,
            per=per,
            seconds_per_image=row["seconds"] / per,
        )
        dest.write_text(json.dumps(row, indent=1) + "\n")
        print(
            f"  {row['seconds']:.1f}s, {row['seconds_per_image'] * 1e3:.3f} ms/image, "
            f"peak RSS {row['peak_rss_bytes'] / GiB:.2f} GiB, rc {row['rc']}",
            flush=True,
        )
        if row["rc"] != 0:  # recorded (the targets fail on it); what follows may still run
            print(f"  {label} {step} failed (exit {row['rc']}): see {row['log']}", flush=True)


def huge_count(args: argparse.Namespace) -> int:
    """--huge-count, else the images (a multiple of 10,000) whose cache fills 1.1 x the RAM."""
    if args.huge_count:
        return args.huge_count
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return math.ceil(1.1 * ram / args.huge_size**2 / 10_000) * 10_000


def check_disk(args: argparse.Namespace, size: int) -> None:
    need = size * (args.huge_size**2 + 12_000) + 2 * GiB  # the cache, and ~12 kB JPEGs
    free = shutil.disk_usage(args.work).free
    if free < need:
        raise SystemExit(
            f"--huge needs {need / GiB:.0f} GiB free under {args.work} for its "
            f"{size} x {args.huge_size}² cache; {free / GiB:.0f} GiB are"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    huge = huge_count(args) if args.huge else 0
    if huge:
        check_disk(args, huge)
    pool = make_pool(args, max(sizes[-1], huge))
    for size in sizes:
        folder, csv = make_set(args, pool, size)
        run_steps(args, f"n{size}", size, folder, csv, args.image_size, args.steps_per_epoch, STEPS)
    if huge:
        folder, csv = make_set(args, pool, huge)
        px, steps = args.huge_size, args.huge_steps
        run_steps(args, "huge", huge, folder, csv, px, steps, ("cache", "train"))
    rows = load_results(args.work / "results")
    table = markdown_table(rows)
    verdicts = check_targets(rows)
    text = table + "\n\n" + "\n".join(f"- {v}" for v in verdicts) + "\n"
    (args.work / "table.md").write_text(text)
    print(text)
    return 0 if all(v.startswith("PASS") for v in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
