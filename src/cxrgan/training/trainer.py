"""The training loop: everything it needs is passed in; side effects live in callbacks.

One loop for one process or many: `rank` and `world_size` are part of the design (a run under
torchrun has one process per rank, see cxrgan.training.distributed). Only the main process
(rank 0) runs the callbacks that write the run directory.
"""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cxrgan.augment import build_augment
from cxrgan.config import MAX_ROLLBACKS, TrainConfig
from cxrgan.data.folder import ImageSet
from cxrgan.errors import CxrganError
from cxrgan.losses import LOSSES
from cxrgan.losses.base import GanLoss, StepBatch
from cxrgan.models import ModelSpec, build_models
from cxrgan.reporting.plots import GRID_COLUMNS
from cxrgan.reporting.run_records import load_records
from cxrgan.training import callbacks as cb
from cxrgan.training import distributed as ddp
from cxrgan.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, saved_counters
from cxrgan.training.ema import EMA, make_ema_copy
from cxrgan.training.quality import QualityTracker
from cxrgan.training.rundir import RunDir
from cxrgan.training.sampler import BatchSampler
from cxrgan.training.state import TrainState
from cxrgan.training.step import BoundPhase, StepStats, bind_phases, train_step

FIXED_NOISE = 64  # images in each sample grid, as in the tutorial
REPEAT_S = 2.0  # multi-process: a second stop signal within this many seconds is the same stop
R1_INTERVAL = 16  # lazy R1: one Dreg phase every this many steps (StyleGAN2's value)
# Logged statistics that must stay finite; anything else means the run diverged.
GUARDED = ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")


