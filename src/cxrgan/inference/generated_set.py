"""A generated data set: per-class folders of PNG or DICOM files with a manifest.csv that is
enough to draw every image again (docs/generate.md)."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pydicom.uid import generate_uid
from tqdm import tqdm

from cxrgan import __version__
from cxrgan.data.dicom_write import SyntheticSeries, write_synthetic_dicom
from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path, check_writable
from cxrgan.inference.generate import LoadedGenerator, load_model, sample_images
from cxrgan.models import ModelSpec
from cxrgan.models.base import Generator
from cxrgan.reporting.plots import GRID_COLUMNS, class_grid, save_grid, save_png_atomic

FORMATS = ("png", "dicom")
_SUFFIX = {"png": ".png", "dicom": ".dcm"}
DEFAULT_N = 64
MANIFEST = "manifest.csv"
# One row per written image: enough to know where it came from and to draw it again (`redraw`).
MANIFEST_COLUMNS = (
    "file", "class", "class_index", "seed", "draw_seed", "draw_n", "index", "format",
    "image_size", "checkpoint", "checkpoint_path", "checkpoint_sha256", "generator", "model",
    "spec", "device", "sop_instance_uid", "cxrgan_version", "created_at",
)  # fmt: skip
# Class k of --seed S draws its latents from torch seed S * 1000 + k: classes get independent
# noise (as training pairs a class with fresh noise), and distinct seeds never share noise for
# the same class while a generator has fewer than 1000 classes.
CLASS_SEED_STRIDE = 1000
GRID_ROWS_PER_CLASS = 2  # rows of each class's band in grid.png
GRID_BAND = GRID_COLUMNS * GRID_ROWS_PER_CLASS


def class_seed(seed: int, class_index: int | None) -> int:
    """The torch seed of one class's draw: `seed` itself for an unconditional generator,
    seed * 1000 + class index for a conditional one (the manifest's draw_seed)."""
    return seed if class_index is None else seed * CLASS_SEED_STRIDE + class_index


def class_names(spec: ModelSpec) -> tuple[str, ...]:
    """A conditional generator's class names in index order; "0", "1", ... when its spec stores
    none (as `SyntheticGenerator.classes`); () when unconditional."""
    if spec.classes or not spec.c_dim:
        return tuple(spec.classes)
    return tuple(str(k) for k in range(spec.c_dim))


@dataclass(frozen=True)
class Draw:
    """One seeded draw: `n` images of one class (`class_index` None: an unconditional G).

    Image `index` of a draw depends only on its seed, index and class (G samples on standing
    statistics, docs/metrics.md): repeating the draw, or any longer one, and taking the index
    draws it again."""

    label: str  # the class name ("" when unconditional)
    class_index: int | None
    seed: int  # the seed asked for (--seed)
    n: int

    @property
    def draw_seed(self) -> int:
        return class_seed(self.seed, self.class_index)


def plan_draws(
    spec: ModelSpec,
    seed: int,
    *,
    n: int | None = None,
    per_class: int | None = None,
    label: str | None = None,
    source: str = "this run",
) -> list[Draw]:
    """What `cxrgan generate` draws: n images of an unconditional generator, `per_class` of
    every class, or n of the class `label`; a clear error for every other combination."""
    if per_class is not None and label is not None:
        raise CxrganError(
            "--per-class and --label exclude each other: --per-class N draws every class, "
            "--label NAME --n N one class"
        )
    if per_class is not None and n is not None:
        raise CxrganError(
            "--per-class N sets the number of images of every class; leave out --n (it goes "
            "with --label or with an unconditional run)"
        )
    count = per_class if per_class is not None else DEFAULT_N if n is None else n
    if count < 1:
        raise CxrganError(
            f"{'--per-class' if per_class is not None else '--n'} must be at least 1, got {count}"
        )
    if not spec.c_dim:
        if per_class is not None or label is not None:
            raise CxrganError(
                f"{source} is unconditional: its generator draws no classes, so --per-class and "
                f"--label do not apply; train with --conditional for a generator that does "
                f"(or drop them and use --n)"
            )
        return [Draw("", None, seed, count)]
    names = class_names(spec)
    if label is not None:
        if label not in names:
            raise CxrganError(
                f"no class {label!r} in {source}; its generator draws {', '.join(names)}"
            )
        return [Draw(label, names.index(label), seed, count)]
    if per_class is None:
        raise CxrganError(
            f"{source} is conditional (classes {', '.join(names)}): pass --per-class N for N "
            f"images of every class, or --label NAME --n N for one class"
        )
    return [Draw(name, k, seed, count) for k, name in enumerate(names)]


def draw_images(
    g: LoadedGenerator | Generator, draw: Draw, device: str | torch.device
) -> np.ndarray:
    """The images of one draw as (n, S, S) uint8: `sample_images` with the draw's seed and
    class, so `cxrgan generate`, `cxrgan evaluate` and `redraw` agree image for image."""
    module = g.g if isinstance(g, LoadedGenerator) else g
    labels = None
    if draw.class_index is not None:
        labels = torch.full((draw.n,), draw.class_index, dtype=torch.long)
    return sample_images(module, draw.n, draw.draw_seed, device, labels=labels)


@dataclass
class GeneratedSet:
    """What `write_generated` wrote into `out`."""

    out: Path
    counts: dict[str, int]  # images written per class ("" for an unconditional generator)
    files: list[Path]
    manifest: Path
    kept_rows: int  # rows of an earlier manifest in `out` kept for files still there
    grid: Path | None
    size: int
    format: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_generated(
    model: LoadedGenerator,
    draws: Sequence[Draw],
    out: Path,
    device: str | torch.device,
    fmt: str = "png",
    grid: bool = False,
    progress: bool = True,
) -> GeneratedSet:
    """Draw `draws` and write them into `out` with `out/manifest.csv`.

    A conditional generator's images go to `out/<class>/00000.png` (numbered from 0 per class),
    so `out` is an ImageFolder-style data set; an unconditional one's to `out/sample_00000.png`.
    fmt "dicom" writes Secondary Capture files (`.dcm`, see data/dicom_write.py) instead of
    8-bit PNGs. Every file is written atomically. An earlier manifest in `out` keeps the rows
    of files that are still there and were not written again, so classes generated one at a
    time (--label) share one manifest. grid: also `out/grid.png`, beside the class folders.
    """
    if fmt not in FORMATS:
        raise CxrganError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    check_writable(out, "output folder")  # before drawing anything
    earlier = read_manifest(out / MANIFEST) if (out / MANIFEST).is_file() else []
    created = datetime.now(UTC)
    common = _manifest_common(model, fmt, device, created)
    study_uid = generate_uid()  # DICOM: one study per call, one series per class in it
    rows: list[dict[str, str]] = []
    files: list[Path] = []
    bands: list[tuple[Draw, np.ndarray]] = []
    what = "DICOM files" if fmt == "dicom" else "PNGs"
    total = sum(d.n for d in draws)
    with tqdm(total=total, unit="img", disable=not progress, leave=False) as bar:
        for draw in draws:
            bar.set_description(f"drawing {draw.label or 'images'}")
            images = draw_images(model, draw, device)
            folder = out if draw.class_index is None else out / draw.label
            series = SyntheticSeries.new(
                draw.label, 1 + (draw.class_index or 0), created, f"cxrgan {__version__}",
                study_uid,
            )  # fmt: skip
            bar.set_description(f"writing {what}{f' of {draw.label}' if draw.label else ''}")
            for i, pixels in enumerate(images):
                path = folder / _file_name(draw, i, fmt)
                uid = _write_image(path, pixels, fmt, series, draw, i, common["checkpoint"])
                rel = path.relative_to(out).as_posix()
                rows.append({**common, **_draw_fields(draw, i), "file": rel,
                             "sop_instance_uid": uid})  # fmt: skip
                files.append(path)
                bar.update(1)
            if grid:  # an unconditional grid tiles every image, as it always has
                unconditional = draw.class_index is None
                bands.append((draw, images if unconditional else images[:GRID_BAND]))
    written = {r["file"] for r in rows}
    kept = [r for r in earlier if r.get("file") not in written and (out / r["file"]).is_file()]
    manifest = write_manifest(out / MANIFEST, [*kept, *rows])
    grid_path = _write_grid(out / "grid.png", model.spec, bands) if grid else None
    counts = {d.label: d.n for d in draws}
    return GeneratedSet(out, counts, files, manifest, len(kept), grid_path,
                        model.spec.resolution, fmt)  # fmt: skip


def _file_name(draw: Draw, index: int, fmt: str) -> str:
    # Unconditional: the flat names `generate` has always written; classes: 00000, 00001, ...
    stem = f"sample_{index:05d}" if draw.class_index is None else f"{index:05d}"
    return stem + _SUFFIX[fmt]


def _write_image(
    path: Path,
    pixels: np.ndarray,
    fmt: str,
    series: SyntheticSeries,
    draw: Draw,
    index: int,
    checkpoint: str,
) -> str:
    """Write one image atomically; its SOP Instance UID for DICOM, else ""."""
    if fmt == "dicom":
        derivation = (
            f"checkpoint {checkpoint}, seed {draw.draw_seed}, image {index} of a draw of {draw.n}"
        )
        return write_synthetic_dicom(path, pixels, series, index + 1, derivation)
    with atomic_path(path, ".png") as tmp:
        Image.fromarray(np.ascontiguousarray(pixels), "L").save(tmp)
    return ""


def _manifest_common(
    model: LoadedGenerator, fmt: str, device: str | torch.device, created: datetime
) -> dict[str, str]:
    """The manifest fields every row of one call shares."""
    return {
        "format": fmt,
        "image_size": str(model.spec.resolution),
        "checkpoint": model.checkpoint.stem,
        "checkpoint_path": str(model.checkpoint.resolve()),
        # "last" moves on as training continues: the hash says which weights drew the rows.
        "checkpoint_sha256": file_sha256(model.checkpoint),
        "generator": "ema" if model.ema else "raw",
        "model": model.spec.describe(),
        "spec": json.dumps(model.spec.to_dict(), sort_keys=True),
        "device": str(device),
        "cxrgan_version": __version__,
        "created_at": created.isoformat(timespec="seconds"),
    }


def _draw_fields(draw: Draw, index: int) -> dict[str, str]:
    return {
        "class": draw.label,
        "class_index": "" if draw.class_index is None else str(draw.class_index),
        "seed": str(draw.seed),
        "draw_seed": str(draw.draw_seed),
        "draw_n": str(draw.n),
        "index": str(index),
    }


def read_manifest(path: Path) -> list[dict[str, str]]:
    """The rows of a manifest.csv, as dicts of strings."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CxrganError(f"cannot read {path}: {exc}") from None
    if rows and "file" not in rows[0]:
        raise CxrganError(f"{path} is not a cxrgan manifest (no 'file' column)")
    return rows


def write_manifest(path: Path, rows: Sequence[Mapping[str, str]]) -> Path:
    """`rows` as a CSV with MANIFEST_COLUMNS, written atomically; columns it does not know
    (from a newer cxrgan) are dropped, missing ones left empty."""
    with atomic_path(path, ".csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, MANIFEST_COLUMNS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_grid(path: Path, spec: ModelSpec, bands: list[tuple[Draw, np.ndarray]]) -> Path:
    """grid.png: an unconditional draw tiled as it always was; classes as one labelled band
    of whole rows each (the first images of every class), as training's sample grids."""
    if len(bands) == 1 and bands[0][0].class_index is None:
        save_grid(bands[0][1], path)
        return path
    # Whole rows per band: as many columns as the smallest draw allows, up to 8.
    columns = min(GRID_COLUMNS, *(len(images) for _, images in bands))
    per = columns * max(1, min(GRID_ROWS_PER_CLASS, min(len(im) for _, im in bands) // columns))
    images = np.concatenate([im[:per] for _, im in bands])
    labels = [d.class_index or 0 for d, _ in bands for _ in range(per)]
    save_png_atomic(Image.fromarray(class_grid(images, labels, class_names(spec), columns)), path)
    return path


def redraw(
    row: Mapping[str, str], run_dir: Path | None = None, device: str | torch.device | None = None
) -> np.ndarray:
    """The image one manifest row describes, drawn again as (S, S) uint8.

    run_dir: the run (default: the folder above the row's checkpoint_path). device: default the
    row's; CPU and CUDA draw different noise from one seed, so redraw on the row's device.
    A checkpoint that changed since the row was written (its sha256 differs) is an error.
    """
    ckpt = Path(row["checkpoint_path"])
    run = Path(run_dir) if run_dir is not None else ckpt.parent.parent
    dev = device if device is not None else row.get("device") or "cpu"
    model = load_model(run, row["checkpoint"], dev, raw=row.get("generator") == "raw")
    want = row.get("checkpoint_sha256")
    if want and file_sha256(model.checkpoint) != want:
        raise CxrganError(
            f"{model.checkpoint} has changed since the manifest row for {row['file']} was "
            f"written (its sha256 differs): it no longer draws that image"
        )
    n, index = int(row["draw_n"]), int(row["index"])
    labels = None
    if row.get("class_index"):
        labels = torch.full((n,), int(row["class_index"]), dtype=torch.long)
    # draw_seed as recorded, not recomputed from seed: the row says what was drawn.
    return sample_images(model.g, n, int(row["draw_seed"]), dev, labels=labels)[index]
