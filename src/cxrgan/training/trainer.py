"""The training loop: everything it needs is passed in; it writes only to the run directory."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm import tqdm

from cxrgan.config import TrainConfig
from cxrgan.data.folder import ImageSet
from cxrgan.models import build_models
from cxrgan.reporting.plots import plot_losses, save_grid
from cxrgan.training.checkpoint import (
    Checkpoint,
    model_tensors,
    optimizer_tensors,
    save_checkpoint,
)
from cxrgan.training.rundir import RunDir
from cxrgan.training.sampler import BatchSampler
from cxrgan.training.step import GanStep, StepStats

FIXED_NOISE = 64  # images in each sample grid, as in the tutorial


@dataclass
class Counters:
    epoch: int = 0  # completed epochs
    step: int = 0  # completed optimiser steps, across resumes
    step_in_epoch: int = 0
    elapsed_s: float = 0.0  # training time, across resumes


@dataclass
class Trainer:
    cfg: TrainConfig
    run: RunDir
    data: ImageSet
    device: torch.device
    g: torch.nn.Module
    d: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sampler: BatchSampler
    noise_gen: torch.Generator
    fixed_noise: torch.Tensor
    counters: Counters = field(default_factory=Counters)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def steps_per_epoch(self) -> int:
        return self.cfg.steps_per_epoch or max(1, len(self.data) // self.sampler.batch_size)


def resolve_device(name: str) -> torch.device:
    from cxrgan.errors import CxrganError

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CxrganError("--device cuda requested but this torch has no usable CUDA GPU")
    if name == "mps" and not torch.backends.mps.is_available():
        raise CxrganError("--device mps requested but MPS is not available here")
    return torch.device(name)


def build_trainer(
    cfg: TrainConfig, run: RunDir, data: ImageSet, checkpoint: Checkpoint | None = None
) -> Trainer:
    """Models, optimisers and RNGs from the config; state from `checkpoint` when resuming."""
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    g, d = build_models(cfg.model, cfg.image_size, cfg.nz, cfg.ngf, cfg.ndf)
    g = g.to(device, memory_format=torch.channels_last)
    d = d.to(device, memory_format=torch.channels_last)
    betas = (cfg.beta1, cfg.beta2)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.g_lr, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.d_lr, betas=betas)
    images = torch.from_numpy(data.images).to(device)
    sampler = BatchSampler(images, cfg.batch_size, cfg.seed, cfg.hflip)
    noise_gen = torch.Generator(device).manual_seed(cfg.seed + 1)
    fixed_noise = torch.randn(FIXED_NOISE, cfg.nz, 1, 1, device=device, generator=noise_gen)
    trainer = Trainer(cfg, run, data, device, g, d, opt_g, opt_d, sampler, noise_gen, fixed_noise)
    if checkpoint is not None:
        _restore(trainer, checkpoint)
    return trainer


def _restore(t: Trainer, ckpt: Checkpoint) -> None:
    ckpt.load_model("G", t.g)
    ckpt.load_model("D", t.d)
    ckpt.load_optimizer("optG", t.opt_g)
    ckpt.load_optimizer("optD", t.opt_d)
    for group in t.opt_g.param_groups:  # a resume may change the rates
        group["lr"] = t.cfg.g_lr
    for group in t.opt_d.param_groups:
        group["lr"] = t.cfg.d_lr
    state = ckpt.meta["state"]
    t.sampler.load_state(ckpt.tensors, state["sampler"])
    t.noise_gen.set_state(ckpt.tensors["rng.noise"])
    t.fixed_noise = ckpt.tensors["fixed_noise"].to(t.device)
    c = state["counters"]
    t.counters = Counters(c["epoch"], c["step"], c["step_in_epoch"], c["elapsed_s"])
    # The hint and plots look back over the whole run, not just this session.
    t.records = [r for r in t.run.read_metrics() if "loss_d" in r]


def save_state(t: Trainer, name: str) -> None:
    sampler_tensors, sampler_meta = t.sampler.state()
    g_opt, g_groups = optimizer_tensors("optG", t.opt_g)
    d_opt, d_groups = optimizer_tensors("optD", t.opt_d)
    tensors = {
        **model_tensors("G", t.g),
        **model_tensors("D", t.d),
        **g_opt,
        **d_opt,
        **sampler_tensors,
        "rng.noise": t.noise_gen.get_state(),
        "fixed_noise": t.fixed_noise,
    }
    c = t.counters
    meta = {
        "state": {
            "counters": {
                "epoch": c.epoch, "step": c.step,
                "step_in_epoch": c.step_in_epoch, "elapsed_s": c.elapsed_s,
            },
            "sampler": sampler_meta,
            "model": {
                "name": t.cfg.model, "image_size": t.cfg.image_size,
                "nz": t.cfg.nz, "ngf": t.cfg.ngf, "ndf": t.cfg.ndf,
            },
        },
        "optG_param_groups": g_groups,
        "optD_param_groups": d_groups,
    }  # fmt: skip
    save_checkpoint(t.run.checkpoint(name), tensors, meta)


class StopFlag:
    """First Ctrl-C asks the loop to stop after the current step; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopFlag:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def train(t: Trainer) -> str:
    """Run until `cfg.epochs` epochs are complete or Ctrl-C; returns why it stopped."""
    with StopFlag() as stop:
        while t.counters.epoch < t.cfg.epochs:
            means = _run_epoch(t, stop)
            if means is None:
                save_state(t, "last")
                t.run.log(f"interrupted at step {t.counters.step}; saved checkpoints/last")
                return "interrupted"
            end_of_epoch(t, means)
    return "completed"


