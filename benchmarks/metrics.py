"""What in-training quality evaluation costs, as a share of training time.

Measures, in one run and with the same threads:
  * the one-off real-side cost of QualityEvaluator (packet statistics, square roots, KID sums);
  * one evaluation of n generated 64 px images (FWD + KID), real side precomputed;
  * generating those n images with the generator (what the trainer also pays per evaluation);
  * DCGAN training throughput: the PyTorch DCGAN tutorial's G and D (nz 100, ngf = ndf = 64,
    1 channel, 64 px), BCE loss, Adam 2e-4 / beta1 0.5, batch 128, a few timed steps;
and prints eval_seconds / train_seconds for one evaluation interval (default: one epoch of
5,216 images, the Kaggle training split, with --eval-n 2000).

    OMP_NUM_THREADS=1 python benchmarks/metrics.py [--n 2000] [--epoch-images 5216]
        [--train-steps 4] [--repeats 3] [--threads 1] [--data PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from cxrgan_step import cxrgan_stepper

from cxrgan.inference.generate import sample_images
from cxrgan.metrics import QualityEvaluator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cxr-kermany" / "png128"
SIZE = 64


def train_images_per_second(step: Callable[[], object], batch: int, steps: int) -> float:
    """cxrgan's own training step (what --eval-every interrupts), timed after a warm-up step."""
    step()  # warm-up: allocator and kernels
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def generate(g: nn.Module, n: int) -> np.ndarray:
    """n images from G as the in-training evaluation draws them."""
    return sample_images(g, n, seed=0, device="cpu")


def load_real(path: Path, n: int) -> tuple[np.ndarray, str]:
    """n real 64 px images (repeated with mirror copies when the folder has fewer)."""
    if path.is_dir():
        from cxrgan.data.folder import load_folder

        images = load_folder(path, SIZE, workers=0, progress=False).images
        source = f"{len(images)} images from {path}"
    else:
        from cxrgan.data.phantoms import make_phantoms

        images = np.asarray(make_phantoms(min(n, 500), SIZE, 0))
        source = f"{len(images)} phantoms ({path} not found)"
    while len(images) < n:
        images = np.concatenate([images, images[:, :, ::-1]])
    return np.ascontiguousarray(images[:n]), source


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="images per evaluation (--eval-n)")
    ap.add_argument("--epoch-images", type=int, default=5216, help="images per eval interval")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--train-steps", type=int, default=4, help="timed training steps")
    ap.add_argument("--repeats", type=int, default=3, help="timed evaluations (median)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    real, source = load_real(args.data, args.n)
    state, step = cxrgan_stepper(torch.from_numpy(real), SIZE, args.batch_size)
    g = state.g

    start = time.perf_counter()
    evaluator = QualityEvaluator(real, n=args.n, seed=0)
    setup_s = time.perf_counter() - start
    fakes = generate(g, args.n)
    gen_s = timed(lambda: generate(g, args.n), args.repeats)
    eval_s = timed(lambda: evaluator.evaluate(fakes), args.repeats)
    scores = evaluator.evaluate(fakes)

    ips = train_images_per_second(step, args.batch_size, args.train_steps)
    train_s = args.epoch_images / ips
    rows = [
        ("data", source),
        ("torch threads", str(torch.get_num_threads())),
        ("real-side setup, once (s)", f"{setup_s:.2f}"),
        (f"evaluate {args.n} fakes: FWD + KID (s)", f"{eval_s:.2f}"),
        (f"generate {args.n} fakes with G (s)", f"{gen_s:.2f}"),
        (f"training throughput, batch {args.batch_size} (img/s)", f"{ips:.1f}"),
        (f"training time per interval, {args.epoch_images} img (s)", f"{train_s:.1f}"),
        ("eval / train time per interval", f"{eval_s / train_s:.1%}"),
        ("(eval + generate) / train time per interval", f"{(eval_s + gen_s) / train_s:.1%}"),
        ("untrained G vs real: FWD / KID", f"{scores['fwd']:.3f} / {scores['kid_mean']:.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'quantity':<{width}}  value")
    print("-" * (width + 40))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
