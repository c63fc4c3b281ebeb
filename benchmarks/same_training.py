"""Do two checkouts (or two rows) train bit for bit the same? Each trains a fixed number of steps
(no time budget, so the machine's load cannot change the result) and every tensor of
checkpoints/last (G, D, EMA, optimisers, augmentation state) is compared.

Why: the long-run table is measured on a commit pinned in a worktree, and a row added later runs
on a newer commit. If the rows it is compared with train bit-identically on both commits, their
numbers carry over; if not, they must be run again (docs/performance.md).

    python benchmarks/same_training.py --data DIR --trees ../cxrgan-bench ../cxrgan-bench2
    python benchmarks/same_training.py --data DIR --rows small-data-v2 small-data
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import row_args

REPO = Path(__file__).resolve().parents[1]


def train(tree: Path, row: str, a: argparse.Namespace, out: Path) -> dict[str, torch.Tensor]:
    cmd = [sys.executable, "-m", "cxrgan", "train", *row_args(row), "--data", str(a.data),
           "--image-size", str(a.image_size), "--epochs", "1", "--steps-per-epoch",
           str(a.steps), "--seed", str(a.seed), "--out", str(out), "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    shutil.rmtree(out, ignore_errors=True)  # this script's own scratch run from a previous call
    subprocess.run(cmd, check=True, cwd=tree, env=env, stdout=subprocess.DEVNULL)
    return load_file(str(out / "checkpoints" / "last.safetensors"))


def differences(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    """The tensors that differ (or exist on one side only)."""
    names = sorted(a.keys() | b.keys())
    return [n for n in names if n not in a or n not in b or not torch.equal(a[n], b[n])]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, required=True, help="a folder of training images")
    p.add_argument("--trees", type=Path, nargs=2, default=[REPO, REPO], metavar="TREE",
                   help="the two checkouts to compare (default: this one twice)")  # fmt: skip
    p.add_argument("--rows", nargs="+", default=["small-data", "blog"],
                   help="rows of quality_rows.toml; with two --trees each row is trained in "
                   "both; with one tree (the default) exactly two rows are compared")  # fmt: skip
    p.add_argument("--steps", type=int, default=150, help="optimiser steps per run")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "same-training")
    a = p.parse_args()
    trees = [t.resolve() for t in a.trees]
    if trees[0] == trees[1] and len(a.rows) != 2:
        sys.exit("with one tree, name exactly two --rows to compare")
    pairs = (
        [((trees[0], r), (trees[1], r)) for r in a.rows]
        if trees[0] != trees[1]
        else [((trees[0], a.rows[0]), (trees[0], a.rows[1]))]
    )
    failed = False
    for left, right in pairs:
        runs = [a.out / f"{t.name}-{r}" for t, r in (left, right)]
        wrong = differences(train(*left, a, runs[0]), train(*right, a, runs[1]))
        label = f"{left[0].name}:{left[1]} vs {right[0].name}:{right[1]}, {a.steps} steps"
        print(f"{label}: {'bit-identical' if not wrong else f'{len(wrong)} tensors differ'}")
        failed |= bool(wrong)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
