"""Fixture builders for the reporting tests: GAN-like metric logs and fabricated run/sweep dirs.

Everything here follows docs/run-directory.md: config.json, metrics.jsonl, samples/*.png as
torchvision make_grid images (padding 2, 8 columns, pad value 0), plots/, memorisation.png.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

IMAGE_SIZE = 32  # small tiles keep the fabricated PNGs (and the tests) fast

# --------------------------------------------------------------------------------------------
# Metric logs that look like real DCGAN curves (trend + multiplicative noise + rare spikes)


def _noisy(rng: np.random.Generator, trend: np.ndarray, rel: float = 0.25) -> np.ndarray:
    """Trend × log-normal noise, with an occasional spike as real GAN losses have."""
    noise = np.exp(rel * rng.standard_normal(len(trend)))
    spikes = np.where(rng.random(len(trend)) < 0.03, rng.uniform(2.0, 3.5, len(trend)), 1.0)
    return trend * noise * spikes


def _prob(rng: np.random.Generator, centre: np.ndarray, sd: float) -> np.ndarray:
    return np.clip(centre + sd * rng.standard_normal(len(centre)), 0.001, 0.999)


def _records(
    loss_d: np.ndarray,
    loss_g: np.ndarray,
    d_x: np.ndarray,
    d_g_z1: np.ndarray,
    d_g_z2: np.ndarray,
    *,
    lr_g: float,
    lr_d: float,
    log_every: int = 10,
    per_epoch: int = 8,
) -> list[dict[str, Any]]:
    out = []
    for i in range(len(loss_d)):
        out.append(
            {
                "step": (i + 1) * log_every,
                "epoch": i // per_epoch + 1,
                "loss_d": float(loss_d[i]),
                "loss_g": float(loss_g[i]),
                "d_x": float(d_x[i]),
                "d_g_z1": float(d_g_z1[i]),
                "d_g_z2": float(d_g_z2[i]),
                "lr_g": lr_g,
                "lr_d": lr_d,
                "images_per_s": 400.0 + i % 7,
                "elapsed_s": 0.3 * (i + 1),
            }
        )
    return out


def curves(kind: str, n: int = 80, seed: int = 0) -> list[dict[str, Any]]:
    """A synthetic training log of `n` records in one of the diagnosable states."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    warm = np.exp(-t * 12)  # the first-epoch transient every run has
    if kind == "healthy":
        d_x = _prob(rng, 0.74 - 0.2 * warm, 0.06)
        d_g_z1 = _prob(rng, 0.30 + 0.2 * warm, 0.06)
        return _records(
            _noisy(rng, 0.65 + 0.7 * warm),
            _noisy(rng, 2.2 + 0.6 * t),
            d_x,
            d_g_z1,
            _prob(rng, 0.14 + 0.3 * warm, 0.04),
            lr_g=2e-4,
            lr_d=2e-4,
        )
    if kind == "d_overpowers_g":
        # D wins within the first epoch and never lets go; G's loss keeps climbing.
        d_g_z2 = np.clip(0.02 * np.exp(-t) + 0.3 * warm, 1e-4, 1)
        return _records(
            _noisy(rng, 0.03 + 1.2 * warm),
            _noisy(rng, -np.log(d_g_z2), 0.15),
            _prob(rng, 0.985 - 0.4 * warm, 0.006),
            _prob(rng, 0.015 + 0.4 * warm, 0.006),
            d_g_z2,
            lr_g=2e-4,
            lr_d=2e-4,
        )
    if kind == "d_too_weak":
        # G's LR ×10: D stuck at a coin toss, its loss climbing past 2 ln 2, G's falling.
        return _records(
            _noisy(rng, 1.25 + 0.45 * t, 0.08),
            _noisy(rng, 0.80 - 0.2 * t, 0.08),
            _prob(rng, 0.52 - 0.04 * t, 0.03),
            _prob(rng, 0.48 + 0.02 * t, 0.03),
            _prob(rng, 0.50 + 0.02 * t, 0.03),
            lr_g=2e-3,
            lr_d=2e-4,
        )
    if kind == "oscillating":
        wave = np.sin(2 * np.pi * np.arange(n) / 16.0)  # a slow swing over ~2 epochs
        return _records(
            _noisy(rng, 0.8 * (1 + 0.6 * wave), 0.15),
            _noisy(rng, 2.5 * (1 - 0.5 * wave), 0.15),
            _prob(rng, 0.7 + 0.15 * wave, 0.04),
            _prob(rng, 0.35 - 0.15 * wave, 0.04),
            _prob(rng, 0.2 - 0.1 * wave, 0.03),
            lr_g=1e-3,
            lr_d=1e-3,
        )
    if kind == "diverged":
        # Healthy, then the weights break: NaN from 3/4 of the way on.
        records = curves("healthy", n, seed)
        for r in records[3 * n // 4 :]:
            for key in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2"):
                r[key] = math.nan
        return records
    if kind == "exploding":
        records = curves("healthy", n, seed)
        for i, r in enumerate(records[n // 2 :]):
            r["loss_d"] = 0.7 * 1.25**i
            r["loss_g"] = 2.0 * 1.2**i
        return records
    if kind == "hinge_healthy":
        # SNGAN-like: D's logits settle near its margins (real ≈ +0.9, generated ≈ −0.5).
        return _hinge_records(rng, 0.9 + 0.6 * warm, -0.5 - 0.6 * warm, lr_g=2e-4, lr_d=2e-4)
    if kind == "hinge_d_overpowers_g":
        # D pushes real logits to ≈ +3 and generated ones to ≈ −3 within the first epoch.
        return _hinge_records(rng, 3.0 - 2.5 * warm, -3.0 + 2.5 * warm, lr_g=2e-4, lr_d=2e-4)
    if kind == "hinge_d_too_weak":
        # D's logits near 0 for everything, generated ones creeping above real ones.
        return _hinge_records(rng, 0.05 - 0.3 * t, 0.0 + 0.3 * t, lr_g=2e-3, lr_d=2e-4)
    if kind in ("ada_pinned", "ada_low", "ada_climbing"):
        # Healthy-looking curves (augmentation keeps D honest) with ADA's p logged beside them.
        records = curves("healthy", n, seed)
        if kind == "ada_pinned":  # D overfits a small set: p climbs within an epoch, stays up
            p = 0.82 - 0.8 * warm + 0.03 * rng.standard_normal(n)
        elif kind == "ada_climbing":  # p rising ever faster towards its cap, high only lately
            p = 0.1 + 0.89 * t**3 + 0.005 * rng.standard_normal(n)
        else:  # a large set: D never overfits, p stays near 0
            p = 0.02 + 0.02 * rng.standard_normal(n)
        for r, v in zip(records, np.clip(p, 0.0, 0.99), strict=True):
            r["augment_p"] = round(float(v), 6)
        return records
    raise ValueError(kind)


def _hinge_records(
    rng: np.random.Generator,
    real_logit: np.ndarray,
    fake_logit: np.ndarray,
    *,
    lr_g: float,
    lr_d: float,
    spread: float = 1.0,
    batch: int = 64,
) -> list[dict[str, Any]]:
    """A hinge-loss log computed from D's logits as the trainer would: each record averages a
    batch of logits drawn around the given means (jittered per record); d_x and d_g_z are the
    mean σ(logit), loss_D = E relu(1 − l_real) + E relu(1 + l_fake), loss_G = −E l_fake."""
    n = len(real_logit)
    jitter = 0.2 * rng.standard_normal((3, n))
    out = []
    for i in range(n):
        lr_ = real_logit[i] + jitter[0, i] + spread * rng.standard_normal(batch)
        lf1 = fake_logit[i] + jitter[1, i] + spread * rng.standard_normal(batch)
        lf2 = fake_logit[i] + 0.2 + jitter[2, i] + spread * rng.standard_normal(batch)
        sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
        out.append(
            {
                "loss_d": float(np.maximum(1 - lr_, 0).mean() + np.maximum(1 + lf1, 0).mean()),
                "loss_g": float(-lf2.mean()),
                "d_x": float(sig(lr_).mean()),
                "d_g_z1": float(sig(lf1).mean()),
                "d_g_z2": float(sig(lf2).mean()),
            }
        )
    cols = {k: np.array([r[k] for r in out]) for k in out[0]}
    return _records(
        cols["loss_d"],
        cols["loss_g"],
        cols["d_x"],
        cols["d_g_z1"],
        cols["d_g_z2"],
        lr_g=lr_g,
        lr_d=lr_d,
    )


def flat_records(n: int = 30, **values: float) -> list[dict[str, Any]]:
    """`n` identical training records (for boundary tests: medians are exactly the values)."""
    base = {"loss_d": 0.7, "loss_g": 2.0, "d_x": 0.7, "d_g_z1": 0.3, "d_g_z2": 0.2}
    base.update(lr_g=2e-4, lr_d=2e-4)
    base.update(values)
    return [{"step": 10 * (i + 1), "epoch": i // 8 + 1, **base} for i in range(n)]


def fwd_records(
    values: list[float], every: int = 80, floor: float | None = None, floor_n: int = 2000
) -> list[dict[str, Any]]:
    """Evaluation records; with `floor`, each carries the real-vs-real floor as training
    writes it (`fwd_floor`, `fwd_floor_n`)."""
    extra = {} if floor is None else {"fwd_floor": floor, "fwd_floor_n": floor_n}
    return [
        {
            "step": every * (i + 1),
            "epoch": i + 1,
            "fwd": v,
            "kid_mean": v / 1000,
            "kid_std": 0.001,
            **extra,
        }
        for i, v in enumerate(values)
    ]


def step_log(
    per_step: list[dict[str, float]], log_every: int, *, lr_g: float = 2e-4, lr_d: float = 2e-4
) -> list[dict[str, Any]]:
    """Training records as the trainer logs them from per-step values: every `log_every` steps
    (and at the last step), each the mean over the steps since the previous record."""
    out, since = [], 0
    for step in range(1, len(per_step) + 1):
        if step % log_every and step != len(per_step):
            continue
        chunk = per_step[since:step]
        means = {k: float(np.mean([v[k] for v in chunk])) for k in chunk[0]}
        out.append({"step": step, "epoch": 1, **means, "lr_g": lr_g, "lr_d": lr_d})
        since = step
    return out


# --------------------------------------------------------------------------------------------
# Images: chest-X-ray-like phantoms and make_grid layout


def phantom(size: int, rng: np.random.Generator, quality: float = 1.0) -> np.ndarray:
    """A chest-radiograph-like uint8 image (PA view); `quality` 0 → noise, 1 → clean anatomy."""
    j = rng.normal(0, 1, 10)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    x = (x - 0.05 * j[0]) / (1 + 0.05 * j[1])  # patient position and size vary
    y = (y - 0.05 * j[2]) / (1 + 0.05 * j[1])
    torso = (np.abs(x) / (0.92 - 0.12 * np.clip(-y, 0, 1) ** 2)) ** 4 + ((y - 0.2) / 1.25) ** 4
    img = np.where(torso < 1, 0.62, 0.04)
    for side in (-1, 1):  # lungs: dark air, narrower at the apex
        cx, half_w = side * (0.4 + 0.02 * j[3]), 0.26 + 0.1 * (y + 0.7) / 1.4
        lung = ((x - cx) / half_w) ** 2 + ((y + 0.05 + 0.03 * j[4]) / (0.62 + 0.03 * j[5])) ** 2
        img = np.where(lung < 1, 0.16 + 0.22 * np.clip(lung, 0, 1) ** 2, img)
    img = img + 0.3 * np.exp(-((x / 0.11) ** 2)) * (y > -0.9)  # spine and mediastinum
    heart = ((x - 0.16 - 0.03 * j[6]) / 0.3) ** 2 + ((y - 0.3) / 0.24) ** 2
    img = np.where(heart < 1, np.maximum(img, 0.58 + 0.1 * (1 - heart)), img)
    ribs = 0.07 * np.clip(np.sin((y + 0.35 * x**2) * 26 + j[7]), 0, 1) * (torso < 1)
    img = img + ribs
    img = (img - 0.3) * (1 + 0.12 * j[8]) + 0.3 + 0.04 * j[9]  # exposure varies per film
    img = quality * img + (1 - quality) * rng.random((size, size))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def make_grid(tiles: np.ndarray, nrow: int = 8, padding: int = 2) -> Image.Image:
    """torchvision.utils.make_grid layout (pad value 0), grayscale as the trainer saves it."""
    n, size = len(tiles), tiles.shape[1]
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = np.zeros(
        (rows * (size + padding) + padding, cols * (size + padding) + padding), np.uint8
    )
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = padding + r * (size + padding), padding + c * (size + padding)
        grid[y : y + size, x : x + size] = tile
    return Image.fromarray(grid)


def grid_png(path: Path, tiles: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(tiles).save(path, compress_level=1)  # fast; the report must cope with any level
    return path


def _plot_png(path: Path, color: tuple[int, int, int]) -> None:
    """A stand-in for the trainer's matplotlib plot (the report must embed it, not redraw it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((120, 200, 3), 255, np.uint8)
    xs = np.arange(10, 190)
    ys = (60 + 40 * np.sin(xs / 20)).astype(int)
    img[ys, xs] = color
    Image.fromarray(img).save(path)


# --------------------------------------------------------------------------------------------
# Run and sweep directories


def build_run(
    run: Path,
    *,
    kind: str = "healthy",
    epochs: int = 6,
    per_epoch: int = 8,
    n_images: int = 64,
    image_size: int = IMAGE_SIZE,
    synthetic: bool = True,
    evals: list[float] | None = None,
    memorisation: bool = False,
    plots: bool = True,
    extra_lines: list[str] | None = None,
    resumed_g_lr: float | None = None,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    recipe: dict[str, Any] | None = None,
    fwd_floor: float | None = None,
) -> Path:
    """A finished run as `cxrgan train` writes it (see docs/run-directory.md).

    `fwd_floor`: the real-vs-real FWD floor every evaluation record carries (runs from before
    the floor have none).
    `settings` are added to config.json's `config` (e.g. {"loss": "hinge", "augment": "ada"});
    without them the run looks like a cxrgan 0.1 run (no loss, augment, EMA or recipe keys).
    `recipe` is config.json's top-level recipe record ({"name", "version", "overridden"})."""
    rng = np.random.default_rng(seed)
    run.mkdir(parents=True, exist_ok=True)
    records = curves(kind, n=epochs * per_epoch, seed=seed)
    if resumed_g_lr is not None:  # resumed after epoch 2 with a new --g-lr
        for r in records[2 * per_epoch :]:
            r["lr_g"] = resumed_g_lr
    last = records[-1]
    config = {
        "cxrgan_version": "0.1.0",
        "torch_version": "2.13.0+cpu",
        "python_version": "3.11.7",
        "device": "cpu",
        "config": {
            "g_lr": last["lr_g"],
            "d_lr": last["lr_d"],
            "batch_size": 64,
            "epochs": epochs,
            "steps_per_epoch": per_epoch * 10,
            "image_size": image_size,
            "nz": 100,
            "ngf": 64,
            "ndf": 64,
            "model": "dcgan",
            "seed": seed,
            "data": None if synthetic else "/data/chest_xray/train",
            "log_every": 10,
            "checkpoint_every": 5,
            **(settings or {}),
        },
        **({"recipe": recipe} if recipe is not None else {}),
        "dataset": {
            "kind": "phantoms" if synthetic else "folder",
            "synthetic": synthetic,
            "root": None if synthetic else "/data/chest_xray/train",
            "count": 512 if synthetic else 5216,
            "classes": {} if synthetic else {"NORMAL": 1341, "PNEUMONIA": 3875},
            "fingerprint": "ab" * 32,
            "skipped": 0,
        },
        "history": [
            {"time": "2024-05-01T10:00:00", "event": "start", "epoch": 0, "step": 0, "changes": {}},
        ]
        + (
            [
                {
                    "time": "2024-05-01T11:00:00",
                    "event": "resume",
                    "epoch": 2,
                    "step": 2 * per_epoch * 10,
                    "changes": {"g_lr": [records[0]["lr_g"], resumed_g_lr], "epochs": [2, epochs]},
                }
            ]
            if resumed_g_lr is not None
            else []
        ),
        "stopped": {"reason": "completed", "epoch": epochs, "step": last["step"]},
    }
    (run / "config.json").write_text(json.dumps(config, indent=2))
    lines = [json.dumps(r) for r in records]
    for i, v in enumerate(evals or []):  # interleave eval records after each epoch's records
        step = (i + 1) * per_epoch * 10
        rec = {
            "step": step,
            "epoch": i + 1,
            "fwd": v,
            "kid_mean": v / 1e3,
            "kid_std": 1e-3,
            **({} if fwd_floor is None else {"fwd_floor": fwd_floor, "fwd_floor_n": 2000}),
            "eval_s": 1.5,
        }
        lines.insert((i + 1) * per_epoch + i, json.dumps(rec))
    lines += extra_lines or []
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (run / "train.log").write_text("epoch 1 ...\n")
    seeds = [int(s) for s in rng.integers(0, 2**31, n_images)]
    grid_png(run / "samples" / "real.png", _tiles(seeds, image_size, 1.0))
    for epoch in range(1, epochs + 1):
        quality = min(1.0, 0.15 + 0.85 * epoch / max(1, epochs))
        grid_png(
            run / "samples" / f"epoch_{epoch:04d}.png", _tiles(seeds, image_size, quality, epoch)
        )
    if plots:
        _plot_png(run / "plots" / "losses.png", (200, 40, 40))
        if evals:
            _plot_png(run / "plots" / "quality.png", (40, 40, 200))
    if memorisation:
        pairs = np.concatenate(
            [_tiles(seeds[:8], image_size, 1.0), _tiles(seeds[:8], image_size, 0.9, 99)]
        )
        make_grid(pairs).save(run / "memorisation.png")
    return run


def _tiles(seeds: list[int], size: int, quality: float, salt: int = 0) -> np.ndarray:
    """One phantom per seed, blended with noise by `quality` (1 = clean)."""
    clean = _clean_tiles(tuple(seeds), size)
    if quality >= 1:
        return clean
    noise = np.random.default_rng([len(seeds), size, salt]).random(clean.shape) * 255
    return (quality * clean + (1 - quality) * noise).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def _clean_tiles(seeds: tuple[int, ...], size: int) -> np.ndarray:
    return np.stack([phantom(size, np.random.default_rng(s)) for s in seeds])


def build_sweep(root: Path) -> Path:
    """A sweep over --g-lr with three finished members, one failed and one missing run dir."""
    root.mkdir(parents=True, exist_ok=True)
    members = []
    specs = [
        ("g_lr=1e-3", "healthy", {"g_lr": 1e-3, "d_lr": 2e-4}, [90.0, 60.0, 45.0, 41.0]),
        ("g_lr=2e-4", "d_overpowers_g", {"g_lr": 2e-4, "d_lr": 2e-4}, [180.0, 175.0, 178, 176]),
        ("g_lr=2e-3", "d_too_weak", {"g_lr": 2e-3, "d_lr": 2e-4}, None),
    ]
    for i, (name, kind, params, evals) in enumerate(specs):
        build_run(root / "runs" / name, kind=kind, epochs=4, evals=evals, seed=i + 1)
        members.append(
            {"name": name, "run_dir": f"runs/{name}", "params": params, "status": "done"}
        )
    members.append(
        {
            "name": "g_lr=1e-2",
            "run_dir": "runs/g_lr=1e-2",
            "params": {"g_lr": 1e-2},
            "status": "failed",
        }
    )
    members.append({"name": "no-dir", "params": {"g_lr": 5e-3}, "status": "queued"})
    (root / "sweep.json").write_text(json.dumps({"members": members, "ranked_by": "fwd"}))
    return root


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """build_run under tmp_path: make_run("name", kind=..., epochs=...)."""

    def _make(name: str = "run", **kwargs: Any) -> Path:
        return build_run(tmp_path / name, **kwargs)

    return _make


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    return build_sweep(tmp_path / "sweep")


@pytest.fixture
def run_dir(make_run: Callable[..., Path]) -> Path:
    """A 6-epoch healthy run with FWD evaluations, memorisation pairs and an unknown record."""
    return make_run(
        "run",
        evals=[140.0, 90.0, 70.0, 58.0, 50.0, 46.0],
        memorisation=True,
        resumed_g_lr=1e-3,
        extra_lines=[
            '{"step": 480, "epoch": 6, "event": "balance", "lr_g": 0.001, '
            '"lr_d": 0.0002, "reason": "test"}'
        ],
    )


@pytest.fixture
def synth() -> SimpleNamespace:
    """Builders: synth.curves(kind, n, seed), .flat(n, **kw), .fwd(values, floor=...),
    .steps(per_step, log_every), .phantom, .grid_png."""
    return SimpleNamespace(
        curves=curves,
        flat=flat_records,
        fwd=fwd_records,
        steps=step_log,
        phantom=phantom,
        grid_png=grid_png,
    )
