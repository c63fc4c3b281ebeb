"""Sample diversity (the mode-collapse measure): of an image batch, of a saved sample grid, and
of a run's latest grid and its real grid. A conditional run's grid is judged by its least
varied class band: one class collapsing is a collapse, however varied the others are."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from cxrgan.errors import CxrganError
from cxrgan.reporting.run_records import (
    LABEL_WIDTH,
    epoch_grids,
    grid_classes,
    image_size_of,
    read_config,
)


def sample_diversity(images: np.ndarray) -> float:
    """Mean pairwise L2 distance between images, relative to that of unrelated images.

    `images` is (N, ...) — any per-image shape. Each distance is divided by sqrt(2·P·var), the
    expected distance of two images whose P pixels are drawn independently from the batch's
    pixel distribution. So ≈ 1 for noise, ≈ 0 for copies of one image, and in between for
    images sharing a layout (chest X-rays ≈ 0.77). Invariant to brightness scale. NaN if N < 2.
    """
    x = np.asarray(images, dtype=np.float64)
    n = x.shape[0] if x.ndim else 0
    if n < 2:
        return float("nan")
    x = x.reshape(n, -1)
    x = x - x.mean()
    var = float(x.var())
    if var <= 0:
        return 0.0  # every pixel of every image equal: one image, many times
    sq = np.einsum("ij,ij->i", x, x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    iu = np.triu_indices(n, k=1)
    return float(np.sqrt(d2[iu]).mean() / math.sqrt(2.0 * x.shape[1] * var))


def grid_tiles(
    png_path: Path,
    image_size: int | None = None,
    *,
    n_images_hint: int | None = None,
    nrow: int = 8,
    padding: int = 2,
    left_margin: int = 0,
) -> np.ndarray:
    """Split a torchvision make_grid PNG (padding 2, `nrow` columns, pad 0) back into tiles.

    Returns (N, H, W) float32 in [0, 1], grayscale. The tile size is `image_size` when given,
    otherwise inferred from the grid's width and height. Empty cells of the last row (all pad
    value) are dropped unless `n_images_hint` says how many images there are. `left_margin`:
    px left of the grid (a conditional grid's class names), cut off first.
    """
    with Image.open(png_path) as im:
        gray = np.asarray(im.convert("L"), dtype=np.float32)[:, left_margin:] / 255.0
    height, width = gray.shape
    rows, cols, tile = _grid_layout(width, height, image_size, nrow, padding)
    tiles = []
    for r in range(rows):
        for c in range(cols):
            y, x = padding + r * (tile + padding), padding + c * (tile + padding)
            tiles.append(gray[y : y + tile, x : x + tile])
    if n_images_hint is not None:
        tiles = tiles[: max(0, n_images_hint)]
    else:
        while len(tiles) > (rows - 1) * cols and tiles and float(tiles[-1].max()) == 0.0:
            tiles.pop()  # make_grid leaves missing cells at the pad value
    return np.stack(tiles) if tiles else np.zeros((0, tile, tile), np.float32)


def _grid_layout(
    width: int, height: int, image_size: int | None, nrow: int, padding: int
) -> tuple[int, int, int]:
    """(rows, cols, tile) of a make_grid image, or CxrganError if it cannot be one."""
    if image_size:
        step = image_size + padding
        cols, rows = (width - padding) // step, (height - padding) // step
        if cols >= 1 and rows >= 1:
            return rows, cols, image_size
    # Square tiles. A full grid has `nrow` columns; fewer images than that make one short row.
    single = height - 2 * padding
    candidates = [max(1, nrow)] + ([(width - padding) // (single + padding)] if single > 0 else [])
    candidates += list(range(max(1, nrow) - 1, 0, -1))
    for cols in candidates:
        if not 1 <= cols <= max(1, nrow) or (width - padding) % cols:
            continue
        tile = (width - padding) // cols - padding
        if tile > 0 and (height - padding) % (tile + padding) == 0:
            return (height - padding) // (tile + padding), cols, tile
    raise CxrganError(f"{width}×{height} is not a sample grid of {nrow} columns, padding {padding}")


def grid_diversity(
    png_path: Path,
    n_images_hint: int | None = None,
    *,
    image_size: int | None = None,
    classes: int = 0,
) -> float:
    """`sample_diversity` of the tiles of a saved sample grid; with `classes` > 1, a conditional
    grid (class names in a left margin, one band of whole rows per class, as the trainer draws
    it): the lowest of its bands' diversities."""
    if classes <= 1:
        return sample_diversity(grid_tiles(png_path, image_size, n_images_hint=n_images_hint))
    tiles = grid_tiles(png_path, image_size, n_images_hint=n_images_hint, left_margin=LABEL_WIDTH)
    band = len(tiles) // classes
    if band < 2:
        return float("nan")
    return min(sample_diversity(tiles[k * band : (k + 1) * band]) for k in range(classes))


def run_diversity(run_dir: Path) -> tuple[float | None, float | None]:
    """(diversity of the latest epoch grid, diversity of samples/real.png); None where absent."""
    size = image_size_of(run_dir)
    grids = epoch_grids(run_dir)
    bands = grid_classes(read_config(run_dir))
    latest = _safe_diversity(grids[-1][1], size, bands) if grids else None
    real_png = Path(run_dir) / "samples" / "real.png"  # a plain grid of every class
    real = _safe_diversity(real_png, size) if real_png.is_file() else None
    return latest, real


def _safe_diversity(png: Path, size: int | None, classes: int = 0) -> float | None:
    try:
        value = grid_diversity(png, image_size=size, classes=classes)
    except Exception:  # unreadable or broken grid (Pillow raises many types): judge without it
        return None
    return value if math.isfinite(value) else None
