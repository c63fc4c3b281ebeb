"""A folder of chest X-rays → one in-memory uint8 array, decoded once, in parallel."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cxrgan.data.decode import is_image_candidate, read_gray
from cxrgan.data.preprocess import fit_square
from cxrgan.errors import CxrganError, UnreadableImage


@dataclass
class ImageSet:
    """Preprocessed training images and what we know about where they came from."""

    images: np.ndarray  # (N, S, S) uint8, gray, 0 = black
    labels: np.ndarray  # (N,) int64 index into `classes`
    classes: list[str]
    paths: list[str]  # relative to `root`
    root: Path | None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    synthetic: bool = False

    def __len__(self) -> int:
        return len(self.images)

    @property
    def class_counts(self) -> dict[str, int]:
        counts = Counter(int(i) for i in self.labels)
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}

    @property
    def fingerprint(self) -> str:
        """Identifies the file list (not the pixels): same folder, same fingerprint."""
        return hashlib.sha256("\n".join(self.paths).encode()).hexdigest()[:16]


def scan_folder(root: Path) -> list[Path]:
    """All image-like files under `root`, recursively, in a stable order."""
    if not root.exists():
        raise CxrganError(f"data folder not found: {root}")
    if not root.is_dir():
        raise CxrganError(f"--data must be a folder, got a file: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise CxrganError(f"data folder is empty: {root}")
    return files


def label_of(path: Path, root: Path) -> str:
    """The immediate subfolder under `root` names the class; files at the top level have none."""
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def _decode_one(job: tuple[str, int, str]) -> tuple[np.ndarray | None, str]:
    path, size, fit = job
    try:
        return fit_square(read_gray(Path(path), size), size, fit), ""
    except UnreadableImage as exc:
        return None, str(exc)
    except Exception as exc:  # a broken file must never take the whole run down
        return None, f"{path}: {type(exc).__name__}: {exc}"


def load_folder(
    root: Path, image_size: int, fit: str = "crop", workers: int = 0, progress: bool = True
) -> ImageSet:
    """Decode every readable image under `root`; unreadable files are skipped and listed."""
    root = root.resolve()
    files = scan_folder(root)
    candidates = [p for p in files if is_image_candidate(p)]
    skipped = [(str(p.relative_to(root)), "not an image file") for p in files if p not in set(candidates)]
    jobs = [(str(p), image_size, fit) for p in candidates]
    results = _map(jobs, workers, progress)
    images, labels, paths = [], [], []
    for path, (pixels, reason) in zip(candidates, results, strict=True):
        rel = str(path.relative_to(root))
        if pixels is None:
            skipped.append((rel, reason))
            continue
        images.append(pixels)
        labels.append(label_of(path, root))
        paths.append(rel)
    if not images:
        raise CxrganError(f"no readable images in {root} ({len(skipped)} files skipped)")
    classes = sorted(set(labels))
    index = {name: i for i, name in enumerate(classes)}
    return ImageSet(
        images=np.stack(images),
        labels=np.array([index[x] for x in labels], dtype=np.int64),
        classes=classes,
        paths=paths,
        root=root,
        skipped=skipped,
    )


def _map(jobs: list[tuple[str, int, str]], workers: int, progress: bool) -> list:
    bar = dict(total=len(jobs), desc="decoding images", unit="img", disable=not progress)
    if workers <= 0:
        workers = min(len(jobs) // 64, os.cpu_count() or 1)
    if workers <= 1:
        return [_decode_one(j) for j in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_decode_one, jobs, chunksize=32), **bar))
