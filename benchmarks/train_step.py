"""Training throughput: the DCGAN tutorial's loop against cxrgan's, same model/batch/threads/data.

Both train the same 64 px DCGAN from the same initial weights on the same in-memory batch
source. The tutorial's loop is the reference measured in this run; the result is the ratio.
Rounds alternate between the two so a busy machine slows both alike.

    python benchmarks/train_step.py [--image-size 64] [--batch-size 128] [--steps 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from cxrgan_step import cxrgan_stepper, make_nets
from tutorial_reference import tutorial_step

from cxrgan.training.step import StepStats


def tutorial_runner(images: torch.Tensor, size: int, batch: int):
    g, d, opt_g, opt_d = make_nets(size, channels_last=False)
    d = torch.nn.Sequential(d, torch.nn.Sigmoid())  # the tutorial's D ends in a Sigmoid
    crit = torch.nn.BCELoss()
    perm = torch.randperm(len(images))

    def run(steps: int) -> None:
        for i in range(steps):  # the tutorial's DataLoader yields float batches in [-1, 1]
            idx = perm[(i * batch) % (len(images) - batch) :][:batch]
            real = images[idx].unsqueeze(1).float().div(255).sub(0.5).div(0.5)
            tutorial_step(g, d, opt_g, opt_d, real, 100, crit)

    return run


def cxrgan_runner(images: torch.Tensor, size: int, batch: int, log_every: int = 10):
    _, step = cxrgan_stepper(images, size, batch)
    stats = StepStats()

    def run(steps: int) -> None:
        for i in range(steps):
            stats.add(step())
            if (i + 1) % log_every == 0:
                stats.pop_means()  # the trainer syncs once per log interval
        stats.pop_means()

    return run


def timed(run, steps: int, batch: int) -> float:
    start = time.perf_counter()
    run(steps)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=6, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    images = torch.randint(0, 256, (2048, a.image_size, a.image_size), dtype=torch.uint8)
    runners = {
        "tutorial": tutorial_runner(images, a.image_size, a.batch_size),
        "cxrgan": cxrgan_runner(images, a.image_size, a.batch_size),
    }
    for run in runners.values():
        run(2)  # warm-up: allocator, kernels
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(a.rounds):
        for name, run in runners.items():
            rates[name].append(timed(run, a.steps, a.batch_size))
    med = {name: statistics.median(r) for name, r in rates.items()}
    print(f"DCGAN {a.image_size}px, batch {a.batch_size}, {a.threads} thread(s)")
    print(f"torch {torch.__version__}")
    for name in runners:
        rounds = ", ".join(f"{r:.1f}" for r in rates[name])
        print(f"  {name:9s} {med[name]:8.1f} images/s  (rounds: {rounds})")
    print(f"  ratio cxrgan / tutorial: {med['cxrgan'] / med['tutorial']:.2f}x")


if __name__ == "__main__":
    main()
