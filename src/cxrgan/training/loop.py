"""The training loop: epochs of steps until the epochs are done or something stops it.

Everything it needs is in the Trainer (cxrgan.training.setup builds it); what happens around
the step (logs, grids, checkpoints, evaluation) lives in callbacks, and what stops or rescues a
run (signals, NaN, rollback) in cxrgan.training.faults. Every rank runs the same loop.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import torch
from tqdm import tqdm

from cxrgan.losses.base import StepBatch
from cxrgan.schedule import budget_progress, hold_share, rate_factor
from cxrgan.training import distributed as ddp
from cxrgan.training.checkpoint import saved_counters
from cxrgan.training.faults import StopFlag, agree_stop, divergence, roll_back_or_stop
from cxrgan.training.state import TrainState
from cxrgan.training.step import StepStats, train_step
from cxrgan.training.trainer import Trainer


def train(t: Trainer, stop: StopFlag | None = None) -> str:
    """Train until `cfg.epochs`, an early stop, divergence, Ctrl-C or SIGTERM; returns why it
    stopped (t.stop_signal names the signal of an interruption). `stop`: the caller's signal
    handling, held beyond the loop until the caller has recorded the stop (else the loop's own).
    """
    with contextlib.ExitStack() as held:
        if stop is None:
            stop = held.enter_context(StopFlag(distributed=t.world_size > 1))
        try:
            _train_epochs(t, stop)
        finally:
            stop.settle()
            t.emit("on_close")
    return t.stop_reason or "completed"


def _train_epochs(t: Trainer, stop: StopFlag) -> None:
    _save_start(t)
    while t.state.counters.epoch < t.cfg.epochs and t.stop_reason is None:
        means = _run_epoch(t, stop)
        if means is not None:
            _end_epoch(t, means)
            agree_stop(t)
            continue
        if stop.requested:
            t.stop_reason, t.stop_signal = "interrupted", stop.signal
        if t.stop_reason is None:
            continue  # rolled back after a NaN: train on from the restored step
        stop.settle()  # `last` is saved next: no signal may cut that short
        t.emit("on_stop", t.stop_reason)


def _save_start(t: Trainer) -> None:
    """checkpoints/last holds the state training starts from, before the first step: a run
    killed or diverged before its first epoch ends can be resumed (or rolled back), and a resume
    from `best` or `epoch_N` rolls back to where it started, not to a later `last`. Saving reads
    the RNG states without drawing, so the training maths is unchanged."""
    if not t.master_process:
        return
    saved = saved_counters(t.run.checkpoint("last")) or {}
    if saved.get("step") != t.state.counters.step:
        t.save("last")


def _end_epoch(t: Trainer, means: dict[str, float]) -> None:
    c = t.state.counters
    c.epoch += 1
    c.step_in_epoch = 0
    t.emit("on_epoch_end", means)


def _run_epoch(t: Trainer, stop: StopFlag) -> dict[str, float] | None:
    """Train the rest of the current epoch; its mean statistics, or None when stopped part-way."""
    s, cfg = t.state, t.cfg
    c = s.counters
    window, epoch_stats = StepStats(), StepStats()
    bar = tqdm(
        total=t.steps_per_epoch,
        initial=c.step_in_epoch,
        desc=f"epoch {c.epoch + 1}/{cfg.epochs}",
        unit="step",
        disable=not (cfg.progress and t.master_process),
        leave=False,
        dynamic_ncols=True,
    )
    s.g.train()
    s.d.train()
    last_time, images, side_s = time.perf_counter(), 0, 0.0
    budget_s = cfg.minutes * 60 if cfg.minutes else math.inf
    with bar:
        while c.step_in_epoch < t.steps_per_epoch:
            if t.private is not None and t.private.exhausted():
                t.stop_reason = f"budget: the privacy budget ε={cfg.dp_epsilon:g} is spent"
                return None
            s.set_scale(rate_scale(t, c.elapsed_s if t.spent_s is None else t.spent_s))
            stats = train_step(t.loss, t.phases, next_batch(s, t.device), c.step)
            if t.ema is not None:
                t.ema.update(s.g_ema, s.g, s.sampler.batch_size, s.images_seen)
            window.add(stats)
            epoch_stats.add(stats)
            c.step += 1
            c.step_in_epoch += 1
            images += s.sampler.batch_size
            bar.update(1)
            spent = c.elapsed_s + time.perf_counter() - last_time - side_s
            out_of_time, t.spent_s = stop.agree(t, spent, budget_s)
            due = c.step % cfg.log_every == 0 or c.step_in_epoch == t.steps_per_epoch
            if due or stop.requested or out_of_time:
                now = time.perf_counter()
                c.elapsed_s += now - last_time - side_s  # evaluation time is not training time
                means = ddp.mean_stats(window.pop_means(), t.device)  # over all ranks
                record = _log_record(t, means, images / max(now - last_time, 1e-9))
                t.emit("on_log", record)
                bar.set_postfix_str(_postfix(record), refresh=False)
                last_time, images, side_s = time.perf_counter(), 0, 0.0
                ends = c.step_in_epoch == t.steps_per_epoch or stop.requested or out_of_time
                problem = divergence(t, record, weights=ends)
                if problem is not None:
                    roll_back_or_stop(t, problem)
                    return None
            if stop.requested:
                return None
            if out_of_time:
                t.stop_reason = f"budget: {cfg.minutes:g} minutes of training time reached"
                return None
            started = time.perf_counter()
            t.emit("on_step_end")
            agree_stop(t)
            side_s += time.perf_counter() - started
            if t.stop_reason:
                return None
    return ddp.mean_stats(epoch_stats.pop_means(), t.device)


def rate_scale(t: Trainer, spent_s: float) -> float:
    """--lr-schedule's factor on the rates for the next step: how far the run is through its
    budget (its steps, `--epochs` × steps per epoch, or its `--minutes`, whichever ends first),
    after --lr-hold-kimg images at the full rates."""
    cfg = t.cfg
    if cfg.lr_schedule == "constant":
        return 1.0
    budget_s = cfg.minutes * 60 if cfg.minutes else None
    total = cfg.epochs * t.steps_per_epoch
    progress = budget_progress(t.state.counters.step, total, spent_s, budget_s)
    start = hold_share(progress, t.state.images_seen, cfg.lr_hold_kimg * 1000)
    return rate_factor(cfg.lr_schedule, progress, cfg.lr_floor, start)


def next_batch(s: TrainState, device: torch.device) -> StepBatch:
    """This rank's real images of the next step, with the latents (and labels) of its fakes:
    its slice of the global batch's latents, which every rank draws."""
    real, real_c = s.sampler.next()
    z = s.g.sample_latents(s.sampler.batch_size, generator=s.noise_gen, device=device)
    c = None
    if s.spec.c_dim:  # the generated images' classes (--class-sampling)
        c = torch.multinomial(s.g.class_mix, s.sampler.batch_size, replacement=True,
                              generator=s.noise_gen)  # fmt: skip
    if s.sampler.world_size > 1:
        share = slice(s.sampler.rank * len(real), (s.sampler.rank + 1) * len(real))
        z, c = z[share], None if c is None else c[share]
    return StepBatch(real, real_c if s.spec.c_dim else None, z, c)


def _log_record(t: Trainer, means: dict[str, float], rate: float) -> dict[str, Any]:
    c, s = t.state.counters, t.state
    lr_g, lr_d = s.applied_rates()  # what the optimisers ran, --lr-schedule's factor included
    record = {
        "step": c.step,
        "epoch": c.epoch + 1,
        **means,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "images_per_s": round(rate, 2),
        "elapsed_s": round(c.elapsed_s, 3),
    }
    if t.cfg.lr_schedule != "constant":
        record["lr_scale"] = round(s.lr_scale, 6)
    if t.private is not None:  # --dp-epsilon: the privacy spent so far
        record["dp_epsilon"] = round(t.private.epsilon(), 6)
    p = s.augment.p if s.augment is not None else None
    if p is not None:  # an adaptive augmentation's current strength
        record["augment_p"] = round(p, 6)
    return record


def _postfix(r: dict[str, Any]) -> str:
    return (
        f"Loss_D={r['loss_d']:.3f} Loss_G={r['loss_g']:.3f} D(x)={r.get('d_x', math.nan):.3f} "
        f"D(G(z))={r['d_g_z1']:.3f}/{r['d_g_z2']:.3f} {r['images_per_s']:.0f} img/s"
    ) + (f" ε={r['dp_epsilon']:.3f}" if "dp_epsilon" in r else "")
