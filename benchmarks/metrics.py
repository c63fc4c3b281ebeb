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
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cxrgan.metrics import QualityEvaluator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cxr-kermany" / "png128"
NZ, NGF, NDF, SIZE = 100, 64, 64, 64


def weights_init(m: nn.Module) -> None:
    """The tutorial's init: N(0, 0.02) convolutions, N(1, 0.02) BatchNorm scales."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def tutorial_generator() -> nn.Sequential:
    """PyTorch DCGAN tutorial generator, 1 output channel, 64 x 64."""
    return nn.Sequential(
        nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(NGF * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NGF * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NGF * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NGF),
        nn.ReLU(True),
        nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


def tutorial_discriminator() -> nn.Sequential:
    """PyTorch DCGAN tutorial discriminator, 1 input channel, 64 x 64."""
    return nn.Sequential(
        nn.Conv2d(1, NDF, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NDF * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NDF * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False),
        nn.BatchNorm2d(NDF * 8),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False),
        nn.Sigmoid(),
    )


def make_models() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    g, d = tutorial_generator(), tutorial_discriminator()
    g.apply(weights_init)
    d.apply(weights_init)
    return g, d


def train_images_per_second(
    real: np.ndarray, g: nn.Module, d: nn.Module, batch: int, steps: int
) -> float:
    """The tutorial's training step (D on real + fake, then G), timed after one warm-up step."""
    crit = nn.BCELoss()
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    data = torch.from_numpy(real).float().div(127.5).sub(1).unsqueeze(1)
    rng = np.random.default_rng(0)

    def step() -> None:
        x = data[torch.from_numpy(rng.choice(len(data), batch, replace=False))]
        ones, zeros = torch.ones(batch), torch.zeros(batch)
        d.zero_grad()
        loss_real = crit(d(x).view(-1), ones)
        loss_real.backward()
        fake = g(torch.randn(batch, NZ, 1, 1))
        loss_fake = crit(d(fake.detach()).view(-1), zeros)
        loss_fake.backward()
        opt_d.step()
        g.zero_grad()
        crit(d(fake).view(-1), ones).backward()
        opt_g.step()

    step()  # warm-up: allocator and kernels
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


@torch.no_grad()
def generate(g: nn.Module, n: int, batch: int = 64) -> np.ndarray:
    """n images from G as uint8, in batches (as the trainer does), train-mode BatchNorm."""
    out = []
    for start in range(0, n, batch):
        b = min(batch, n - start)
        x = g(torch.randn(max(b, 2), NZ, 1, 1))[:b, 0]
        out.append(((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy())
    return np.concatenate(out)


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
    g, d = make_models()

    start = time.perf_counter()
    evaluator = QualityEvaluator(real, n=args.n, seed=0)
    setup_s = time.perf_counter() - start
    fakes = generate(g, args.n)
    gen_s = timed(lambda: generate(g, args.n), args.repeats)
    eval_s = timed(lambda: evaluator.evaluate(fakes), args.repeats)
    scores = evaluator.evaluate(fakes)

    ips = train_images_per_second(real, g, d, args.batch_size, args.train_steps)
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
