"""The utility score's inputs: folders of images in class subfolders, or a conditional run, with
their classes checked against the real training folder's by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cxrgan.data.folder import ImageSet, load_folder
from cxrgan.data.labels.options import LabelRequest
from cxrgan.errors import CxrganError, printable
from cxrgan.inference import generate

Log = Callable[[str], None]
CLASS_FOLDERS = "class subfolders such as NORMAL/ and PNEUMONIA/"
SHOWN = 5  # shared patients named in the refusal


@dataclass
class SyntheticPool:
    """Synthetic images per class (each (n, S, S) uint8) and where they came from."""

    by_class: dict[str, np.ndarray]
    source: dict[str, Any]


def load_labelled(
    folder: Path,
    flag: str,
    image_size: int,
    fit: str,
    *,
    workers: int = 0,
    progress: bool = True,
    cache_dir: Path | None = None,
    log: Log = print,
    labels: LabelRequest | None = None,
) -> ImageSet:
    """Every image under `folder`, labelled by class subfolder (or the images a label file
    chooses, with its classes and patients); at least two classes, and no image outside a
    class subfolder."""
    folder = Path(folder)
    if not folder.exists():
        raise CxrganError(f"{flag} {folder} does not exist")
    if not folder.is_dir():
        raise CxrganError(f"{flag} {folder} is not a folder")
    data = load_folder(folder, image_size, fit, workers, progress, cache_dir, log, labels)
    if "" in data.classes:
        loose = [p for p, k in zip(data.paths, data.labels, strict=True) if data.classes[k] == ""]
        raise CxrganError(
            f"{flag} {folder}: {len(loose)} image(s) sit outside a class subfolder (e.g. "
            f"{loose[0]}); the utility score needs every image in {CLASS_FOLDERS}"
        )
    if len(data.classes) < 2:
        where = f"the label file {printable(labels.file)} chooses" if labels else CLASS_FOLDERS
        raise CxrganError(
            f"{flag} {folder} holds one class ({data.classes[0]}); the utility score needs "
            f"{where}, at least two"
        )
    if data.skipped:
        log(f"{flag}: skipped {len(data.skipped)} unreadable file(s), e.g. {data.skipped[0][0]}")
    return data


def check_patients_apart(train: ImageSet, test: ImageSet) -> dict[str, int] | None:
    """Refuse a patient of the label files on both sides; the patients per side (None when a
    side's patients are not known: folders, whose --test is refused only as --train itself)."""
    if train.patients is None or test.patients is None:
        return None
    shared = sorted(set(train.patients) & set(test.patients))
    if shared:
        more = f" and {len(shared) - SHOWN} more" if len(shared) > SHOWN else ""
        names = ", ".join(printable(p) for p in shared[:SHOWN])
        raise CxrganError(
            f"--train and --test share {len(shared)} patient(s) of the label file(s) ({names}"
            f"{more}); the test images must come from other patients (`cxrgan data split "
            "--labels`, docs/utility.md)"
        )
    return {"train": len(set(train.patients)), "test": len(set(test.patients))}


def check_same_classes(expected: Sequence[str], got: Sequence[str], flag: str, path: Path) -> None:
    """`got` must name exactly the classes of --train (order aside)."""
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    if not missing and not extra:
        return
    problems = []
    if missing:
        problems.append(f"no images of {', '.join(missing)}")
    if extra:
        problems.append(f"class(es) that --train lacks: {', '.join(extra)}")
    raise CxrganError(
        f"{flag} {path} has {' and '.join(problems)}; its classes must match those of --train "
        f"({', '.join(expected)}) by name"
    )


def open_run(run: Path, checkpoint: str, device: str) -> generate.LoadedGenerator:
    """A run's generator, which must be conditional (it is asked for each class by name)."""
    loaded = generate.load_model(run, checkpoint, device)
    if not loaded.spec.c_dim:
        raise CxrganError(
            f"{run} is an unconditional run: its generator cannot be asked for a class. The "
            "utility score needs a conditional run (`cxrgan train --conditional`) or a folder "
            f"of synthetic images in {CLASS_FOLDERS}"
        )
    if len(loaded.spec.classes) != loaded.spec.c_dim:
        raise CxrganError(
            f"{run}: checkpoints/{checkpoint} does not name its {loaded.spec.c_dim} classes; "
            "pass --synthetic a folder of its images in class subfolders instead"
        )
    return loaded


def draw_from_run(
    loaded: generate.LoadedGenerator,
    run: Path,
    counts: Mapping[str, int],
    seed: int,
    device: str,
) -> SyntheticPool:
    """`counts[c]` images of each class c from the run's generator, drawn in one seeded pass
    (`sample_images`: each image from its own latent and class, docs/metrics.md)."""
    spec = loaded.spec
    labels = np.concatenate(
        [np.full(n, spec.class_index(c), dtype=np.int64) for c, n in counts.items()]
    )
    pixels = generate.sample_images(loaded.g, len(labels), seed, device, torch.from_numpy(labels))
    by_class = {c: pixels[labels == spec.class_index(c)] for c in counts}
    source = {
        "kind": "run",
        "path": str(Path(run).resolve()),
        "checkpoint": str(loaded.checkpoint),
        "generator": "G_ema" if loaded.ema else "G",
        "model": spec.describe(),
        "seed": seed,
        "drawn": dict(counts),
    }
    return SyntheticPool(by_class, source)


def pick_from_folder(
    data: ImageSet, folder: Path, counts: Mapping[str, int], seed: int
) -> SyntheticPool:
    """`counts[c]` images of each class c from a folder, picked at random (seeded), never twice."""
    rng = np.random.default_rng(seed)
    by_class = {}
    for c, n in counts.items():
        idx = np.flatnonzero(data.labels == data.classes.index(c))
        if len(idx) < n:
            raise CxrganError(
                f"--synthetic {folder} has {len(idx)} {c} image(s) but the score needs {n} "
                f"(the synthetic-only set has as many of each class as --train, and the top-up "
                f"as many as the largest class lacks); add more, e.g. with `cxrgan generate`"
            )
        by_class[c] = data.images[np.sort(rng.permutation(idx)[:n])]
    source = {
        "kind": "folder",
        "path": str(Path(folder).resolve()),
        "available": data.class_counts,
        "seed": seed,
        "drawn": dict(counts),
    }
    return SyntheticPool(by_class, source)
