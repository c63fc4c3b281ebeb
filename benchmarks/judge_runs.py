"""Judge finished runs the way benchmarks/quality.py judges its rows: each run's `last`, with its
EMA generator and with the raw G, against the held-out films of quality.py's patient split at
n = their count (FWD, log-FWD, texture, precision, recall, coverage).

For runs trained outside quality.py, e.g. with step budgets on a shared machine:

    python benchmarks/judge_runs.py RUN [RUN ...] [--out runs/bench-quality]
"""

from __future__ import annotations

import argparse
import json
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
    a = p.parse_args()
    held_folder = link_split(a.data, a.out)["heldout"]
    sizes = {json.loads((r / "config.json").read_text())["config"]["image_size"] for r in a.runs}
    held = {s: load_folder(held_folder, s, progress=False).images for s in sizes}
    for run in a.runs:
        size = json.loads((run / "config.json").read_text())["config"]["image_size"]
        for raw in (False, True):
            fake = generate_images(run, len(held[size]), checkpoint="last", seed=1, raw=raw)
            scores = evaluate_sets(held[size], fake, n=len(held[size]), seed=0)
            row = {"run": str(run), "g": "raw" if raw else "ema"}
            print(json.dumps(row | {k: round(float(scores[k]), 4) for k in KEYS}), flush=True)


if __name__ == "__main__":
    main()
