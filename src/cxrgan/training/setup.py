"""Building a run's Trainer from its config: networks, optimisers, sampler and RNGs (the
TrainState), the loss and its phases, precision, and the callbacks around the step; on a
resume, the state from its checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from cxrgan.augment import build_augment
from cxrgan.config import TrainConfig
from cxrgan.data.cache import resolve_cache_dir
from cxrgan.data.folder import ImageSet, load_folder
from cxrgan.dp_settings import augment_options
from cxrgan.errors import CxrganError
from cxrgan.losses import LOSSES
from cxrgan.losses.base import GanLoss
from cxrgan.metrics.evaluate import QualityEvaluator
from cxrgan.models import ModelSpec, build_models
from cxrgan.reporting.plots import GRID_COLUMNS
from cxrgan.reporting.run_records import load_records
from cxrgan.training import callbacks as cb
from cxrgan.training import distributed as ddp
from cxrgan.training.checkpoint import Checkpoint
from cxrgan.training.classes import (
    check_resumed_classes,
    class_indices,
    set_class_mix,
    training_classes,
)
from cxrgan.training.device import precision
from cxrgan.training.ema import EMA, make_ema_copy
from cxrgan.training.loop import rate_scale
from cxrgan.training.private import PrivacyLedger, PrivateD, dp_compatible
from cxrgan.training.quality import ClassReference, QualityTracker
from cxrgan.training.rundir import RunDir
from cxrgan.training.sampler import BatchSampler, PoissonSampler
from cxrgan.training.state import TrainState
from cxrgan.training.step import bind_phases
from cxrgan.training.track import Track, tracker_names
from cxrgan.training.trainer import Trainer

FIXED_NOISE = 64  # images in each sample grid, as in the tutorial
R1_INTERVAL = 16  # lazy R1: one Dreg phase every this many steps (StyleGAN2's value)
DEVICE_SHARE = 0.5  # --data-on auto: the images go to the GPU when they take at most this share


def model_spec(cfg: TrainConfig, data: ImageSet | None = None) -> ModelSpec:
    classes = training_classes(data) if cfg.conditional and data is not None else ()
    return ModelSpec(
        cfg.model,
        z_dim=cfg.nz,
        resolution=cfg.image_size,
        c_dim=len(classes),
        kwargs={"ngf": cfg.ngf, "ndf": cfg.ndf},
        d_spectral_norm=cfg.d_spectral_norm,
        d_group_norm=cfg.dp_epsilon is not None,  # DP-SGD needs per-image gradients
        classes=classes,
    )


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
    if cfg.dp_epsilon is not None:  # Opacus's hooks on D (docs/privacy.md)
        d = dp_compatible(d, cfg.model)
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
    kind = BatchSampler if cfg.dp_epsilon is None else PoissonSampler  # DP: Poisson batches
    sampler = kind(images, labels, cfg.batch_size, cfg.seed, cfg.hflip, rank, world_size,
                   device=None if on_device else device)  # fmt: skip
    # Every rank draws the global batch's latents and keeps its slice (loop.next_batch), so the
    # latents, like the images, do not depend on the world size.
    noise_gen = torch.Generator(device).manual_seed(cfg.seed + 1)
    fixed_c = fixed_labels(spec.c_dim).to(device) if spec.c_dim else None
    n_fixed = FIXED_NOISE if fixed_c is None else len(fixed_c)
    fixed_z = g.sample_latents(n_fixed, generator=noise_gen, device=device)
    augment = build_augment(cfg.augment, **augment_options(cfg))  # DP: ADA at a fixed p
    if augment is not None:
        augment = augment.to(device)
    g_ema = make_ema_copy(g) if cfg.ema_kimg > 0 else None
    return TrainState(spec, g, d, opt_g, opt_d, sampler, noise_gen, fixed_z, fixed_c, g_ema=g_ema,
                      augment=augment)  # fmt: skip


def build_trainer(
    cfg: TrainConfig,
    run: RunDir | None,
    data: ImageSet,
    device: torch.device,
    checkpoint: Checkpoint | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Trainer:
    """The whole training setup from the config on `device` (device.resolve_device's answer;
    with several processes each takes its own GPU of that type); state from `checkpoint` when
    resuming."""
    if world_size > 1 and cfg.dp_epsilon is not None:
        raise CxrganError("--dp-epsilon trains in one process: run it without torchrun/--nproc")
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
    loss = _loss(cfg, state, device, world_size)
    nets = {"G": (state.g, state.opt_g), "D": (state.d, state.opt_d)}
    per_epoch = cfg.steps_per_epoch or max(1, len(data) // state.sampler.batch_size)
    phases = bind_phases(loss, nets)
    if world_size > 1:
        if state.sampler.batch_size % world_size:
            raise CxrganError(
                f"the data has {len(data)} images, fewer than --batch-size: the batch of "
                f"{state.sampler.batch_size} does not split over {world_size} processes"
            )
        if state.augment is not None:  # draws for the global batch, as one process
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
    _wire_callbacks(t, data, scalers)
    if cfg.dp_epsilon is not None:
        _make_private(t)
    if checkpoint is not None:
        _restore(t, checkpoint)
    set_class_mix(state, cfg, data)
    return t


def _loss(cfg: TrainConfig, state: TrainState, device: torch.device, world_size: int) -> GanLoss:
    """The loss runs the wrapped networks (DDP, then compile, as PyTorch advises); the state
    keeps the modules themselves (checkpoint keys, grids, EMA)."""
    g, d = state.g, state.d
    if world_size > 1:
        g = ddp.data_parallel(g, device)
        d = ddp.data_parallel(d, device, find_unused=cfg.r1_gamma > 0 and state.d.has_aux())
    if cfg.compile:
        g, d = torch.compile(g), torch.compile(d)
    return LOSSES.load(cfg.loss)(g, d, augment=state.augment,
                                 r1_gamma=cfg.r1_gamma, r1_interval=R1_INTERVAL)  # fmt: skip


def _make_private(t: Trainer) -> None:
    """D's main phase as DP-SGD over the run's budget of steps, and its accountant kept in
    checkpoints (cxrgan.training.private, docs/privacy.md)."""
    sampler = t.state.sampler
    if t.cfg.dp_delta >= 1 / len(sampler.images):  # δ ≥ 1/N allows releasing an image outright
        raise CxrganError(
            f"--dp-delta {t.cfg.dp_delta:g} must be below 1 / the {len(sampler.images)} "
            "training images (docs/privacy.md)"
        )
    t.private = PrivateD(t.state.d, t.state.opt_d, t.cfg, sampler.batch_size,
                         sampler.sample_rate, t.cfg.epochs * t.steps_per_epoch)  # fmt: skip
    next(b for b in t.phases if b.phase.name == "Dmain").private = t.private
    t.callbacks.append(PrivacyLedger(t.private))
    if t.run is not None:
        t.run.log(
            f"differential privacy: ε={t.cfg.dp_epsilon:g}, δ={t.cfg.dp_delta:g} over "
            f"{t.private.total_steps} steps, sample rate {sampler.sample_rate:.4g}, noise "
            f"multiplier {t.private.noise:.4g}, clip {t.cfg.dp_max_grad_norm:g}"
            + ("" if t.private.ada_p is None else f", ADA fixed at p={t.private.ada_p:g} "
               "(not adapted from real images: docs/privacy.md)")
        )  # fmt: skip


def _restore(t: Trainer, ckpt: Checkpoint) -> None:
    t.state.load_state_dict(ckpt)
    if t.run is not None:  # hints and plots see the whole run, not just this session
        t.records, t.eval_records = load_records(t.run.root)
    t.load_callback_states()
    # A resume may change the rates; --balance continues from the rate it had reached.
    balanced = any(isinstance(c, cb.Balance) and c.resumed for c in t.callbacks)
    # The saved rates include --lr-schedule's factor of the last step; the balanced G rate
    # continues without it (the next step applies the factor again).
    g_lr = t.cfg.g_lr
    if balanced:
        g_lr = t.state.rates()[0] / rate_scale(t, t.state.counters.elapsed_s)
    t.state.set_rates(g_lr, d_adam_settings(t.cfg)[0])


# ------------------------------------------------------------------------------------------------
# Callbacks


def _wire_callbacks(
    t: Trainer, data: ImageSet, scalers: dict[str, torch.amp.GradScaler] | None
) -> None:
    """The main process writes the run (every callback, the trackers); the others run only the
    callbacks that change training itself, so that every rank trains the same."""
    cfg = t.cfg
    if t.master_process:
        t.callbacks = _callbacks(cfg, t.run, data, t.state.spec)
        names = tracker_names(cfg)
        if names:  # after the grids, which they upload
            t.callbacks.insert(t.callbacks.index(_grids(t)) + 1, Track.open(t, names))
    elif cfg.balance == "auto":
        t.callbacks = [cb.Balance(cfg.g_lr)]
    if scalers:
        t.callbacks.insert(0, cb.GradScalers(scalers))


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
    real = data
    if cfg.eval_data:
        cache = resolve_cache_dir(cfg.cache_dir) if cfg.cache else None  # memory-mapped if big
        real = load_folder(Path(cfg.eval_data), cfg.image_size, cfg.fit, cfg.workers, cfg.progress,
                           cache_dir=cache, log=run.log)  # fmt: skip
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


def _grids(t: Trainer) -> cb.Callback:
    return next(c for c in t.callbacks if isinstance(c, cb.SampleGrids))
