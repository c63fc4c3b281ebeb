"""Pictures of a run: image grids and the tutorial-style loss figure."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from cxrgan.data.pixels import to_uint8
from cxrgan.files import atomic_path
from cxrgan.reporting.formatting import as_number
from cxrgan.reporting.run_records import (
    LABEL_WIDTH,
    best_evaluation,
    fwd_floor,
    per_class_fwd,
    selection_fwd,
)
from cxrgan.reporting.thresholds import DEFAULT_THRESHOLDS

if TYPE_CHECKING:  # annotations only: drawing needs no torch
    import torch

GRID_COLUMNS = 8
GRID_PADDING = 2


def make_grid(
    images: np.ndarray, columns: int = GRID_COLUMNS, padding: int = GRID_PADDING
) -> np.ndarray:
    """Tile (N, H, W) uint8 images like torchvision's make_grid (black padding)."""
    n, h, w = images.shape
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * (h + padding) + padding, cols * (w + padding) + padding), np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y : y + h, x : x + w] = img
    return grid


def class_grid(
    images: np.ndarray, labels: Sequence[int], names: Sequence[str], columns: int = GRID_COLUMNS
) -> np.ndarray:
    """A grid of a conditional model's samples: one band of whole rows per class (images
    grouped by label, in class order), each band named in a left margin and set off by a
    gray rule. Labels must come in bands of whole rows, as the trainer's fixed labels do."""
    from PIL import ImageDraw

    labels = [int(x) for x in labels]
    grid = make_grid(images, columns)
    h = images.shape[1] + GRID_PADDING
    canvas = Image.new("L", (LABEL_WIDTH + grid.shape[1], grid.shape[0]), 0)
    canvas.paste(Image.fromarray(grid), (LABEL_WIDTH, 0))
    draw = ImageDraw.Draw(canvas)
    for k, start in _bands(labels):
        rows = sum(1 for x in labels if x == k) // columns or 1
        top = start // columns * h
        if top:
            draw.line([(0, top), (canvas.width, top)], fill=128)
        draw.text((4, top + rows * h // 2 - 6), names[k][:14], fill=255)
    return np.asarray(canvas)


def _bands(labels: Sequence[int]) -> list[tuple[int, int]]:
    """(class, index of its first image) for each band of consecutive equal labels."""
    return [(k, i) for i, k in enumerate(labels) if i == 0 or labels[i - 1] != k]


def save_png_atomic(image: Image.Image, path: Path) -> None:
    with atomic_path(path, ".png") as tmp:
        image.save(tmp)


def save_grid(images: torch.Tensor | np.ndarray, path: Path, columns: int = GRID_COLUMNS) -> None:
    save_png_atomic(Image.fromarray(make_grid(to_uint8(images), columns)), path)


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Moving average that ignores non-finite values and keeps the curve's length."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0 or window <= 1:
        return v
    ok = np.isfinite(v)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, v, 0.0), kernel, mode="full")[: len(v)]
    den = np.convolve(ok.astype(float), kernel, mode="full")[: len(v)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def plot_losses(records: Sequence[dict[str, Any]], path: Path) -> None:
    """G and D loss against iteration (raw faint, smoothed bold), and D(x), D(G(z)) below; with
    --augment ada, a third small panel shows ADA's augmentation probability p."""
    train = [r for r in records if "loss_d" in r]
    p_values = [as_number(r.get("augment_p")) for r in train]
    has_p = any(math.isfinite(v) for v in p_values)
    if has_p:
        fig, (ax_loss, ax_d, ax_p) = plt.subplots(
            3, 1, figsize=(10, 8.5), sharex=True, height_ratios=[3, 2, 1.2]
        )
    else:
        fig, (ax_loss, ax_d) = plt.subplots(
            2, 1, figsize=(10, 7), sharex=True, height_ratios=[3, 2]
        )
    if train:
        steps = [r["step"] for r in train]
        window = max(1, len(train) // 25)
        for key, label, color in (("loss_g", "G", "tab:blue"), ("loss_d", "D", "tab:orange")):
            values = [r[key] for r in train]
            ax_loss.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
            ax_loss.plot(steps, smooth(values, window), color=color, linewidth=2, label=label)
        for key, label, color in (("d_x", "D(x)", "tab:green"), ("d_g_z1", "D(G(z))", "tab:red")):
            values = [r.get(key, math.nan) for r in train]  # DP: no D(x) if no real images
            ax_d.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
            ax_d.plot(steps, smooth(values, window), color=color, linewidth=2, label=label)
        _mark_resumes(ax_loss, train)
        if has_p:
            ax_p.plot(steps, p_values, color="tab:purple", linewidth=1.6, label="ADA p")
    ax_loss.set_title("Generator and Discriminator Loss During Training")
    ax_loss.set_ylabel("Loss")
    ax_loss.legend(loc="upper right")
    ax_d.set_ylim(-0.02, 1.02)
    ax_d.axhline(0.5, color="gray", linewidth=0.8, linestyle=":")
    ax_d.set_ylabel("D output σ(logit)")
    ax_d.legend(loc="upper right")
    if has_p:
        _ada_panel(ax_p)
        ax_p.set_xlabel("iterations")
    else:
        ax_d.set_xlabel("iterations")
    fig.tight_layout()
    save_figure(fig, path)


def _ada_panel(ax: Any) -> None:
    """Axes of ADA's p: 0–1, with the level the diagnosis calls pinned high."""
    high = DEFAULT_THRESHOLDS.ada_p_high
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(high, color="gray", linewidth=0.8, linestyle=":")
    ax.annotate(
        f"p ≥ {high:g} for long: D overfits",
        (0.005, high),
        xycoords=("axes fraction", "data"),
        fontsize=7,
        va="bottom",
        color="gray",
    )
    ax.set_ylabel("ADA p")
    ax.legend(loc="lower right")


def _mark_resumes(ax: Any, train: Sequence[dict[str, Any]]) -> None:
    """Dashed line where the learning rates changed (a resume with new rates, or --balance)."""
    for prev, cur in itertools.pairwise(train):
        if (prev.get("lr_g"), prev.get("lr_d")) != (cur.get("lr_g"), cur.get("lr_d")):
            ax.axvline(cur["step"], color="gray", linestyle="--", linewidth=0.8)
            ax.annotate(
                f"lr_g={cur.get('lr_g'):.0e}\nlr_d={cur.get('lr_d'):.0e}",
                (cur["step"], 1),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                va="top",
                color="gray",
            )


def save_figure(fig: Any, path: Path) -> None:
    """Write to a temporary file and rename (a viewer never sees half a PNG); close the figure."""
    try:
        with atomic_path(path, ".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)


def _plot_per_class(ax: Any, evals: Sequence[dict[str, Any]]) -> None:
    """A conditional run's FWD per class, thin dashed beside the overall curve."""
    for name, (steps, values) in per_class_fwd(evals).items():
        ax.plot(steps, values, "--", marker=".", linewidth=1, label=f"FWD {name}")


def plot_quality(evals: Sequence[dict[str, Any]], path: Path) -> None:
    """FWD and KID (± std) against step, the best FWD marked, and the real-vs-real FWD floor
    as a horizontal line (the axis then starts at 0, so the distance to it shows); a
    conditional run's per-class FWD dashed."""
    fig, (ax_fwd, ax_kid) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    floor, floor_n = fwd_floor(evals)
    if math.isfinite(floor):
        at = f" at n={floor_n}" if floor_n else ""
        ax_fwd.axhline(
            floor,
            color="tab:gray",
            linestyle="--",
            linewidth=1.2,
            label=f"real-vs-real floor {floor:.2g}{at}",
        )
        ax_fwd.set_ylim(bottom=0)
    if evals:
        steps = [r["step"] for r in evals]
        fwd = [r["fwd"] for r in evals]
        ax_fwd.plot(steps, fwd, "o-", color="tab:purple", label="FWD")
        per_class = [c["fwd"] for r in evals for c in (r.get("per_class") or {}).values()]
        finite = [v for v in map(as_number, [*fwd, *per_class]) if math.isfinite(v)]
        if math.isfinite(floor):
            ax_fwd.set_ylim(0, max([*finite, floor]) * 1.08)
        best = best_evaluation(evals)  # as training chose it: conditional, by the worst class
        if best is not None:
            value = as_number(selection_fwd(best))
            which = " (worst class)" if "fwd_worst_class" in best else ""
            ax_fwd.plot(
                best["step"],
                value,
                "*",
                color="gold",
                markersize=16,
                markeredgecolor="black",
                label=f"best{which} {value:.4g} (step {best['step']})",
            )
        _plot_per_class(ax_fwd, evals)
        kid = np.array([r["kid_mean"] for r in evals])
        # No spread when KID came from one subset (kid_std null): no band, not a zero band.
        std = np.array([np.nan if r.get("kid_std") is None else r["kid_std"] for r in evals])
        ax_kid.plot(steps, kid, "o-", color="tab:brown", label="KID")
        ax_kid.fill_between(steps, kid - std, kid + std, color="tab:brown", alpha=0.2)
    ax_fwd.set_title("Sample quality (lower is better)")
    ax_fwd.set_ylabel("FWD")
    ax_fwd.legend(loc="best")  # the floor puts 0 on the axis: the curve may sit up top
    ax_kid.set_ylabel("KID")
    ax_kid.set_xlabel("iterations")
    ax_kid.legend(loc="upper right")
    fig.tight_layout()
    save_figure(fig, path)
