"""The real-data quality guard's protocol: a short run of the default recipe on the Kaggle split
with patients held out, judged by FWD against the held-out patients' films.

tests/training/test_quality_guard.py runs it once and bounds the result. The bound comes from
running this file as a script, which repeats the protocol over several training seeds:

    PYTHONPATH=src:tests .venv/bin/python tests/quality_guard.py --seeds 0,1,2,3

It trains in-process with the public API, so a change to the recipe, the loss, EMA, ADA or the
loop that costs quality moves the number, and a change that only costs time does not.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cxrgan
from cxrgan.data.folder import load_folder
from cxrgan.data.scan import class_labels
from cxrgan.data.split import split_by_patient
from cxrgan.metrics.fwd import fwd

IMAGE_SIZE = 64
STEPS = 300
HELDOUT = 0.15
SPLIT_SEED = 0


@dataclass(frozen=True)
class GuardResult:
    fwd: float  # the EMA generator's samples against the held-out films
    floor: float  # training films against the held-out films, at the same n
    n: int  # held-out films (and generated images)


def link_split(data: Path, out: Path) -> tuple[Path, Path]:
    """(train, held-out) folders of symlinks, no patient on both sides."""
    files = sorted(p for p in data.rglob("*") if p.is_file() and not p.name.startswith("."))
    classes = class_labels([f.relative_to(data).as_posix() for f in files])
    names = sorted(set(classes))
    train, held = split_by_patient(files, [names.index(c) for c in classes], HELDOUT, SPLIT_SEED)
    for name, idx in (("train", train), ("heldout", held)):
        for i in idx:
            link = out / name / classes[i] / files[i].name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(files[i].resolve())
    return out / "train", out / "heldout"


def run_guard(data: Path, work: Path, seed: int, **settings: object) -> GuardResult:
    """Train `STEPS` steps of the default recipe (with `settings` over it) and judge it."""
    train_dir, held_dir = link_split(data, work / "split")
    run = cxrgan.train(
        {
            "data": str(train_dir),
            "image_size": IMAGE_SIZE,
            "epochs": 1,
            "steps_per_epoch": STEPS,
            "seed": seed,
            "log_every": 50,
            "progress": False,
            "cache_dir": str(work / "cache"),
            "out": str(work / f"run-{seed}"),
            **settings,
        }
    )
    held = load_folder(held_dir, IMAGE_SIZE, progress=False, cache_dir=work / "cache").images
    train = load_folder(train_dir, IMAGE_SIZE, progress=False, cache_dir=work / "cache").images
    fake = cxrgan.sample_images(cxrgan.load_generator(run, "last"), len(held), seed=1)
    real = train[np.random.default_rng(0).choice(len(train), size=len(held), replace=False)]
    return GuardResult(fwd(held, fake), fwd(held, real), len(held))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2,3", help="comma list of training seeds")
    p.add_argument("--data", type=Path,
                   default=Path(__file__).resolve().parents[2] / "shared" / "data"
                   / "kaggle-chest-xray-224" / "train")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="a setting over the default recipe, e.g. --set 'ema_kimg=0'")  # fmt: skip
    a = p.parse_args()
    settings = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    values = []
    for seed in (int(s) for s in a.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_guard(a.data, Path(tmp), seed, **settings)
        values.append(result.fwd)
        print(f"seed {seed}: FWD {result.fwd:.5f} (floor {result.floor:.5f}, n={result.n})",
              flush=True)  # fmt: skip
    print(f"mean {np.mean(values):.5f}, max {max(values):.5f}, sd {np.std(values, ddof=1):.5f}")


if __name__ == "__main__":
    main()