def _run_epoch(t: Trainer, stop: StopFlag) -> dict[str, float] | None:
    """Train the rest of the current epoch; its mean statistics, or None when interrupted."""
    c, cfg = t.counters, t.cfg
    step_fn = GanStep(t.g, t.d, t.opt_g, t.opt_d, cfg.nz)
    window, epoch_stats = StepStats(t.device), StepStats(t.device)
    total = t.steps_per_epoch
    bar = tqdm(
        total=total, initial=c.step_in_epoch, desc=f"epoch {c.epoch + 1}/{cfg.epochs}",
        unit="step", disable=not cfg.progress, leave=False, dynamic_ncols=True,
    )  # fmt: skip
    t.g.train()
    t.d.train()
    last_time, last_images = time.perf_counter(), 0
    images = 0
    with bar:
        while c.step_in_epoch < total:
            stats = step_fn(t.sampler.next(), t.noise_gen)
            window.add(stats)
            epoch_stats.add(stats)
            c.step += 1
            c.step_in_epoch += 1
            images += t.sampler.batch_size
            bar.update(1)
            if c.step % cfg.log_every == 0 or c.step_in_epoch == total or stop.requested:
                now = time.perf_counter()
                rate = (images - last_images) / max(now - last_time, 1e-9)
                c.elapsed_s += now - last_time
                last_time, last_images = now, images
                record = _log_record(t, window.pop_means(), rate)
                bar.set_postfix_str(_postfix(record), refresh=False)
            if stop.requested:
                return None
    return epoch_stats.pop_means()


def _log_record(t: Trainer, means: dict[str, float], rate: float) -> dict[str, Any]:
    c = t.counters
    record = {
        "step": c.step,
        "epoch": c.epoch + 1,
        **means,
        "lr_g": t.opt_g.param_groups[0]["lr"],
        "lr_d": t.opt_d.param_groups[0]["lr"],
        "images_per_s": round(rate, 2),
        "elapsed_s": round(c.elapsed_s, 3),
    }
    t.run.append_metrics(record)
    t.records.append(record)
    return record


def _postfix(r: dict[str, Any]) -> str:
    return (
        f"Loss_D={r['loss_d']:.3f} Loss_G={r['loss_g']:.3f} D(x)={r['d_x']:.3f} "
        f"D(G(z))={r['d_g_z1']:.3f}/{r['d_g_z2']:.3f} {r['images_per_s']:.0f} img/s"
    )


def end_of_epoch(t: Trainer, m: dict[str, float]) -> None:
    """Sample grid, loss plot, checkpoints and a one-line summary for the epoch just done."""
    c = t.counters
    c.epoch += 1
    c.step_in_epoch = 0
    with torch.no_grad():
        save_grid(t.g(t.fixed_noise), t.run.sample_grid(c.epoch))
    plot_losses(t.records, t.run.plots / "losses.png")
    save_state(t, "last")
    if t.cfg.checkpoint_every and c.epoch % t.cfg.checkpoint_every == 0:
        save_state(t, f"epoch_{c.epoch:04d}")
    t.run.log(
        f"[epoch {c.epoch}/{t.cfg.epochs}] step {c.step}  Loss_D {m['loss_d']:.4f}  "
        f"Loss_G {m['loss_g']:.4f}  D(x) {m['d_x']:.4f}  D(G(z)) {m['d_g_z1']:.4f} / "
        f"{m['d_g_z2']:.4f}  elapsed {c.elapsed_s:.1f}s"
    )
