"""Start or resume a run: load data, write config.json, train, record why it stopped.

A training holds the run directory's lock from before it reads anything there until it has
recorded why it stopped; writes that fail for want of space or permission end it with one
line naming the path and the free space (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from cxrgan import __version__
from cxrgan.config import RESUMABLE, SETTINGS, TrainConfig
from cxrgan.data.folder import ImageSet
from cxrgan.data.source import dataset_summary
from cxrgan.errors import CxrganError
from cxrgan.files import check_writable, is_write_error, write_error_message
from cxrgan.recipes import RECIPES
from cxrgan.reporting.html_report import write_report
from cxrgan.tracking.base import check_installed
from cxrgan.training import distributed as ddp
from cxrgan.training.checkpoint import Checkpoint, choose_hint, load_checkpoint, saved_counters
from cxrgan.training.checkpoint_schema import RESUME_KEYS
from cxrgan.training.classes import small_class_warnings, training_classes
from cxrgan.training.device import precision, resolve_device
from cxrgan.training.faults import StopFlag
from cxrgan.training.loop import train
from cxrgan.training.run_data import load_data, log_data, save_real_grid
from cxrgan.training.rundir import RunDir, default_run_path, now_iso
from cxrgan.training.setup import build_trainer
from cxrgan.training.track import tracker_names


def start_run(cfg: TrainConfig) -> RunDir:
    world = ddp.from_env()
    if world.distributed:  # under torchrun: rank 0 prepares and writes the run, the others follow
        ddp.init(world)
        if world.rank != 0:
            return _follow(world)
    with ddp.leading(world):
        return _start_run(cfg)


def _start_run(cfg: TrainConfig) -> RunDir:
    cfg.validate()
    check_installed(tracker_names(cfg))  # a missing extra before anything is written
    device = resolve_device(cfg.device)
    precision(cfg, device)  # an impossible --precision before anything is written
    out = Path(cfg.out) if cfg.out else default_run_path()
    check_writable(out, "--out")  # before minutes of decoding, not after
    notes: list[str] = []  # cache messages, printed now and logged once the run folder exists
    # Data before the folder: bad data leaves nothing behind.
    data = load_data(cfg, log=lambda m: (print(m), notes.append(m)))
    if cfg.conditional:
        training_classes(data)  # classes the run cannot train on: an error, nothing written
    with _write_errors(out, None):
        run = RunDir.create(out)
    try:
        with _write_errors(out, run):
            return _start(cfg, run, data, device, notes)
    finally:
        run.unlock()


def _start(
    cfg: TrainConfig, run: RunDir, data: ImageSet, device: torch.device, notes: list[str]
) -> RunDir:
    for note in notes:
        run.log(note, echo=False)
    for warning in small_class_warnings(data) if cfg.conditional else []:
        run.log(warning)
    # Absolute paths, so a resume from another folder finds the same data.
    cfg = cfg.replace(out=str(run.root.resolve()), data=data.root and str(data.root))
    log_data(run, data)
    start = {"time": now_iso(), "event": "start", "epoch": 0, "step": 0, "changes": {}}
    info = {
        "cxrgan_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "config": cfg.to_dict(),
        "recipe": recipe_record(cfg),
        "dataset": dataset_summary(data),
        "history": [{**start, **_processes()}],
    }
    run.write_config(info)
    save_real_grid(run, data, cfg.seed)
    run.log(f"run directory: {run.root}  device: {device}  model: {cfg.model} {cfg.image_size}px")
    return _train(cfg, run, data, device, info, None)


def resume_run(path: Path, overrides: dict[str, Any], checkpoint: str = "last") -> RunDir:
    """Continue the run at `path` in place from checkpoints/<checkpoint> (last, best,
    epoch_NNNN), with the resumable settings in `overrides` changed."""
    world = ddp.from_env()
    if world.distributed:
        ddp.init(world)
        if world.rank != 0:
            return _follow(world)
    with ddp.leading(world):
        return _resume_run(path, overrides, checkpoint)


def _resume_run(path: Path, overrides: dict[str, Any], checkpoint: str) -> RunDir:
    run = RunDir.open(path)
    run.lock()  # before reading anything: a second training of this run stops here
    try:
        with _write_errors(run.root, run):
            return _resume(run, overrides, checkpoint)
    finally:
        run.unlock()


def _resume(run: RunDir, overrides: dict[str, Any], name: str) -> RunDir:
    path = run.root
    check_writable(run.root, "the run folder")
    info = run.read_config()
    old = TrainConfig.from_dict(info["config"])
    # Settings not declared resumable are fixed by the checkpoint; giving the same value is fine.
    fixed = [
        s.flag
        for s in SETTINGS
        if s.name in overrides and not s.resumable and overrides[s.name] != getattr(old, s.name)
    ]
    if fixed:
        names = ", ".join(fixed)
        raise CxrganError(f"{names} cannot change on --resume (they are fixed by the checkpoint)")
    cfg = old.replace(**{k: v for k, v in overrides.items() if k in RESUMABLE}).validate()
    check_installed(tracker_names(cfg))
    device = resolve_device(cfg.device)  # once: config.json and the trainer use this one
    precision(cfg, device)
    ckpt = _resume_checkpoint(run, name)
    c = ckpt.meta["state"]["counters"] if ckpt is not None else {"epoch": 0, "step": 0}
    done = c["epoch"]
    if done >= cfg.epochs:
        raise CxrganError(
            f"{path} has already trained {done} epoch(s)"
            f"{'' if name == 'last' else f' in checkpoints/{name}'}; "
            f"pass --epochs N with N > {done} to continue"
        )
    dropped = run.truncate_metrics(c["step"])
    if dropped:
        run.log(
            f"metrics.jsonl: dropped {dropped} line(s) after step {c['step']} (or torn), which "
            f"this resume trains again"
        )
    data = load_data(cfg, log=run.log)
    log_data(run, data)
    _check_epoch_fits(cfg, data, c, info["dataset"].get("count"))
    if data.fingerprint != info["dataset"]["fingerprint"]:
        run.log(f"warning: the data's file list changed since the run started ({cfg.data})")
    changes = {  # in declaration order, so config.json's history reads the same every time
        s.name: [getattr(old, s.name), getattr(cfg, s.name)]
        for s in SETTINGS
        if s.resumable and getattr(old, s.name) != getattr(cfg, s.name)
    }
    event = {
        "time": now_iso(),
        "event": "resume",
        "epoch": c["epoch"],
        "step": c["step"],
        "changes": changes,
        # Running again: the previous stop moves into the history.
        "previous_stop": (info.pop("stopped", None) or {}).get("reason"),
        **_processes(),
    }
    if name != "last" or ckpt is None:
        event["checkpoint"] = name if ckpt is not None else None
    info["history"].append(event)
    info["config"] = cfg.to_dict()
    info["device"] = str(device)
    run.write_config(info)
    described = ", ".join(f"{k} {a} → {b}" for k, (a, b) in changes.items()) or "no changes"
    source = "no checkpoint: starting again from step 0" if ckpt is None else f"checkpoints/{name}"
    run.log(
        f"resuming {run.root} at epoch {c['epoch']}, step {c['step']} from {source} ({described})"
    )
    return _train(cfg, run, data, device, info, ckpt, restart_last=name != "last")


def _resume_checkpoint(run: RunDir, name: str) -> Checkpoint | None:
    """The checkpoint to resume from, verified; None for a run that never wrote one (killed
    before its first checkpoint: it starts again from its config)."""
    if name == "last" and not run.checkpoint_names():
        run.log(
            f"warning: {run.checkpoints} holds no checkpoint (the run stopped before writing "
            "one): starting it again from step 0 with its settings"
        )
        return None
    ckpt = load_checkpoint(run.checkpoint(name), require=RESUME_KEYS)
    bad = ckpt.non_finite("G", "D", "G_ema")
    if bad is not None:
        raise CxrganError(
            f"checkpoints/{name} holds NaN/inf weights ({bad}): resume from a finite one; "
            f"{choose_hint(run.checkpoint(name))}"
        )
    return ckpt


def _check_epoch_fits(
    cfg: TrainConfig, data: ImageSet, counters: dict[str, Any], count: Any
) -> None:  # fmt: skip
    """With fewer images, an epoch of one pass may now end before the step the checkpoint
    stopped at inside it; the sampler's pass is redrawn for the new size (see BatchSampler)."""
    per_epoch = cfg.steps_per_epoch or max(1, len(data) // min(cfg.batch_size, len(data)))
    if counters.get("step_in_epoch", 0) >= per_epoch:
        raise CxrganError(
            f"the data now has {len(data)} images (the run started with {count}): an epoch is "
            f"{per_epoch} step(s), but the checkpoint is at step {counters['step_in_epoch']} of "
            f"its epoch; pass --steps-per-epoch N with N > {counters['step_in_epoch']}, or "
            "restore the images"
        )


def _train(
    cfg: TrainConfig,
    run: RunDir,
    data: ImageSet,
    device: torch.device,
    info: dict,
    ckpt: Checkpoint | None,
    restart_last: bool = False,
) -> RunDir:
    """Train and record why it stopped. restart_last: `last` is rewritten from `ckpt` before the
    first step (a resume from best or epoch_N), so a rollback returns to where this started."""
    for leftover in run.remove_leftovers():
        run.log(f"removed {leftover.relative_to(run.root)}: left by a write that was killed")
    world = ddp.from_env()
    ddp.hand_over(cfg.to_dict(), ckpt)  # the other ranks train the same from here
    if world.distributed:
        share = cfg.batch_size // world.world_size
        run.log(
            f"training with {world.world_size} processes; each draws {share} of every batch "
            f"of {cfg.batch_size}"
        )
    trainer = build_trainer(cfg, run, data, device, ckpt, world.rank, world.world_size)
    if restart_last:
        trainer.save("last")
    resized = trainer.state.sampler.resized_from
    if resized is not None:
        run.log(
            f"warning: the checkpoint drew its pass over {resized} images and the data now has "
            f"{len(data)}: a new pass over the {len(data)} images starts here (the run is no "
            "longer the one an unchanged resume would reproduce)"
        )
    # Signals stay held until the run is wrapped up: a second SIGTERM while `last`, the stop
    # and the report are written changes nothing (docs/reliability.md).
    with StopFlag(distributed=world.distributed) as stop:
        try:
            reason = train(trainer, stop)
        except BaseException as exc:
            if is_write_error(exc):  # the last word in config.json, if the disk still takes it
                _record_stop(run, info, trainer, f"failed: {write_error_message(exc)}")
            raise
        _record_stop(run, info, trainer, reason)
        c = trainer.state.counters
        write_report(run.root)  # the last per-epoch refresh still said "in progress"
        by = f" by {trainer.stop_signal}" if trainer.stop_signal else ""
        run.log(f"{reason}{by}: {c.epoch} epoch(s), {c.step} steps; samples in {run.samples}")
    return run


def _processes() -> dict[str, int]:
    """For config.json's history: the number of processes, when more than one."""
    world = ddp.from_env()
    return {"processes": world.world_size} if world.distributed else {}


class Followed:
    """What a rank other than 0 returns: why training stopped, as rank 0 records it."""

    def __init__(self, stopped: dict[str, Any]):
        self.stopped = stopped


def _follow(world: ddp.World) -> Followed:
    """A rank other than 0: wait for rank 0's config and checkpoint, load the same data and
    train its share, writing nothing."""
    values, ckpt = ddp.receive()
    cfg = TrainConfig.from_dict(values)
    data = load_data(cfg)
    device = resolve_device(cfg.device)
    trainer = build_trainer(cfg, None, data, device, ckpt, world.rank, world.world_size)
    reason = train(trainer)
    stopped: dict[str, Any] = {"reason": reason}
    if trainer.stop_signal and reason == "interrupted":
        stopped["signal"] = trainer.stop_signal
    return Followed(stopped)


def _record_stop(run: RunDir, info: dict, trainer: Any, reason: str) -> None:
    c = trainer.state.counters
    stopped = {"reason": reason, "epoch": c.epoch, "step": c.step, "time": now_iso()}
    if trainer.stop_signal and reason == "interrupted":
        stopped["signal"] = trainer.stop_signal
    if trainer.rollbacks:
        stopped["rollbacks"] = trainer.rollbacks
    if getattr(trainer, "private", None) is not None:  # --dp-epsilon: the privacy spent
        stopped["privacy"] = trainer.private.summary()
    info["stopped"] = run.stopped = stopped
    try:
        run.write_config(info)
    except OSError:
        if not reason.startswith("failed"):
            raise


def record_failure(path: Path, reason: str, **details: Any) -> dict[str, Any] | None:
    """config.json's `stopped` for a run whose training died without saying why (a rank killed
    under `train --nproc`): `failed: <reason>` at checkpoints/last's counters, which --resume
    continues from. Nothing when a stop is recorded already or another process trains the run;
    returns what was recorded."""
    try:
        run = RunDir.open(path)
        run.lock()
    except CxrganError:  # no run there (it failed before config.json), or it trains on
        return None
    try:
        info = run.read_config()
        if "stopped" in info:
            return None
        c = saved_counters(run.checkpoint("last")) or {"epoch": 0, "step": 0}
        stopped = {"reason": f"failed: {reason}", "epoch": c["epoch"], "step": c["step"],
                   "time": now_iso(), **details}  # fmt: skip
        info["stopped"] = stopped
        run.write_config(info)
        run.log(f"failed: {reason}; checkpoints/last is at step {c['step']}", echo=False)
        return stopped
    except (CxrganError, OSError):
        return None
    finally:
        run.unlock()


@contextlib.contextmanager
def _write_errors(where: Path, run: RunDir | None) -> Iterator[None]:
    """A full, read-only or vanished disk as one line naming the file, the free space and what
    is still intact, instead of a traceback."""
    try:
        yield
    except OSError as exc:
        if not is_write_error(exc):
            raise
        kept = ""
        if run is not None:
            saved = saved_counters(run.checkpoint("last"))
            kept = (
                f"; checkpoints/last is intact at step {saved['step']}: make room, then "
                f"cxrgan train --resume {run.root}"
                if saved
                else f"; no checkpoint yet: make room, then cxrgan train --resume {run.root} "
                "starts it again"
            )
        raise CxrganError(write_error_message(exc, where) + kept) from None


def recipe_record(cfg: TrainConfig) -> dict[str, Any]:
    """The recipe and its version, and which of its values the run overrode."""
    recipe = RECIPES[cfg.recipe]
    overridden = {k: v for k, v in recipe.settings.items() if getattr(cfg, k) != v}
    return {"name": recipe.name, "version": recipe.version, "overridden": overridden}
