"""`cxrgan evaluate` as a function: load both sides, match their classes, draw, run every
metric overall and per class, and build the payload that `--json` writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.data.labels.options import LabelRequest
from cxrgan.errors import CxrganError
from cxrgan.evaluation import defaults as d
from cxrgan.evaluation.classes import class_counts, first_of_each_class, split_in_proportion
from cxrgan.evaluation.sides import (
    Side,
    folder_side,
    generated_side,
    only,
    shared_classes,
    without_loose,
)
from cxrgan.evaluation.sizes import Sizes, native_sizes, one_square, size_messages
from cxrgan.inference.generate import LoadedGenerator, load_model
from cxrgan.inference.generated_set import class_names, class_seed
from cxrgan.metrics import evaluate_sets, memorisation, save_memorisation_png
from cxrgan.metrics.evaluate import ClassResult, evaluate_classes, skipped_metrics
from cxrgan.metrics.images import subsample
from cxrgan.metrics.registry import key_info, registered_metrics
from cxrgan.reporting.run_records import is_run_dir

Log = Callable[[str], None]
MEMORISATION = "memorisation"  # the registry's name of the copy check, whose pairs are saved


@dataclass(frozen=True)
class EvaluateOptions:
    """What `cxrgan evaluate` is asked (its options, one field each)."""

    real: Path  # folder of real images: the TRAINING set for the memorisation check
    fake: Path  # folder of generated images, or a run directory to generate from
    n: int = d.N
    image_size: int | None = None  # None: the run's, else the generated images' own, else 64
    fit: str = d.FIT
    checkpoint: str = d.CHECKPOINT
    seed: int = d.SEED
    memorisation_png: Path | None = None  # None: RUN/memorisation.png for a run, else not saved
    progress: bool = True
    real_labels: LabelRequest | None = None  # a label file gives --real's images and classes


@dataclass
class Evaluation:
    """What one evaluation found."""

    payload: dict[str, Any]  # what `cxrgan evaluate --json` writes
    per_class: dict[str, ClassResult]  # {} when the sides share no class
    memorisation_png: Path | None  # where the closest pairs were saved; None: none saved


@dataclass
class _Loaded:
    real: Side
    fake: Side
    size: int
    model: LoadedGenerator | None  # the run's generator, when `fake` is a run


def evaluate(options: EvaluateOptions, log: Log | None = print) -> Evaluation:
    """Every metric between the real images and the generated ones, overall and per class.

    log: receives notes and warnings ('warning: ...') as they arise; None: silence."""
    say = log or _quiet
    _check(options)
    loaded = _load(options, say)
    where = (options.real, options.fake)
    classes, notes = shared_classes(loaded.real, loaded.fake, where, loaded.model is not None)
    for line in notes:
        say(line)
    real, fake = loaded.real, loaded.fake
    if classes:  # overall = the classes pooled
        real, fake = only(real, classes), only(fake, classes)
    overall = _overall_fake(real, fake, options.n, drawn=bool(classes and loaded.model))
    picked = subsample(np.arange(len(overall.images)), options.n, options.seed + 1)  # as
    fake_images = overall.images[picked]  # evaluate_sets draws them
    n = options.n
    skipped = skipped_metrics(min(len(real.images), n), min(len(fake_images), n), len(real.images))
    if len(skipped) == len(registered_metrics()):
        raise CxrganError("nothing to compute: " + "; ".join(skipped.values()))
    memorised = memorisation(real.images, fake_images) if MEMORISATION not in skipped else None
    results = evaluate_sets(real.images, fake_images, n=n, seed=options.seed, memorised=memorised)
    png = _pairs_png(options, loaded.model is not None) if memorised is not None else None
    if png is not None:
        save_memorisation_png(memorised, fake_images, real.images, png)
    per_class: dict[str, ClassResult] = {}
    if classes:
        per_class = evaluate_classes(real.images, real.labels, fake.images, fake.labels,
                                     classes, n=n, seed=options.seed)  # fmt: skip
    payload = _payload(options, loaded, results, skipped, per_class)
    if classes:
        payload["overall_classes"] = _overall_classes(real, overall.labels[picked], options)
    if classes and loaded.model:
        _add_draws(payload, loaded.model, fake, options.seed)
    return Evaluation(payload, per_class, png)


def _quiet(line: str) -> None:
    pass


def _check(options: EvaluateOptions) -> None:
    if options.n < d.MIN_N:
        raise CxrganError(f"--n must be at least {d.MIN_N}, got {options.n}")
    if options.image_size is not None and options.image_size < d.MIN_IMAGE_SIZE:
        raise CxrganError(
            f"--image-size must be at least {d.MIN_IMAGE_SIZE} px (the smallest size the "
            f"wavelet metrics work at), got {options.image_size}"
        )


def _load(options: EvaluateOptions, log: Log) -> _Loaded:
    """Both sides at one size, with what that size did to them said, and the run's notes."""
    model = None
    if is_run_dir(options.fake):
        # The size is the generator's own, rebuilt from the model spec in its checkpoint.
        model = load_model(options.fake, options.checkpoint)
        size = model.spec.resolution
        if options.image_size and options.image_size != size:
            raise CxrganError(f"{options.fake} generates {size} px images; drop --image-size "
                              f"or pass {size}")  # fmt: skip
        real = folder_side(options.real, size, options.fit, options.progress, log,
                           options.real_labels)  # fmt: skip
        where = (options.real, options.fake)
        fake = generated_side(model, real, options.n, options.seed, where)
        fake_sizes: Sizes = Counter({(size, size): len(fake.images)})
    else:
        fake_sizes = native_sizes(options.fake)
        size = options.image_size or one_square(fake_sizes) or d.IMAGE_SIZE
        fake = folder_side(options.fake, size, options.fit, options.progress, log)
        real = folder_side(options.real, size, options.fit, options.progress, log,
                           options.real_labels)  # fmt: skip
    for line in size_messages(fake_sizes, native_sizes(options.real), size, options.fit):
        log(line)
    if fake.note:
        log(fake.note)
    if model is None:  # what generate --grid leaves beside the class folders: no generated image
        fake = without_loose(fake, options.fake, log)
    return _Loaded(real, fake, size, model)


