"""Does a class-conditional GAN's synthetic data help a classifier? Issue 10's measurement.

On the Kaggle train split at 64 px, split by patient (`cxrgan data split`, 15 % of each class's
patients held out), train the recommended recipe class-conditionally for --minutes of CPU
time on the training patients only, evaluating FWD per class every 10 epochs, then run
`cxrgan utility` on the `best` checkpoint (the best worst-class FWD) and on `last`: TRTR, TSTR and
real + synthetic on the held-out patients, mean ± std over 3 seeds with bootstrap 95 %
intervals. Targets: TSTR balanced accuracy >= 0.85 × TRTR (issue 20 asks 0.9 from `last`), the
AUC gain of real + synthetic has a lower 95 % bound >= -0.01, and the worst class's FWD at the
end is at most 1.2 × its best (no late collapse of a class).

`--row` trains with a row of benchmarks/quality_rows.toml (a recipe plus settings: a candidate
for the next version of the default recipe) instead of `--recipe`.

Every step is kept in the output folder and skipped when done; a training cut off part-way
resumes from its checkpoint:

    python benchmarks/utility.py                    # ~60 min of training + ~15 of classifiers
    python benchmarks/utility.py --minutes 5        # a quick pass of the same steps

Run it alone: another process on the same cores changes how far the GAN trains.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from quality import row_settings

from cxrgan.data.split import write_split
from cxrgan.recipes import DEFAULT_RECIPE

REPO = Path(__file__).resolve().parents[1]
# Epochs of 200 steps between FWD evaluations against the training images (the held-out ones
# are for the classifier only); `best` is the checkpoint whose worst class scored best, as a
# class the generator collapses late in training is useless to the classifier.
EVAL_EVERY = 10
DEFAULT_DATA = REPO.parent / "shared" / "data" / "kaggle-chest-xray-224" / "train"


def cxrgan(*args: str, log: Path) -> None:
    cmd = [sys.executable, "-m", "cxrgan", *args, "--no-progress"]
    print(f"  cxrgan {' '.join(args)}", flush=True)
    with log.open("a") as out:
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)


def train(run: Path, split: Path, minutes: float, settings: list[str], log: Path) -> None:
    config = run / "config.json"
    if config.is_file():
        stopped = json.loads(config.read_text()).get("stopped") or {}
        if str(stopped.get("reason", "")).startswith("budget"):
            return
        cxrgan("train", "--resume", str(run), "--minutes", str(minutes), log=log)
        return
    cxrgan("train", "--data", str(split / "train"), "--conditional", *settings,
           "--image-size", "64", "--minutes", str(minutes), "--epochs", "100000",
           "--steps-per-epoch", "200", "--seed", "0", "--eval-every", str(EVAL_EVERY),
           "--out", str(run), log=log)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=60.0, help="GAN training minutes")
    p.add_argument("--recipe", default=DEFAULT_RECIPE, help="the GAN's recipe")
    p.add_argument("--row", default=None,
                   help="a row of quality_rows.toml to train with instead of --recipe")  # fmt: skip
    p.add_argument("--checkpoints", default="best,last",
                   help="comma list of the run's checkpoints to judge with")  # fmt: skip
    p.add_argument("--seeds", type=int, default=3, help="classifier seeds per training set")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench-utility")
    a = p.parse_args()
    if not a.data.is_dir():
        sys.exit(f"data not found: {a.data}")
    a.out.mkdir(parents=True, exist_ok=True)
    log = a.out / "bench.log"
    split = a.out / "split"
    if not (split / "split.json").is_file():
        write_split(a.data, split)
    run = a.out / "run"
    train(run, split, a.minutes, train_settings(a), log)
    for checkpoint in a.checkpoints.split(","):
        judged = a.out / f"utility-{checkpoint}"
        if not (judged / "utility.json").is_file():
            cxrgan("utility", "--train", str(split / "train"), "--test", str(split / "heldout"),
                   "--synthetic", str(run), "--checkpoint", checkpoint, "--seeds", str(a.seeds),
                   "--out", str(judged), log=log)  # fmt: skip
        result = json.loads((judged / "utility.json").read_text())
        print(checkpoint, json.dumps({k: result[k] for k in ("targets",) if k in result}, indent=2))
    print(json.dumps(class_decline(run), indent=2))
    print(f"utility-*/utility.json and .png in {a.out}; the run's report in {run}")


def train_settings(a: argparse.Namespace) -> list[str]:
    """`cxrgan train` options for the recipe, or for a row of quality_rows.toml."""
    if a.row is None:
        return ["--recipe", a.recipe]
    return [f"--{k.replace('_', '-')}={v}" for k, v in row_settings(a.row).items()]


def class_decline(run: Path) -> dict[str, dict[str, float]]:
    """Each class's FWD at the last evaluation against its best, from the run's metrics log."""
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r["per_class"] for r in records if r.get("per_class")]
    if not evals:
        return {}
    out = {}
    for name in evals[-1]:
        curve = [e[name]["fwd"] for e in evals if name in e]
        out[name] = {"best": min(curve), "end": curve[-1], "end_over_best": curve[-1] / min(curve)}
    return out


if __name__ == "__main__":
    main()