@dataclass
class Trainer:
    cfg: TrainConfig
    device: torch.device
    state: TrainState
    loss: GanLoss
    phases: list[BoundPhase]
    steps_per_epoch: int
    run: RunDir | None  # None on processes other than the main one
    callbacks: list[cb.Callback] = field(default_factory=list)
    rank: int = 0
    world_size: int = 1
    ema: EMA | None = None  # how G_ema follows G, when the run keeps one
    tb: Any = None  # torch.utils.tensorboard.SummaryWriter with --tensorboard
    records: list[dict[str, Any]] = field(default_factory=list)  # the run's log records
    eval_records: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    stop_signal: str | None = None  # SIGINT or SIGTERM, when a signal interrupted training
    rollbacks: int = 0  # --on-nan rollback: rollbacks in this train or resume

    @property
    def master_process(self) -> bool:
        return self.rank == 0

    def emit(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            if self.master_process or not callback.main_only:
                getattr(callback, event)(self, *args)

    def request_stop(self, reason: str) -> None:
        self.stop_reason = reason

    def save(self, name: str) -> bool:
        """Write checkpoints/<name> with the state of every part, callbacks included; never
        non-finite weights (then nothing is written, the file there is kept, and False)."""
        if not self.master_process:
            return False
        bad = non_finite_weights(self.state)
        if bad is not None:
            self.run.log(f"warning: not saving checkpoints/{name}: {bad} holds NaN/inf")
            return False
        for callback in self.callbacks:
            if callback.name is not None:
                self.state.extras[callback.name] = callback.state()
        save_checkpoint(self.run.checkpoint(name), self.state.state_dict())
        return True


# ------------------------------------------------------------------------------------------------
# Building


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


def model_spec(cfg: TrainConfig, data: ImageSet | None = None) -> ModelSpec:
    classes = training_classes(data) if cfg.conditional and data is not None else ()
    return ModelSpec(
        cfg.model,
        z_dim=cfg.nz,
        resolution=cfg.image_size,
        c_dim=len(classes),
        kwargs={"ngf": cfg.ngf, "ndf": cfg.ndf},
        d_spectral_norm=cfg.d_spectral_norm,
        classes=classes,
    )


def training_classes(data: ImageSet) -> tuple[str, ...]:
    """--conditional: the classes are the data folder's subfolders; at least two, every image
    in one of them."""
    where = "the built-in demo data" if data.synthetic else str(data.root)
    loose = data.class_counts.get("", 0)
    if loose:
        raise CxrganError(
            f"--conditional: {loose} image(s) of {where} sit directly in the folder, in no class "
            f"subfolder; put every image in its class's subfolder (e.g. NORMAL/, PNEUMONIA/)"
        )
    if len(data.classes) < 2:
        found = f"one class ({data.classes[0]!r})" if data.classes else "no class subfolders"
        raise CxrganError(
            f"--conditional needs at least two classes, i.e. class subfolders such as NORMAL/ "
            f"and PNEUMONIA/; {where} has {found}"
        )
    return tuple(data.classes)


def check_resumed_classes(spec: ModelSpec, data: ImageSet) -> None:
    """A conditional checkpoint's class indices mean the classes it was trained on."""
    if spec.c_dim and tuple(data.classes) != spec.classes:
        raise CxrganError(
            f"this conditional run was trained on the classes {', '.join(spec.classes)}, but "
            f"the data now has {', '.join(c or '(no class)' for c in data.classes)}: resume "
            f"with the same class subfolders"
        )


def fake_class_probs(cfg: TrainConfig, spec: ModelSpec, data: ImageSet) -> torch.Tensor | None:
    """How often each class is drawn for generated images (--class-sampling); None when
    unconditional."""
    if not spec.c_dim:
        return None
    if cfg.class_sampling == "uniform":
        return torch.full((spec.c_dim,), 1.0 / spec.c_dim)
    counts = torch.bincount(torch.from_numpy(data.labels).long(), minlength=spec.c_dim)
    return counts.double().div(counts.sum()).float()


def fixed_labels(c_dim: int, total: int = FIXED_NOISE, columns: int = GRID_COLUMNS) -> torch.Tensor:
    """The sample grid's classes: one band of whole rows per class, in class order (at least
    one row each, so more than 8 classes make a grid of more than `total` images)."""
    rows = max(1, total // columns // c_dim)
    return torch.arange(c_dim).repeat_interleave(rows * columns)


def d_adam_settings(cfg: TrainConfig) -> tuple[float, tuple[float, float]]:
    """D's Adam rate and betas. With lazy R1, D's optimiser also steps after every Dreg phase,
    so its rate and betas are scaled by interval/(interval + 1), as in StyleGAN2."""
    ratio = R1_INTERVAL / (R1_INTERVAL + 1) if cfg.r1_gamma > 0 else 1.0
    return cfg.d_lr * ratio, (cfg.beta1**ratio, cfg.beta2**ratio)


DEVICE_SHARE = 0.5  # --data-on auto: the images go to the GPU when they take at most this share


def data_on_device(cfg: TrainConfig, data: ImageSet, device: torch.device) -> bool:
    """--data-on: whether the whole data set is copied to the device (else it stays in host
    memory and each step copies this rank's share). auto: when it fits in DEVICE_SHARE of the
    device's free memory; always on CPU, where host memory is the device's."""
    if cfg.data_on != "auto" or device.type != "cuda":
        return cfg.data_on != "host"
    free, _ = torch.cuda.mem_get_info(device)
    return data.images.nbytes <= DEVICE_SHARE * free


def build_state(
    cfg: TrainConfig, spec: ModelSpec, data: ImageSet, device: torch.device, rank: int = 0,
    world_size: int = 1,
) -> TrainState:  # fmt: skip
    """Fresh networks, optimisers, sampler and RNGs, all seeded from the config."""
    torch.manual_seed(cfg.seed)
    g, d = build_models(spec)
    if world_size > 1 and cfg.sync_bn:  # batch statistics over the global batch
        g, d = ddp.sync_batch_norm(g), ddp.sync_batch_norm(d)
    g = g.to(device, memory_format=torch.channels_last)
    d = d.to(device, memory_format=torch.channels_last)
    betas = (cfg.beta1, cfg.beta2)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.g_lr, betas=betas)
    d_lr, d_betas = d_adam_settings(cfg)
    opt_d = torch.optim.Adam(d.parameters(), lr=d_lr, betas=d_betas)
    images = torch.from_numpy(data.images)  # host memory: a memory-mapped cache, or decoded
    on_device = data_on_device(cfg, data, device)
    if on_device:
        images = images.to(device)
    labels = torch.from_numpy(data.labels).long()
    sampler = BatchSampler(images, labels, cfg.batch_size, cfg.seed, cfg.hflip, rank, world_size,
                           device=None if on_device else device)  # fmt: skip
    # Every rank draws the global batch's latents and keeps its slice (next_batch), so the
    # latents, like the images, do not depend on the world size.
    noise_gen = torch.Generator(device).manual_seed(cfg.seed + 1)
    fixed_c = fixed_labels(spec.c_dim).to(device) if spec.c_dim else None
    n_fixed = FIXED_NOISE if fixed_c is None else len(fixed_c)
    fixed_z = g.sample_latents(n_fixed, generator=noise_gen, device=device)
    augment = build_augment(cfg.augment)
    if augment is not None:
        augment = augment.to(device)
    g_ema = make_ema_copy(g) if cfg.ema_kimg > 0 else None
    return TrainState(spec, g, d, opt_g, opt_d, sampler, noise_gen, fixed_z, fixed_c, g_ema=g_ema,
                      augment=augment)  # fmt: skip


def set_class_mix(s: TrainState, cfg: TrainConfig, data: ImageSet) -> None:
    """A conditional G's `class_mix` (and G_ema's): what training draws fake labels from and the
    mix its generation batches are made up in. Set after a restore too, so that a resumed run
    follows the data it trains on."""
    probs = fake_class_probs(cfg, s.spec, data)
    for net in (s.g, s.g_ema):
        if probs is not None and net is not None:
            net.class_mix.copy_(probs)


def build_trainer(
    cfg: TrainConfig,
    run: RunDir | None,
    data: ImageSet,
    checkpoint: Checkpoint | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Trainer:
    """The whole training setup from the config; state from `checkpoint` when resuming."""
    device = resolve_device(cfg.device)
    if world_size > 1:
        # The process group is joined already (cxrgan.training.session), when there is one.
        device = ddp.rank_device(ddp.World(rank, world_size, ddp.from_env().local_rank), device)
        if cfg.batch_size % world_size:
            raise CxrganError(
                f"--batch-size {cfg.batch_size} is the global batch: it must be a multiple of "
                f"the {world_size} processes (e.g. "
                f"{max(1, cfg.batch_size // world_size) * world_size})"
            )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels once
    spec = checkpoint.model_spec() if checkpoint is not None else model_spec(cfg, data)
    check_resumed_classes(spec, data)
    state = build_state(cfg, spec, data, device, rank, world_size)
    # The loss runs the wrapped networks (DDP, then compile, as PyTorch advises); the state keeps
    # the modules themselves (checkpoint keys, grids, EMA).
    g, d = state.g, state.d
    if world_size > 1:
        g = ddp.data_parallel(g, device)
        d = ddp.data_parallel(d, device, find_unused=cfg.r1_gamma > 0 and state.d.has_aux())
    if cfg.compile:
        g, d = torch.compile(g), torch.compile(d)
    loss = LOSSES.load(cfg.loss)(g, d, augment=state.augment,
                                 r1_gamma=cfg.r1_gamma, r1_interval=R1_INTERVAL)  # fmt: skip
    nets = {"G": (state.g, state.opt_g), "D": (state.d, state.opt_d)}
    per_epoch = cfg.steps_per_epoch or max(1, len(data) // state.sampler.batch_size)
    phases = bind_phases(loss, nets)
    if world_size > 1:
        if state.sampler.batch_size % world_size:
            raise CxrganError(
                f"the data has {len(data)} images, fewer than --batch-size: the batch of "
                f"{state.sampler.batch_size} does not split over {world_size} processes"
            )
        if hasattr(state.augment, "set_share"):  # draws for the global batch, as one process
            state.augment.set_share(rank, world_size)
    autocast, scalers, note = precision(cfg, device)
    for bound in phases:
        bound.autocast = autocast
        bound.scaler = scalers and scalers[bound.phase.net]
    if note and run is not None:
        run.log(note)
    t = Trainer(cfg, device, state, loss, phases, per_epoch, run,
                rank=rank, world_size=world_size)  # fmt: skip
    t.ema = EMA(cfg.ema_kimg, cfg.ema_rampup or None) if cfg.ema_kimg > 0 else None
    if t.master_process:
        t.tb = _tensorboard(run) if cfg.tensorboard else None
        t.callbacks = _callbacks(cfg, run, data, spec)
    elif cfg.balance == "auto":
        t.callbacks = [cb.Balance(cfg.g_lr)]
    if scalers:
        t.callbacks.insert(0, cb.GradScalers(scalers))
    if checkpoint is not None:
        _restore(t, checkpoint)
    set_class_mix(state, cfg, data)
    return t


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX; Linux /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision(
    cfg: TrainConfig, device: torch.device
) -> tuple[tuple[str, torch.dtype] | None, dict[str, torch.amp.GradScaler] | None, str | None]:
    """--precision: autocast's (device type, dtype), fp16's gradient scalers per network, and a
    warning to log; clear errors where it cannot work."""
    if cfg.precision == "fp32":
        return None, None, None
    dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
    if device.type == "mps":
        raise CxrganError(f"--precision {cfg.precision} runs on CUDA (bf16 also on CPU), not MPS")
    note = None
    if device.type == "cpu":
        if cfg.precision == "fp16":
            raise CxrganError(
                "--precision fp16 needs a CUDA GPU; on CPU use bf16 (on CPUs with AVX-512 BF16 "
                "or AMX) or fp32"
            )
        if not cpu_has_bf16():
            note = (
                "warning: --precision bf16 on a CPU without AVX-512 BF16 or AMX: bf16 "
                "convolutions are emulated, about 20x slower than fp32 on an AVX2 CPU; use fp32"
            )
    elif cfg.precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise CxrganError("--precision bf16: this GPU has no bf16 (before Ampere); use fp16")
    scalers = None
    if cfg.precision == "fp16":
        scalers = {net: torch.amp.GradScaler(device.type) for net in ("G", "D")}
    return (device.type, dtype), scalers, note


def _callbacks(cfg: TrainConfig, run: RunDir, data: ImageSet, spec: ModelSpec) -> list[cb.Callback]:
    """In the order they run at each event (e.g. `best` is saved before `last`)."""
    callbacks: list[cb.Callback] = [cb.MetricsLog()]
    if cfg.balance == "auto":
        callbacks.append(cb.Balance(cfg.g_lr))
    callbacks += [cb.SampleGrids(), cb.LossPlot()]
    if cfg.eval_every:
        callbacks.append(cb.Quality(_quality_tracker(cfg, run, data, spec), cfg.eval_every,
                                    cfg.eval_unit))  # fmt: skip
    return [*callbacks, cb.Checkpoints(cfg.checkpoint_every), cb.EpochSummary(),
            cb.HintAndReport()]  # fmt: skip


def _quality_tracker(
    cfg: TrainConfig, run: RunDir, data: ImageSet, spec: ModelSpec
) -> QualityTracker:
    # deferred: the metrics stack is only needed with --eval-every
    from cxrgan.data.folder import load_folder
    from cxrgan.metrics.evaluate import QualityEvaluator
    from cxrgan.training.quality import ClassReference

    real = data
    if cfg.eval_data:
        real = load_folder(Path(cfg.eval_data), cfg.image_size, cfg.fit, cfg.workers, cfg.progress)
    n = min(cfg.eval_n, len(real))
    start = time.perf_counter()
    evaluator = QualityEvaluator(real.images, n=n, seed=cfg.seed)
    classes = None
    if spec.c_dim:
        classes = ClassReference.build(real.images, class_indices(real, spec.classes),
                                       spec.classes, n, cfg.seed)  # fmt: skip
    per_class = " (and per class)" if classes is not None else ""
    run.log(
        f"quality: FWD/KID{per_class} on {n} images every {cfg.eval_every} {cfg.eval_unit}(s); "
        f"real-side statistics computed once in {time.perf_counter() - start:.1f}s"
    )
    return QualityTracker(evaluator, cfg.seed, cfg.early_stop_patience, cfg.early_stop_min_delta,
                          classes=classes)  # fmt: skip


def class_indices(data: ImageSet, classes: tuple[str, ...]) -> np.ndarray:
    """Each image's index among a model's `classes` (matched by name), -1 for other classes."""
    index = {name: classes.index(name) if name in classes else -1 for name in data.classes}
    return np.array([index[data.classes[i]] for i in data.labels], dtype=np.int64)


def _tensorboard(run: RunDir) -> Any:
    try:  # an optional dependency, imported only when asked for
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise CxrganError(
            "--tensorboard needs the tensorboard package: pip install 'cxrgan[tensorboard]'"
        ) from None
    return SummaryWriter(log_dir=str(run.root / "tb"))


def _restore(t: Trainer, ckpt: Checkpoint) -> None:
    t.state.load_state_dict(ckpt)
    if t.run is not None:  # hints and plots see the whole run, not just this session
        t.records, t.eval_records = load_records(t.run.root)
    balanced = False
    for callback in t.callbacks:
        if callback.name is not None:
            callback.load_state(t, t.state.extras.get(callback.name) or {})
            balanced |= isinstance(callback, cb.Balance) and callback.resumed
    # A resume may change the rates; --balance continues from the rate it had reached.
    if not balanced:
        for group in t.state.opt_g.param_groups:
            group["lr"] = t.cfg.g_lr
    for group in t.state.opt_d.param_groups:
        group["lr"] = d_adam_settings(t.cfg)[0]


# ------------------------------------------------------------------------------------------------
# Training


class StopFlag:
    """The first Ctrl-C (SIGINT) or SIGTERM (kill, a scheduler's preemption) asks the loop to
    stop after the current step; a second one aborts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, distributed: bool = False) -> None:
        self.requested = False  # the loop stops after this step (on every rank, when several)
        self.signal: str | None = None  # the name of the signal that asked
        self._previous: dict[int, Any] = {}
        # Multi-process: a signal only marks this rank as asking (`asked`); `agree` makes the
        # stop every rank's at the same step. The same stop may arrive twice within moments
        # (Ctrl-C reaches every process of the terminal and torchrun forwards it too): only a
        # later one aborts.
        self.distributed = distributed
        self.asked = False
        self._at = 0.0

    def __enter__(self) -> StopFlag:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.asked:
            if self.distributed and time.monotonic() - self._at < REPEAT_S:
                return
            raise KeyboardInterrupt
        self.asked, self._at = True, time.monotonic()
        self.signal = signal.Signals(signum).name
        if not self.distributed:
            self.requested = True

    CODES = (None, "SIGINT", "SIGTERM")

    def agree(self, t: Trainer, out_of_time: bool) -> bool:
        """Multi-process: a stop asked on any rank (and by which signal) holds on every rank from
        this step, as does a time budget spent on any; returns whether the budget is spent."""
        if not self.distributed:
            return out_of_time
        mine = self.CODES.index(self.signal) if self.asked else 0
        code, spent = ddp.max_flags([mine, int(out_of_time)], t.device)
        if code:
            if not self.asked:
                self.asked, self._at = True, time.monotonic()
            self.requested, self.signal = True, self.CODES[code]
        return bool(spent)


def _agree_stop(t: Trainer) -> None:
    """Multi-process: a stop decided on rank 0 (early stopping, its callbacks) holds on all."""
    if t.world_size > 1 and ddp.max_flags([int(t.stop_reason is not None)], t.device)[0]:
        t.stop_reason = ddp.from_main(t.stop_reason) or t.stop_reason


def train(t: Trainer) -> str:
    """Train until `cfg.epochs`, an early stop, divergence, Ctrl-C or SIGTERM; returns why it
    stopped (t.stop_signal names the signal of an interruption)."""
    try:
        with StopFlag(distributed=t.world_size > 1) as stop:
            _save_start(t)
            while t.state.counters.epoch < t.cfg.epochs and t.stop_reason is None:
                means = _run_epoch(t, stop)
                if means is not None:
                    _end_epoch(t, means)
                    _agree_stop(t)
                    continue
                if stop.requested:
                    t.stop_reason, t.stop_signal = "interrupted", stop.signal
                if t.stop_reason is None:
                    continue  # rolled back after a NaN: train on from the restored step
                t.emit("on_stop", t.stop_reason)
    finally:
        t.emit("on_close")
    return t.stop_reason or "completed"


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
            stats = train_step(t.loss, t.phases, next_batch(s, t.device), c.step)
            if t.ema is not None:
                t.ema.update(s.g_ema, s.g, s.sampler.batch_size, c.step * s.sampler.batch_size)
            window.add(stats)
            epoch_stats.add(stats)
            c.step += 1
            c.step_in_epoch += 1
            images += s.sampler.batch_size
            bar.update(1)
            spent = c.elapsed_s + time.perf_counter() - last_time - side_s
            out_of_time = stop.agree(t, spent >= budget_s)
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
                problem = _non_finite(t, record, weights=ends)
                if t.world_size > 1 and ddp.max_flags([int(problem is not None)], t.device)[0]:
                    problem = ddp.from_main(problem) or problem or f"non-finite at step {c.step}"
                if problem is not None:
                    _diverged(t, problem)
                    return None
            if stop.requested:
                return None
            if out_of_time:
                t.stop_reason = f"budget: {cfg.minutes:g} minutes of training time reached"
                return None
            started = time.perf_counter()
            t.emit("on_step_end")
            _agree_stop(t)
            side_s += time.perf_counter() - started
            if t.stop_reason:
                return None
    return ddp.mean_stats(epoch_stats.pop_means(), t.device)


def next_batch(s: TrainState, device: torch.device) -> StepBatch:
    """This rank's real images of the next step, with the latents (and labels) of its fakes:
    its slice of the global batch's latents, which every rank draws."""
    real, real_c = s.sampler.next()
    z = s.g.sample_latents(s.sampler.batch_size, generator=s.noise_gen, device=device)
    c = None
    if s.spec.c_dim:  # the generated images' classes (--class-sampling)
        c = torch.multinomial(s.g.class_mix, s.sampler.batch_size, replacement=True,
                              generator=s.noise_gen)  # fmt: skip
    if len(real) != len(z):
        share = slice(s.sampler.rank * len(real), (s.sampler.rank + 1) * len(real))
        z, c = z[share], None if c is None else c[share]
    return StepBatch(real, real_c if s.spec.c_dim else None, z, c)


def non_finite_weights(s: TrainState) -> str | None:
    """The first tensor of G, D or G_ema (weights and buffers) holding NaN or inf, by name."""
    nets = {"G": s.g, "D": s.d, "G_ema": s.g_ema}
    named = [
        (f"{prefix}.{name}", tensor)
        for prefix, net in nets.items()
        if net is not None
        for name, tensor in net.state_dict().items()
        if tensor.is_floating_point()
    ]
    if not named:
        return None
    finite = torch.stack([torch.isfinite(tensor).all() for _, tensor in named])
    if bool(finite.all()):  # one device sync for all tensors
        return None
    return named[int((~finite).nonzero()[0])][0]


def _non_finite(t: Trainer, record: dict[str, Any], weights: bool) -> str | None:
    """Why the run diverged at this log record, else None: a NaN/inf statistic, or with
    `weights` (before the checkpoint that ends an epoch or a stop) a NaN/inf weight. Weights
    that turn NaN mid-epoch show as NaN losses at the next step, so the records show it too."""
    step = t.state.counters.step
    bad = [k for k in GUARDED if k in record and not math.isfinite(record[k])]
    if bad:
        return f"non-finite loss at step {step}"
    weight = non_finite_weights(t.state) if weights else None
    if weight is not None:
        return f"non-finite weights at step {step} ({weight})"
    return None


def _diverged(t: Trainer, why: str) -> None:
    """Roll back (--on-nan rollback, while rollbacks remain) or stop with the reason."""
    if _rollback(t, why):
        return
    c = t.state.counters
    tried = f" after {t.rollbacks} rollback(s)" if t.rollbacks else ""
    t.stop_reason = f"diverged: {why}{tried}"
    if t.run is not None:
        saved = saved_counters(t.run.checkpoint("last"))
        lower = 2 ** (t.rollbacks + 1)  # below the rates the rollbacks already tried
        kept = (
            f"checkpoints/last keeps step {saved['step']} (epoch {saved['epoch']}), the last "
            f"finite state: resume from it with lower learning rates, e.g. --resume "
            f"{t.run.root} --g-lr {t.cfg.g_lr / lower:.3g} --d-lr {t.cfg.d_lr / lower:.3g}"
            if saved
            else "no checkpoint was written"
        )
        t.run.log(f"warning: {t.stop_reason} (now at step {c.step}); stopping. {kept}")


def _rollback(t: Trainer, why: str) -> bool:
    """--on-nan rollback: reload checkpoints/last (never written with NaN/inf weights), halve
    both learning rates and train on; False when the policy is stop, the rollbacks are used up
    or there is no finite checkpoint. Each rollback is an event record in metrics.jsonl. With
    several processes every rank reloads rank 0's checkpoint at the same step (they all see
    the divergence together), so they stay in step."""
    if t.cfg.on_nan != "rollback" or t.rollbacks >= MAX_ROLLBACKS:
        return False
    ckpt = _finite_last(t) if t.master_process else None
    if t.world_size > 1:
        ckpt = ddp.from_main_checkpoint(ckpt)
    if ckpt is None:
        return False
    s, diverged_at = t.state, t.state.counters.step
    lr_g, lr_d = (opt.param_groups[0]["lr"] / 2 for opt in (s.opt_g, s.opt_d))
    elapsed = s.counters.elapsed_s  # training time spent is spent, rolled back or not
    s.load_state_dict(ckpt)
    c = s.counters
    c.elapsed_s = elapsed
    t.rollbacks += 1
    # What comes after the restored step is trained again: one record per step.
    t.records = [r for r in t.records if r.get("step", 0) <= c.step]
    t.eval_records = [r for r in t.eval_records if r.get("step", 0) <= c.step]
    for callback in t.callbacks:
        if callback.name is not None:
            callback.load_state(t, s.extras.get(callback.name) or {})
    for opt, lr in ((s.opt_g, lr_g), (s.opt_d, lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr
    if t.run is None:  # ranks other than 0 write nothing
        return True
    t.run.truncate_metrics(c.step)
    t.run.append_metrics({"step": c.step, "epoch": c.epoch + 1, "event": "rollback",
                          "diverged_step": diverged_at, "reason": why, "lr_g": lr_g,
                          "lr_d": lr_d, "rollback": t.rollbacks,
                          "max_rollbacks": MAX_ROLLBACKS})  # fmt: skip
    t.run.log(
        f"warning: {why}; rolled back to checkpoints/last (step {c.step}) with both learning "
        f"rates halved (lr_G {lr_g:.3g}, lr_D {lr_d:.3g}); rollback {t.rollbacks} of "
        f"{MAX_ROLLBACKS} (--on-nan stop ends the run instead)"
    )
    return True


def _finite_last(t: Trainer) -> Checkpoint | None:
    """checkpoints/last, when it loads and holds finite weights (rank 0)."""
    try:
        ckpt = load_checkpoint(t.run.checkpoint("last"))
    except CxrganError as exc:
        t.run.log(f"warning: cannot roll back: {exc}")
        return None
    return ckpt if ckpt.non_finite("G", "D", "G_ema") is None else None


def _log_record(t: Trainer, means: dict[str, float], rate: float) -> dict[str, Any]:
    c, s = t.state.counters, t.state
    record = {
        "step": c.step,
        "epoch": c.epoch + 1,
        **means,
        "lr_g": s.opt_g.param_groups[0]["lr"],
        "lr_d": s.opt_d.param_groups[0]["lr"],
        "images_per_s": round(rate, 2),
        "elapsed_s": round(c.elapsed_s, 3),
    }
    if hasattr(s.augment, "p"):  # an adaptive augmentation's current strength
        record["augment_p"] = round(float(s.augment.p), 6)
    return record


def _postfix(r: dict[str, Any]) -> str:
    return (
        f"Loss_D={r['loss_d']:.3f} Loss_G={r['loss_g']:.3f} D(x)={r['d_x']:.3f} "
        f"D(G(z))={r['d_g_z1']:.3f}/{r['d_g_z2']:.3f} {r['images_per_s']:.0f} img/s"
    )
