"""Start or resume a run: load data, write config.json, train, record why it stopped."""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxrgan import __version__
from cxrgan.config import RESUMABLE, SETTINGS, TrainConfig
from cxrgan.data.cache import resolve_cache_dir
from cxrgan.data.folder import ImageSet
from cxrgan.data.source import dataset_summary, load_images
from cxrgan.errors import CxrganError
from cxrgan.recipes import RECIPES
from cxrgan.reporting.html_report import write_report
from cxrgan.reporting.plots import save_grid
from cxrgan.training.checkpoint import load_checkpoint
from cxrgan.training.rundir import RunDir, default_run_path, now_iso
from cxrgan.training.trainer import build_trainer, resolve_device, train


def start_run(cfg: TrainConfig) -> RunDir:
    cfg.validate()
    device = resolve_device(cfg.device)
    notes: list[str] = []  # cache messages, printed now and logged once the run folder exists
    # Data before the folder: bad data leaves nothing behind.
    data = load_data(cfg, log=lambda m: (print(m), notes.append(m)))
    run = RunDir.create(Path(cfg.out) if cfg.out else default_run_path())
    for note in notes:
        run.log(note, echo=False)
    # Absolute paths, so a resume from another folder finds the same data.
    cfg = cfg.replace(out=str(run.root.resolve()), data=data.root and str(data.root))
    _log_data(run, data)
    info = {
        "cxrgan_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "config": cfg.to_dict(),
        "recipe": recipe_record(cfg),
        "dataset": dataset_summary(data),
        "history": [{"time": now_iso(), "event": "start", "epoch": 0, "step": 0, "changes": {}}],
    }
    run.write_config(info)
    _save_real_grid(run, data, cfg.seed)
    run.log(f"run directory: {run.root}  device: {device}  model: {cfg.model} {cfg.image_size}px")
    return _train(cfg, run, data, info, None)


def resume_run(path: Path, overrides: dict[str, Any]) -> RunDir:
    run = RunDir.open(path)
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
    ckpt = load_checkpoint(run.checkpoint("last"))
    done = ckpt.meta["state"]["counters"]["epoch"]
    if done >= cfg.epochs:
        raise CxrganError(
            f"{path} has already trained {done} epoch(s); "
            f"pass --epochs N with N > {done} to continue"
        )
    data = load_data(cfg, log=run.log)
    _log_data(run, data)
    if data.fingerprint != info["dataset"]["fingerprint"]:
        run.log(f"warning: the data's file list changed since the run started ({cfg.data})")
    changes = {  # in declaration order, so config.json's history reads the same every time
        s.name: [getattr(old, s.name), getattr(cfg, s.name)]
        for s in SETTINGS
        if s.resumable and getattr(old, s.name) != getattr(cfg, s.name)
    }
    c = ckpt.meta["state"]["counters"]
    info["history"].append(
        {
            "time": now_iso(),
            "event": "resume",
            "epoch": c["epoch"],
            "step": c["step"],
            "changes": changes,
            # Running again: the previous stop moves into the history.
            "previous_stop": (info.pop("stopped", None) or {}).get("reason"),
        }
    )
    info["config"] = cfg.to_dict()
    info["device"] = str(resolve_device(cfg.device))
    run.write_config(info)
    described = ", ".join(f"{k} {a} → {b}" for k, (a, b) in changes.items()) or "no changes"
    run.log(f"resuming {run.root} at epoch {c['epoch']}, step {c['step']} ({described})")
    return _train(cfg, run, data, info, ckpt)


def _train(cfg: TrainConfig, run: RunDir, data: ImageSet, info: dict, ckpt: Any) -> RunDir:
    trainer = build_trainer(cfg, run, data, ckpt)
    reason = train(trainer)
    c = trainer.state.counters
    info["stopped"] = {"reason": reason, "epoch": c.epoch, "step": c.step, "time": now_iso()}
    run.write_config(info)
    write_report(run.root)  # the last per-epoch refresh still said "in progress"
    run.log(f"{reason}: {c.epoch} epoch(s), {c.step} steps; samples in {run.samples}")
    return run


def recipe_record(cfg: TrainConfig) -> dict[str, Any]:
    """The recipe and its version, and which of its values the run overrode."""
    recipe = RECIPES[cfg.recipe]
    overridden = {k: v for k, v in recipe.settings.items() if getattr(cfg, k) != v}
    return {"name": recipe.name, "version": recipe.version, "overridden": overridden}


def load_data(cfg: TrainConfig, log: Callable[[str], None] | None = None) -> ImageSet:
    """The run's images as the config asks; folders go through the decode-once cache unless
    cfg.cache is off."""
    return load_images(
        cfg.data,
        cfg.image_size,
        demo_images=cfg.demo_images,
        seed=cfg.seed,
        fit=cfg.fit,
        workers=cfg.workers,
        progress=cfg.progress,
        cache_dir=resolve_cache_dir(cfg.cache_dir) if cfg.cache else None,
        log=log,
    )


def _log_data(run: RunDir, data: ImageSet) -> None:
    if data.synthetic:
        run.log(f"data: {len(data)} {dataset_summary(data)['note']}")
    else:
        counts = ", ".join(f"{k or '(no class)'} {v}" for k, v in data.class_counts.items())
        run.log(f"data: {len(data)} images from {data.root} ({counts})")
    if data.skipped:
        run.log(f"warning: skipped {len(data.skipped)} unreadable or non-image file(s):")
        for path, reason in data.skipped:
            run.log(f"  skipped {path}: {reason}", echo=len(data.skipped) <= 20)


def _save_real_grid(run: RunDir, data: ImageSet, seed: int) -> None:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(data), size=min(64, len(data)), replace=False)
    save_grid(data.images[np.sort(idx)], run.samples / "real.png")
