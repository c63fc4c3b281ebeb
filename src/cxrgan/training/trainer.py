"""The training loop: everything it needs is passed in; it writes only to the run directory."""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from cxrgan.config import TrainConfig
from cxrgan.data.folder import ImageSet
from cxrgan.errors import CxrganError
from cxrgan.models import build_models
from cxrgan.reporting.plots import make_grid, plot_losses, plot_quality, save_grid, to_uint8
from cxrgan.reporting.run_records import load_records
from cxrgan.training.balance import BalanceController
from cxrgan.training.checkpoint import Checkpoint, model_tensors, optimizer_tensors, save_checkpoint
from cxrgan.training.quality import QualityTracker
from cxrgan.training.rundir import RunDir
from cxrgan.training.sampler import BatchSampler
from cxrgan.training.step import STAT_KEYS, GanStep, StepStats

FIXED_NOISE = 64  # images in each sample grid, as in the tutorial


@dataclass
class Counters:
    epoch: int = 0  # completed epochs
    step: int = 0  # completed optimiser steps, across resumes
    step_in_epoch: int = 0
    elapsed_s: float = 0.0  # training time (evaluation excluded), across resumes


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
    quality: QualityTracker | None = None
    balance: BalanceController | None = None
    tb: Any = None  # torch.utils.tensorboard.SummaryWriter with --tensorboard
    counters: Counters = field(default_factory=Counters)
    records: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None

    @property
    def steps_per_epoch(self) -> int:
        return self.cfg.steps_per_epoch or max(1, len(self.data) // self.sampler.batch_size)


def resolve_device(name: str) -> torch.device:
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
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels once
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
    t = Trainer(cfg, run, data, device, g, d, opt_g, opt_d, sampler, noise_gen, fixed_noise)
    t.quality = _quality_tracker(cfg, run, data) if cfg.eval_every else None
    t.balance = BalanceController(cfg.g_lr) if cfg.balance == "auto" else None
    t.tb = _tensorboard(run) if cfg.tensorboard else None
    if checkpoint is not None:
        _restore(t, checkpoint)
    return t


def _quality_tracker(cfg: TrainConfig, run: RunDir, data: ImageSet) -> QualityTracker:
    from cxrgan.data.folder import load_folder
    from cxrgan.metrics.evaluate import QualityEvaluator

    real = data.images
    if cfg.eval_data:
        real = load_folder(
            Path(cfg.eval_data), cfg.image_size, cfg.fit, cfg.workers, cfg.progress
        ).images
    n = min(cfg.eval_n, len(real))
    start = time.perf_counter()
    evaluator = QualityEvaluator(real, n=n, seed=cfg.seed)
    run.log(
        f"quality: FWD/KID on {n} images every {cfg.eval_every} {cfg.eval_unit}(s); "
        f"real-side statistics computed once in {time.perf_counter() - start:.1f}s"
    )
    return QualityTracker(
        evaluator, cfg.nz, cfg.seed, cfg.early_stop_patience, cfg.early_stop_min_delta
    )


def _tensorboard(run: RunDir) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise CxrganError(
            "--tensorboard needs the tensorboard package: pip install 'cxrgan[tensorboard]'"
        ) from None
    return SummaryWriter(log_dir=str(run.root / "tb"))


def _restore(t: Trainer, ckpt: Checkpoint) -> None:
    ckpt.load_model("G", t.g)
    ckpt.load_model("D", t.d)
    ckpt.load_optimizer("optG", t.opt_g)
    ckpt.load_optimizer("optD", t.opt_d)
    state = ckpt.meta["state"]
    # A resume may change the rates; --balance continues from the rate it had reached.
    balance = state.get("balance")
    lr_g = t.cfg.g_lr
    if t.balance is not None and balance and balance["base_lr_g"] == t.cfg.g_lr:
        t.balance = BalanceController(**balance)
        lr_g = t.opt_g.param_groups[0]["lr"]
    for group in t.opt_g.param_groups:
        group["lr"] = lr_g
    for group in t.opt_d.param_groups:
        group["lr"] = t.cfg.d_lr
    t.sampler.load_state(ckpt.tensors, state["sampler"])
    t.noise_gen.set_state(ckpt.tensors["rng.noise"])
    t.fixed_noise = ckpt.tensors["fixed_noise"].to(t.device)
    c = state["counters"]
    t.counters = Counters(c["epoch"], c["step"], c["step_in_epoch"], c["elapsed_s"])
    # Hints and plots see the whole run, not just this session.
    t.records, evals = load_records(t.run.root)
    if t.quality is not None:
        t.quality.load_state(state.get("quality") or {}, evals)


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
    c, cfg = t.counters, t.cfg
    state = {
        "counters": {
            "epoch": c.epoch,
            "step": c.step,
            "step_in_epoch": c.step_in_epoch,
            "elapsed_s": c.elapsed_s,
        },
        "sampler": sampler_meta,
        "model": {
            "name": cfg.model,
            "image_size": cfg.image_size,
            "nz": cfg.nz,
            "ngf": cfg.ngf,
            "ndf": cfg.ndf,
        },
        "quality": t.quality.state() if t.quality else None,
        "balance": t.balance.state() if t.balance else None,
    }
    meta = {"state": state, "optG_param_groups": g_groups, "optD_param_groups": d_groups}
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
    """Train until `cfg.epochs`, an early stop, divergence or Ctrl-C; returns why it stopped."""
    try:
        with StopFlag() as stop:
            while t.counters.epoch < t.cfg.epochs and t.stop_reason is None:
                means = _run_epoch(t, stop)
                if means is not None:
                    end_of_epoch(t, means)
                elif stop.requested:
                    save_state(t, "last")
                    t.run.log(f"interrupted at step {t.counters.step}; saved checkpoints/last")
                    return "interrupted"
                elif t.stop_reason.startswith("diverged"):
                    _hint_and_report(t)  # keep `last` as the last finite state to resume from
                else:
                    save_state(t, "last")  # early stop part-way through an epoch
    finally:
        if t.tb is not None:
            t.tb.close()
    return t.stop_reason or "completed"


def _run_epoch(t: Trainer, stop: StopFlag) -> dict[str, float] | None:
    """Train the rest of the current epoch; its mean statistics, or None when stopped part-way."""
    c, cfg = t.counters, t.cfg
    step_fn = GanStep(t.g, t.d, t.opt_g, t.opt_d, cfg.nz)
    window, epoch_stats = StepStats(t.device), StepStats(t.device)
    total = t.steps_per_epoch
    bar = tqdm(
        total=total,
        initial=c.step_in_epoch,
        desc=f"epoch {c.epoch + 1}/{cfg.epochs}",
        unit="step",
        disable=not cfg.progress,
        leave=False,
        dynamic_ncols=True,
    )
    t.g.train()
    t.d.train()
    last_time, images = time.perf_counter(), 0
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
                c.elapsed_s += now - last_time
                record = _log_record(t, window.pop_means(), images / max(now - last_time, 1e-9))
                bar.set_postfix_str(_postfix(record), refresh=False)
                last_time, images = time.perf_counter(), 0
                if not all(math.isfinite(record[k]) for k in STAT_KEYS):
                    t.stop_reason = f"diverged: non-finite loss at step {c.step}"
                    t.run.log(
                        f"warning: {t.stop_reason}; stopping. checkpoints/last keeps epoch "
                        f"{c.epoch}: resume from it with lower learning rates"
                    )
                    return None
            if stop.requested:
                return None
            if cfg.eval_unit == "step" and _due(cfg.eval_every, c.step):
                _evaluate(t)
                last_time = time.perf_counter()  # evaluation time is not training time
                if t.stop_reason:
                    return None
    return epoch_stats.pop_means()


def _due(every: int, count: int) -> bool:
    return every > 0 and count % every == 0


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
    if t.tb is not None:
        for key in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2", "lr_g", "lr_d", "images_per_s"):
            t.tb.add_scalar(f"train/{key}", record[key], c.step)
    if t.balance is not None:
        _rebalance(t, record)
    return record


def _rebalance(t: Trainer, record: dict[str, Any]) -> None:
    change = t.balance.update(record, t.opt_g.param_groups[0]["lr"])
    if change is None:
        return
    lr_g, reason = change
    for group in t.opt_g.param_groups:
        group["lr"] = lr_g
    c = t.counters
    t.run.append_metrics(
        {
            "step": c.step,
            "epoch": c.epoch + 1,
            "event": "balance",
            "lr_g": lr_g,
            "lr_d": t.opt_d.param_groups[0]["lr"],
            "reason": reason,
        }
    )
    t.run.log(f"balance: lr_G → {lr_g:.3g} at step {c.step}: {reason}", echo=False)


def _evaluate(t: Trainer) -> None:
    """FWD/KID now; keep `best`; decide on early stopping."""
    c = t.counters
    record, is_best = t.quality.evaluate(t.g, t.device, c.step, c.epoch + (c.step_in_epoch > 0))
    t.run.append_metrics(record)
    plot_quality(t.quality.records, t.run.plots / "quality.png")
    if is_best:
        save_state(t, "best")
    if t.tb is not None:
        for key in ("fwd", "kid_mean"):
            t.tb.add_scalar(f"quality/{key}", record[key], c.step)
    t.run.log(
        f"quality at step {c.step}: FWD {record['fwd']:.4g}  KID {record['kid_mean']:.4g} "
        f"± {record['kid_std']:.2g}{'  (best so far)' if is_best else ''}  "
        f"[{record['eval_s']:.1f}s]"
    )
    t.stop_reason = t.quality.stop_reason()
    if t.stop_reason:
        t.run.log(t.stop_reason.replace("early_stop: ", "early stop: "))


def _postfix(r: dict[str, Any]) -> str:
    return (
        f"Loss_D={r['loss_d']:.3f} Loss_G={r['loss_g']:.3f} D(x)={r['d_x']:.3f} "
        f"D(G(z))={r['d_g_z1']:.3f}/{r['d_g_z2']:.3f} {r['images_per_s']:.0f} img/s"
    )


def end_of_epoch(t: Trainer, m: dict[str, float]) -> None:
    """Sample grid, plots, checkpoints, quality, a summary line and a diagnosis hint."""
    c = t.counters
    c.epoch += 1
    c.step_in_epoch = 0
    with torch.no_grad():
        samples = to_uint8(t.g(t.fixed_noise))
    save_grid(samples, t.run.sample_grid(c.epoch))
    if t.tb is not None:
        t.tb.add_image("samples", make_grid(samples)[None], c.step)
    plot_losses(t.records, t.run.plots / "losses.png")
    if t.cfg.eval_unit == "epoch" and _due(t.cfg.eval_every, c.epoch):
        _evaluate(t)
    save_state(t, "last")
    if t.cfg.checkpoint_every and c.epoch % t.cfg.checkpoint_every == 0:
        save_state(t, f"epoch_{c.epoch:04d}")
    t.run.log(
        f"[epoch {c.epoch}/{t.cfg.epochs}] step {c.step}  Loss_D {m['loss_d']:.4f}  "
        f"Loss_G {m['loss_g']:.4f}  D(x) {m['d_x']:.4f}  D(G(z)) {m['d_g_z1']:.4f} / "
        f"{m['d_g_z2']:.4f}  elapsed {c.elapsed_s:.1f}s"
    )
    _hint_and_report(t)


def _hint_and_report(t: Trainer) -> None:
    from cxrgan.reporting.diagnose import diagnose_run
    from cxrgan.reporting.html_report import write_report

    t.run.log(diagnose_run(t.run.root).hint())
    write_report(t.run.root)
