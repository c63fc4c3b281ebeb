"""GPU throughput of cxrgan's training step: img/s and peak memory for dcgan and lightweight at
64/128/256 px, fp32 vs bf16 vs compile, against the DCGAN tutorial's loop in the same run, and
DDP scaling efficiency when more than one GPU is visible. One command, under 5 minutes:

    python benchmarks/gpu.py                     # on a CUDA machine; prints a Markdown table
    python benchmarks/gpu.py --device cpu --quick   # a smoke run of the code paths on CPU

NOT YET RUN ON A GPU: it was written without one (issue 11). The CPU smoke run checks that it
runs; its numbers say nothing about GPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from cxrgan.config import TrainConfig
from cxrgan.data.source import load_phantoms
from cxrgan.training.device import resolve_device
from cxrgan.training.loop import next_batch
from cxrgan.training.setup import build_trainer
from cxrgan.training.step import train_step

BUDGET_S = 270  # rows not reached by then are listed as skipped


def trainer_for(model: str, size: int, batch: int, device: str, precision: str, compile: bool,
                rank: int = 0, world: int = 1):  # fmt: skip
    cfg = TrainConfig(model=model, image_size=size, batch_size=batch, device=device,
                      precision=precision, compile=compile, progress=False,
                      demo_images=max(2 * batch, 64))  # fmt: skip
    data = load_phantoms(cfg.demo_images, size, seed=0)
    return build_trainer(cfg, None, data, resolve_device(device), rank=rank, world_size=world)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(t, steps: int, warmup: int) -> float:
    """Images per second (global batch) over `steps` after `warmup` steps."""
    s = t.state
    for i in range(warmup):
        train_step(t.loss, t.phases, next_batch(s, t.device), i)
    sync(t.device)
    start = time.perf_counter()
    for i in range(steps):
        train_step(t.loss, t.phases, next_batch(s, t.device), warmup + i)
    sync(t.device)
    return steps * s.sampler.batch_size / (time.perf_counter() - start)


def tutorial_rate(size: int, batch: int, device: torch.device, steps: int, warmup: int) -> float:
    from tutorial_reference import tutorial_step

    from cxrgan.models import ModelSpec, build_models

    torch.manual_seed(0)
    g, d = build_models(ModelSpec("dcgan", 100, size, kwargs={"ngf": 64, "ndf": 64}))
    g, d = g.to(device), torch.nn.Sequential(d, torch.nn.Sigmoid()).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    crit = torch.nn.BCELoss()
    real = torch.rand(batch, 1, size, size, device=device) * 2 - 1
    for _ in range(warmup):
        tutorial_step(g, d, opt_g, opt_d, real, 100, crit)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        tutorial_step(g, d, opt_g, opt_d, real, 100, crit)
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def ddp_worker(args: argparse.Namespace) -> None:
    """Under torchrun: one rank's share of the DDP scaling row; rank 0 prints img/s."""
    from cxrgan.training import distributed as ddp

    world = ddp.from_env()
    ddp.init(world)
    t = trainer_for("dcgan", args.ddp_size, args.batch_size * world.world_size, args.device,
                    "fp32", False, world.rank, world.world_size)  # fmt: skip
    rate = measure(t, args.steps, args.warmup)
    if world.rank == 0:
        print(f"DDP_RATE {rate:.1f}")
    ddp.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch-size", type=int, default=64, help="per GPU")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5, help="compile happens here")
    p.add_argument("--quick", action="store_true", help="64 px only, 2 steps: a smoke run")
    p.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ddp-size", type=int, default=128, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.ddp_worker:
        return ddp_worker(args)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py: no CUDA GPU here (--device cpu --quick smoke-runs it)")
    sizes = (64,) if args.quick else (64, 128, 256)
    if args.quick:
        args.steps, args.warmup = 2, 1
    variants = [("fp32", False), ("bf16", False), ("fp32", True), ("bf16", True)]
    started = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# cxrgan training step on {name}, torch {torch.__version__}, "
          f"batch {args.batch_size}, {args.steps} timed steps\n")  # fmt: skip
    print("| model | px | precision | compile | img/s | × tutorial | × fp32 | peak memory |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in ("dcgan", "lightweight"):
        for size in sizes:
            tut = tutorial_rate(size, args.batch_size, device, args.steps, args.warmup)
            base = None
            for precision, compiled in variants:
                row = f"| {model} | {size} | {precision} | {'yes' if compiled else 'no'} |"
                if time.perf_counter() - started > BUDGET_S:
                    print(f"{row} skipped (time budget) | | | |")
                    continue
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                try:
                    t = trainer_for(model, size, args.batch_size, args.device, precision, compiled)
                    rate = measure(t, args.steps, args.warmup)
                except Exception as exc:  # one failing variant must not hide the others
                    print(f"{row} failed: {type(exc).__name__}: {str(exc)[:80]} | | | |")
                    continue
                base = rate if (precision, compiled) == ("fp32", False) else base
                peak = (f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"
                        if device.type == "cuda" else "n/a")  # fmt: skip
                vs_fp32 = f"{rate / base:.2f}" if base else ""
                print(f"{row} {rate:.0f} | {rate / tut:.2f} | {vs_fp32} | {peak} |", flush=True)
                del t
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if gpus > 1 and time.perf_counter() - started < BUDGET_S:
        rates = {}
        for n in (1, gpus):
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={n}", __file__, "--ddp-worker", "--device", "cuda",
                   "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                   "--warmup", str(args.warmup)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            with contextlib.suppress(StopIteration, ValueError):
                line = next(x for x in out.stdout.splitlines() if x.startswith("DDP_RATE"))
                rates[n] = float(line.split()[1])
        if len(rates) == 2:
            eff = rates[gpus] / (gpus * rates[1])
            print(f"\nDDP dcgan 128 px, {args.batch_size}/GPU: 1 GPU {rates[1]:.0f} img/s, "
                  f"{gpus} GPUs {rates[gpus]:.0f} img/s: scaling efficiency {eff:.0%}")  # fmt: skip
        else:
            print("\nDDP scaling: the torchrun runs failed")
    elif gpus <= 1:
        print("\nDDP scaling: one GPU visible, not measured")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
