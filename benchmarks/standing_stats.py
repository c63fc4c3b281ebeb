"""Standing statistics against train-mode sampling, on a real run (issue 23).

cxrgan draws images in eval mode on standing statistics (src/cxrgan/models/standing.py), so an
image depends only on its latent. Before, G sampled in train mode: batch norm normalised each
image by its batch of 64. This judges both ways of drawing from one checkpoint's G_ema against
the held-out films of benchmarks/quality.py's split (patients held out, never trained on), at
n = 768, over a few noise seeds: held-out FWD, KID, precision and recall. Standing statistics
are also computed from 8x more latents than checkpoints use, to show that their number does
not limit quality. The issue asks for standing statistics within 5 % of train mode.

    python benchmarks/standing_stats.py --run RUN [--checkpoint last] [--json OUT.json]

RUN: an unconditional 64 px run trained on the quality benchmark's split (a copy of
runs/bench-quality/long/runs/long-small-data+cosine, say); the split is made (or reused) under
--split-root as quality.py makes it. Run it alone: other processes on the cores slow it only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import quality
import torch

from cxrgan.data.folder import load_folder
from cxrgan.data.pixels import batches_to_uint8
from cxrgan.inference.generate import load_model, sample_images
from cxrgan.metrics import evaluate_sets
from cxrgan.models import build_models
from cxrgan.models.base import Generator
from cxrgan.models.sampling import GENERATE_BATCH
from cxrgan.models.standing import STANDING_LATENTS, compute_standing_stats
from cxrgan.training.checkpoint import load_checkpoint
from cxrgan.training.rundir import RunDir

KEYS = ("fwd", "kid_mean", "precision", "recall")
DATA = Path("/work/shared/data/kaggle-chest-xray-224/train")


@torch.no_grad()
def train_mode_images(g: Generator, n: int, seed: int) -> np.ndarray:
    """How cxrgan sampled before standing statistics: train mode, batches of 64 latents."""
    g.train()
    gen = torch.Generator().manual_seed(seed)

    def batches():
        for start in range(0, n, GENERATE_BATCH):
            z = g.sample_latents(GENERATE_BATCH, generator=gen)
            yield torch.arange(start, min(n, start + GENERATE_BATCH)), g(z)[: n - start]

    return batches_to_uint8(n, g.resolution, batches())


def raw_g_ema(run: Path, checkpoint: str) -> Generator:
    ckpt = load_checkpoint(RunDir.open(run).checkpoint(checkpoint))
    g, _ = build_models(ckpt.model_spec())
    ckpt.load_model("G_ema" if ckpt.has("G_ema") else "G", g)
    if g.c_dim:
        sys.exit("this comparison draws an unconditional run")
    return g


def judge(heldout: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    scores = evaluate_sets(heldout, fake, n=len(heldout), seed=0)
    return {k: float(scores[k]) for k in KEYS}


def compare(run: Path, checkpoint: str, heldout: np.ndarray, seeds: list[int]) -> dict[str, Any]:
    n = len(heldout)
    with warnings.catch_warnings():  # an older checkpoint: standing statistics made on load
        warnings.simplefilter("ignore")
        standing = load_model(run, checkpoint).g
    many = compute_standing_stats(raw_g_ema(run, checkpoint), latents=8 * STANDING_LATENTS)
    train_g = raw_g_ema(run, checkpoint)
    draws = {
        "train_mode": lambda s: train_mode_images(train_g, n, s),
        "standing": lambda s: sample_images(standing, n, s, "cpu"),
        f"standing_{8 * STANDING_LATENTS}": lambda s: sample_images(many, n, s, "cpu"),
    }
    out: dict[str, Any] = {}
    for name, draw in draws.items():
        rows = [judge(heldout, draw(seed)) for seed in seeds]
        out[name] = {
            "per_seed": rows,
            "mean": {k: float(np.mean([r[k] for r in rows])) for k in KEYS},
            "std": {k: float(np.std([r[k] for r in rows])) for k in KEYS},
        }
        print(f"{name:>16}: " + "  ".join(f"{k} {out[name]['mean'][k]:.4f}" for k in KEYS))
    base = out["train_mode"]["mean"]
    out["relative"] = {
        name: {k: out[name]["mean"][k] / base[k] - 1 for k in ("fwd", "recall")}
        for name in draws
        if name != "train_mode"
    }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--checkpoint", default="last")
    p.add_argument("--split-root", type=Path, default=quality.REPO / "runs" / "bench-quality")
    p.add_argument("--data", type=Path, default=DATA, help="the Kaggle train folder to split")
    p.add_argument("--seeds", type=int, default=3, help="noise seeds per way of drawing")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    folders = quality.link_split(a.data, a.split_root)
    size = json.loads((a.run / "config.json").read_text())["config"]["image_size"]
    heldout = load_folder(folders["heldout"], size, progress=False).images
    start, origin = time.perf_counter(), quality.provenance()
    result = {
        "run": str(a.run),
        "checkpoint": a.checkpoint,
        "n": len(heldout),
        "standing_latents": STANDING_LATENTS,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **compare(a.run, a.checkpoint, heldout, list(range(1, a.seeds + 1))),
        "provenance": {**origin, "load_after": round(os.getloadavg()[0], 2)},
        "wall_s": round(time.perf_counter() - start, 1),
    }
    for name, rel in result["relative"].items():
        print(f"{name}: FWD {rel['fwd']:+.1%}, recall {rel['recall']:+.1%} against train mode")
    if a.json is not None:
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
