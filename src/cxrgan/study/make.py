"""`cxrgan turing make`: a balanced, seeded mix of real and generated images, the reading page,
and the answer key the organiser keeps.

STUDY/
├── study.html     what readers get: opaque ids and embedded PNGs only
├── key.json       the answer key: per id, real or fake, class, where it came from
└── images/ID.png  the same images, for the organiser (score draws its grids from them)
"""

from __future__ import annotations

import base64
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from cxrgan.data.decode import is_image_candidate, read_gray
from cxrgan.data.preprocess import fit_square
from cxrgan.data.scan import class_labels, scan_files
from cxrgan.errors import CxrganError, UnreadableImage
from cxrgan.files import atomic_path, json_text
from cxrgan.study.page import study_page

KEY_FORMAT = 1
PAGE = "study.html"
KEY = "key.json"
IMAGES = "images"
TITLE = "Chest X-ray reading study"


@dataclass
class Item:
    truth: str  # "real" or "fake"
    cls: str  # class name, "" when unknown
    source: str  # the real file, or "RUN checkpoint seed i" for a generated image
    pixels: np.ndarray  # (S, S) uint8
    id: str = ""


@dataclass
class Fakes:
    """The study's generated images, and the size, fit and class handling the reals follow."""

    items: list[Item]
    size: int
    conditional: bool  # the fakes have classes: the reals follow them, class for class
    fit: str


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, "utf-8")


def is_run(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "checkpoints").is_dir()


def _images_by_class(folder: Path) -> dict[str, list[Path]]:
    entries = [e for e in scan_files(folder) if is_image_candidate(e.path)]
    if not entries:
        raise CxrganError(f"no image files under {folder}")
    out: dict[str, list[Path]] = {}
    for entry, cls in zip(entries, class_labels([e.rel for e in entries]), strict=True):
        out.setdefault(cls, []).append(entry.path)
    return out


def _split(total: int, classes: list[str]) -> dict[str, int]:
    """`total` spread as evenly as possible over `classes` (the first ones take the remainder)."""
    base, extra = divmod(total, len(classes))
    return {c: base + (i < extra) for i, c in enumerate(classes)}


def _read(path: Path, size: int, fit: str) -> np.ndarray | None:
    try:
        return fit_square(read_gray(path, size), size, fit)
    except (UnreadableImage, OSError, ValueError):
        return None


def _draw_files(
    pool: dict[str, list[Path]],
    counts: dict[str, int],
    rng: random.Random,
    size: int,
    fit: str,
    truth: str,
) -> list[Item]:
    items = []
    for cls, k in counts.items():
        files = list(pool.get(cls, []))
        rng.shuffle(files)
        got = [(p, a) for p in files if (a := _read(p, size, fit)) is not None][:k] if k else []
        # (reads every file only when many are unreadable; normally the first k suffice)
        if len(got) < k:
            where = f" of class {cls}" if cls else ""
            raise CxrganError(f"need {k} readable {truth} images{where}, found {len(got)}")
        items += [Item(truth, cls, str(p), a) for p, a in got]
    return items


def _draw_real(pool: dict[str, list[Path]], counts: dict[str, int], rng, size, fit) -> list[Item]:
    return _draw_files(pool, counts, rng, size, fit, "real")


def _run_info(run: Path) -> dict:
    try:
        return json.loads((run / "config.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CxrganError(f"cannot read {run / 'config.json'}: {exc}") from None


def _generated(
    run: Path, n: int, real_classes: list[str], seed: int, checkpoint: str, device: str
) -> tuple[list[Item], int, bool, str]:
    """n images of the run's G_ema; balanced over the classes when the model is conditional."""
    # deferred: torch loads only when a study draws from a run
    import torch

    from cxrgan.inference.generate import load_generator, sample_images
    from cxrgan.training.device import resolve_device

    device = str(resolve_device(device))  # auto: cuda, else mps, else cpu
    g = load_generator(run, checkpoint, device)
    info = _run_info(run)
    fit = str((info.get("config") or {}).get("fit") or "crop")
    if g.c_dim:
        trained = list(((info.get("dataset") or {}).get("classes") or {}).keys())
        if len(trained) != g.c_dim:
            raise CxrganError(
                f"{run}: the model has {g.c_dim} classes but config.json names {len(trained)}"
            )
        missing = [c for c in trained if c not in real_classes]
        if missing:
            raise CxrganError(f"--real has no folder for class(es) {', '.join(missing)}")
        counts = _split(n, trained)
        labels = [trained.index(c) for c, k in counts.items() for _ in range(k)]
        pixels = sample_images(g, n, seed, device, labels=torch.tensor(labels))
        names = [trained[i] for i in labels]
    else:
        pixels = sample_images(g, n, seed, device)
        names = [""] * n
    items = [
        Item("fake", cls, f"{run} {checkpoint} seed {seed} #{i}", pixels[i])
        for i, cls in enumerate(names)
    ]
    return items, g.resolution, bool(g.c_dim), fit


def _png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels), "L").save(buf, "PNG")  # no text chunks
    return buf.getvalue()