def _pairs_png(options: EvaluateOptions, from_run: bool) -> Path | None:
    """Where the closest pairs go: --memorisation-png, else the run's folder, else nowhere (a
    folder of images is no place to write into, nor is the current folder)."""
    if options.memorisation_png is not None:
        return options.memorisation_png
    return options.fake / "memorisation.png" if from_run else None


def _overall_fake(real: Side, fake: Side, n: int, drawn: bool) -> Side:
    """The generated images the overall numbers use. A run drew every class as often as the
    real side has it (up to n): the overall set takes them in the real side's proportions, as
    a pooled folder would hold them."""
    if not drawn:
        return fake
    share = split_in_proportion(min(n, len(real.images)), class_counts(real.labels))
    keep = first_of_each_class(fake.labels, share)
    return Side(fake.images[keep], fake.labels[keep])


def _overall_classes(real: Side, fake_labels: np.ndarray, options: EvaluateOptions) -> (
    dict[str, dict[str, int]]
):  # fmt: skip
    """How many images of each class the overall numbers drew on each side."""
    real_used = real.labels[subsample(np.arange(len(real.labels)), options.n, options.seed)]
    return {"real": class_counts(real_used), "generated": class_counts(fake_labels)}


def _payload(
    options: EvaluateOptions,
    loaded: _Loaded,
    results: dict[str, float | None],
    skipped: dict[str, str],
    per_class: dict[str, ClassResult],
) -> dict[str, Any]:
    about = key_info()
    return {
        "real": str(options.real),
        "fake": str(options.fake),
        "image_size": loaded.size,
        "checkpoint": options.checkpoint if loaded.model else None,
        "metrics": results,
        "skipped": skipped,
        "about": {k: about[k].about() for k in results if k in about},
        "classes": list(per_class),
        "per_class": {
            name: {"metrics": r.metrics, "skipped": r.skipped} for name, r in per_class.items()
        },
    }


def _add_draws(payload: dict[str, Any], model: LoadedGenerator, fake: Side, seed: int) -> None:
    """How to draw each class's images again: `cxrgan generate --label NAME --n N --seed S`."""
    names = class_names(model.spec)
    drawn = class_counts(fake.labels)
    for name, entry in payload["per_class"].items():
        entry["generated"] = {
            "n": drawn[name], "seed": seed, "draw_seed": class_seed(seed, names.index(name)),
        }  # fmt: skip
