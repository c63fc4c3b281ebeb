"""Judge finished runs the way benchmarks/quality.py judges its rows: each run's `last`, with its
EMA generator and with the raw G, against the held-out films of quality.py's patient split at
n = their count (FWD, log-FWD, texture, precision, recall, coverage).

For runs trained outside quality.py, e.g. with step budgets on a shared machine:

    python benchmarks/judge_runs.py RUN [RUN ...] [--out runs/bench-quality]

How much of a difference between two evaluations is sampling alone: judge one generator with
several generation seeds and read the spread (mean and standard deviation per checkpoint):

    python benchmarks/judge_runs.py RUN --seeds 1,2,3,4,5,6,7,8 --checkpoints last,best --ema-only
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from quality import DEFAULT_DATA, REPO, link_split

from cxrgan.data.folder import load_folder
from cxrgan.inference.generate import generate_images
from cxrgan.metrics import evaluate_sets

KEYS = ("fwd", "fwd_log", "laplacian_ratio", "precision", "recall", "coverage")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("runs", nargs="+", type=Path, help="run directories to judge")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Kaggle train split")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench-quality",
                   help="quality.py's output folder, where its split lives")  # fmt: skip
    p.add_argument("--seeds", default="1", help="generation seeds, comma-separated (default 1)")
    p.add_argument("--checkpoints", default="last", help="comma list of last, best (default last)")
    p.add_argument("--ema-only", action="store_true", help="skip the raw G")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    held_folder = link_split(a.data, a.out)["heldout"]
    sizes = {json.loads((r / "config.json").read_text())["config"]["image_size"] for r in a.runs}
    held = {s: load_folder(held_folder, s, progress=False).images for s in sizes}
    for run in a.runs:
        size = json.loads((run / "config.json").read_text())["config"]["image_size"]
        for checkpoint in a.checkpoints.split(","):
            for raw in (False,) if a.ema_only else (False, True):
                row = {"run": str(run), "checkpoint": checkpoint, "g": "raw" if raw else "ema"}
                judged = []
                for seed in seeds:
                    fake = generate_images(run, len(held[size]), checkpoint=checkpoint,
                                           seed=seed, raw=raw)  # fmt: skip
                    scores = evaluate_sets(held[size], fake, n=len(held[size]), seed=0)
                    judged.append({k: float(scores[k]) for k in KEYS})
                    print(json.dumps(row | {"seed": seed} | rounded(judged[-1])), flush=True)
                if len(judged) > 1:
                    print(json.dumps(row | {"seeds": len(judged)} | spread(judged)), flush=True)


def rounded(scores: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in scores.items()}


def spread(judged: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean and standard deviation over the generation seeds."""
    out = {}
    for k in KEYS:
        values = [j[k] for j in judged]
        out[k] = round(statistics.fmean(values), 4)
        out[k + "_sd"] = round(statistics.stdev(values), 4)
    return out


if __name__ == "__main__":
    main()