def _ids(n: int, rng: random.Random) -> list[str]:
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(f"{rng.getrandbits(40):010x}")
    return sorted(ids)


def make_study(
    real: Path,
    fake: Path,
    n: int,
    out: Path,
    *,
    seed: int = 0,
    checkpoint: str = "last",
    image_size: int | None = None,
    fit: str | None = None,
    device: str = "cpu",
    title: str = TITLE,
) -> dict:
    """Write STUDY/ (page, key, images); returns the key."""
    if n < 2:
        raise CxrganError(f"--n must be at least 2, got {n}")
    out = Path(out)
    if (out / KEY).exists():
        raise CxrganError(f"{out} already holds a study ({KEY}); pick another --out")
    rng = random.Random(seed)
    real_pool = _images_by_class(Path(real))
    classes = sorted(real_pool)
    n_fake, n_real = n // 2, n - n // 2
    run = Path(fake) if is_run(Path(fake)) else None
    if run is not None:
        fakes = _fakes_from_run(run, n_fake, classes, seed, checkpoint, device, image_size, fit)
    else:
        fakes = _fakes_from_folder(Path(fake), n_fake, classes, rng, image_size, fit)
    real_counts = _real_counts(real_pool, n_real, fakes, rng)
    items = _draw_real(real_pool, real_counts, rng, fakes.size, fakes.fit) + fakes.items
    for item, id_ in zip(items, _ids(len(items), rng), strict=True):
        item.id = id_
    rng.shuffle(items)
    study_id = _write_page_and_images(out, items, rng, title)
    key = {
        "format": KEY_FORMAT,
        "study": study_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "n": len(items),
        "image_size": fakes.size,
        "fit": fakes.fit,
        "real": str(Path(real).resolve()),
        "fake": str(Path(fake).resolve()),
        "run": str(run.resolve()) if run else None,
        "checkpoint": checkpoint if run else None,
        "conditional": fakes.conditional,
        "classes": sorted({i.cls for i in items if i.cls}),
        "images": [
            {"id": i.id, "truth": i.truth, "class": i.cls, "source": i.source} for i in items
        ],
    }
    write_text(out / KEY, json_text(key, indent=1) + "\n")
    return key


def _fakes_from_run(
    run: Path,
    n: int,
    classes: list[str],
    seed: int,
    checkpoint: str,
    device: str,
    image_size: int | None,
    fit: str | None,
) -> Fakes:
    items, size, conditional, run_fit = _generated(run, n, classes, seed, checkpoint, device)
    if image_size and image_size != size:
        raise CxrganError(f"the run makes {size} px images; --image-size {image_size} differs")
    return Fakes(items, size, conditional, fit or run_fit)


def _fakes_from_folder(
    folder: Path,
    n: int,
    classes: list[str],
    rng: random.Random,
    image_size: int | None,
    fit: str | None,
) -> Fakes:
    pool = _images_by_class(folder)
    conditional = len(pool) > 1 and set(pool) <= set(classes)
    first = next(iter(pool.values()))[0]
    size = image_size or read_gray(first).width
    fit = fit or "crop"
    if conditional:
        counts = _split(n, sorted(pool))
    else:
        pool = {"": [p for ps in pool.values() for p in ps]}
        counts = {"": n}
    return Fakes(_draw_files(pool, counts, rng, size, fit, "fake"), size, conditional, fit)


def _real_counts(
    pool: dict[str, list[Path]], n: int, fakes: Fakes, rng: random.Random
) -> dict[str, int]:
    if fakes.conditional:  # the reals follow the fakes' classes, class for class
        return _split(n, sorted({f.cls for f in fakes.items}))
    # A random draw: the classes as often as the data holds them.
    classes = sorted(pool)
    flat = [(c, p) for c in classes for p in pool[c]]
    picked = rng.sample(flat, min(len(flat), n))
    return {c: sum(1 for pc, _ in picked if pc == c) for c in classes}


def _write_page_and_images(out: Path, items: list[Item], rng: random.Random, title: str) -> str:
    """images/ID.png and the reading page; returns the study's id."""
    (out / IMAGES).mkdir(parents=True, exist_ok=True)
    pages = []
    for item in items:
        png = _png_bytes(item.pixels)
        (out / IMAGES / f"{item.id}.png").write_bytes(png)
        pages.append((item.id, "data:image/png;base64," + base64.b64encode(png).decode()))
    study_id = f"{rng.getrandbits(64):016x}"
    write_text(out / PAGE, study_page(study_id, title, pages))
    return study_id
