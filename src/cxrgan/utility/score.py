"""The utility score end to end: load the folders (or draw from a run), train the classifier on
each training set with each seed, score it on the held-out real images, and summarise.

Statistics (docs/utility.md explains how to read them):
- per seed, each score of each set; their mean and sample standard deviation (ddof 1) over seeds;
- 95 % percentile intervals from BOOTSTRAP resamples of the test images, stratified by class:
  on each resample every seed's classifier is scored and the seeds' scores averaged, so an
  interval is that of the mean over seeds, the number shown;
- TSTR/TRTR ratios and the gain of real+synthetic over real are computed on the same resamples
  (paired), so their intervals account for the test images the sets share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan import __version__
from cxrgan.data.folder import ImageSet
from cxrgan.data.labels.options import LabelRequest
from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path, json_ready, json_text
from cxrgan.inference.generate import LoadedGenerator
from cxrgan.reporting.run_records import is_run_dir, run_settings
from cxrgan.training.device import resolve_device
from cxrgan.utility import classifier
from cxrgan.utility.chart import plot_utility
from cxrgan.utility.defaults import (
    BOOTSTRAP,
    CHECKPOINT,
    CONFIDENCE,
    EPOCHS,
    GAIN_TARGET,
    IMAGE_SIZE,
    MIN_BOOTSTRAP,
    MIN_IMAGE_SIZE,
    SEEDS,
    TSTR_TARGET,
)
from cxrgan.utility.inputs import (
    SyntheticPool,
    check_patients_apart,
    check_same_classes,
    draw_from_run,
    load_labelled,
    open_run,
    pick_from_folder,
)
from cxrgan.utility.sets import SHORT, SetPlan, assemble, plan_sets, synthetic_needed
from cxrgan.utility.stats import METRICS, bootstrap_scores, interval, mean_std, scores
from cxrgan.utility.summary import counts_text, scores_line

Log = Callable[[str], None]
UTILITY_JSON = "utility.json"
UTILITY_PNG = "utility.png"
FORMAT = 1


@dataclass(frozen=True)
class UtilityOptions:
    train: Path
    test: Path
    synthetic: Path  # a conditional run, or a folder in class subfolders
    image_size: int | None = None  # None: the run's, else IMAGE_SIZE
    fit: str | None = None  # None: the run's, else crop
    seeds: int = SEEDS
    seed: int = 0  # classifiers use seed, seed+1, ...; the synthetic draw uses seed
    epochs: int = EPOCHS
    bootstrap: int = BOOTSTRAP
    checkpoint: str = CHECKPOINT
    device: str = "cpu"
    workers: int = 0
    cache_dir: Path | None = None
    progress: bool = True
    labels: LabelRequest | None = None  # a label file gives --train's classes and patients
    test_labels: LabelRequest | None = None  # and --test's (docs/utility.md)


def check_options(o: UtilityOptions) -> None:
    if o.seeds < 1:
        raise CxrganError(f"--seeds must be at least 1, got {o.seeds}")
    if o.epochs < 1:
        raise CxrganError(f"--epochs must be at least 1, got {o.epochs}")
    if o.bootstrap < MIN_BOOTSTRAP:
        raise CxrganError(f"--bootstrap must be at least {MIN_BOOTSTRAP}, got {o.bootstrap}")
    if o.image_size is not None and o.image_size < MIN_IMAGE_SIZE:
        raise CxrganError(f"--image-size must be at least {MIN_IMAGE_SIZE}, got {o.image_size}")
    if Path(o.train).resolve() == Path(o.test).resolve() and not _other_files(o):
        raise CxrganError(
            "--test is the --train folder; the test images must be held out from training "
            "(split by patient, see docs/utility.md)"
        )
    if not is_run_dir(o.synthetic) and not Path(o.synthetic).is_dir():
        raise CxrganError(
            f"--synthetic {o.synthetic} is neither a run directory (no config.json) nor a folder"
        )


def _other_files(o: UtilityOptions) -> bool:
    """Whether --train and --test read different label files (then one folder may hold both)."""
    if o.labels is None or o.test_labels is None:
        return False
    return o.labels.file.resolve() != o.test_labels.file.resolve()


@dataclass
class Source:
    """Where the synthetic images come from, and the size and fit every image is loaded at."""

    run: Path | None
    loaded: LoadedGenerator | None
    size: int
    fit: str


def open_source(o: UtilityOptions, device: str) -> Source:
    """A run is opened first: its generator's size and its --fit apply to the real folders."""
    if not is_run_dir(o.synthetic):
        return Source(None, None, o.image_size or IMAGE_SIZE, o.fit or "crop")
    run = Path(o.synthetic)
    loaded = open_run(run, o.checkpoint, device)
    size = loaded.spec.resolution
    if o.image_size and o.image_size != size:
        raise CxrganError(f"{run} draws {size} px images; drop --image-size or pass {size}")
    if size < MIN_IMAGE_SIZE:
        raise CxrganError(f"{run} draws {size} px images; the classifier needs ≥ {MIN_IMAGE_SIZE}")
    return Source(run, loaded, size, o.fit or str(run_settings(run).get("fit") or "crop"))


def run_utility(o: UtilityOptions, log: Log = print) -> dict[str, Any]:
    """Everything utility.json holds (see docs/utility.md for its keys)."""
    check_options(o)
    started = time.perf_counter()
    device = str(resolve_device(o.device))
    src = open_source(o, device)
    inputs = _load_inputs(o, src, device, log)
    predictions, per_seed = _train_every_set(inputs, o, device, log)
    draws = bootstrap_scores(predictions, inputs.test_labels, o.bootstrap, seed=o.seed)
    result = _result(o, src, inputs, device, per_seed, draws)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return json_ready(result)  # NaN as None, numpy scalars as Python numbers


@dataclass
class Inputs:
    """The real images, the planned training sets and the synthetic images they draw on."""

    train: ImageSet
    test: ImageSet
    classes: list[str]  # --train's, in its order; every other source is checked against it
    test_labels: np.ndarray  # the test images' labels as indices into `classes`
    plans: list[SetPlan]
    pool: SyntheticPool
    patients: dict[str, int] | None = None  # per side, when label files name them


def _load_inputs(o: UtilityOptions, src: Source, device: str, log: Log) -> Inputs:
    """--train and --test, then the synthetic images the sets need (drawn or picked)."""

    def load(folder: Path, flag: str, labels: LabelRequest | None = None) -> ImageSet:
        return load_labelled(
            folder,
            flag,
            src.size,
            src.fit,
            workers=o.workers,
            progress=o.progress,
            cache_dir=o.cache_dir,
            log=log,
            labels=labels,
        )

    train = load(o.train, "--train", o.labels)
    test = load(o.test, "--test", o.test_labels)
    patients = check_patients_apart(train, test)
    if patients is not None:
        log(f"patients of the label file(s): {patients['train']} in --train and "
            f"{patients['test']} in --test, none shared")  # fmt: skip
    classes = list(train.classes)
    check_same_classes(classes, test.classes, "--test", o.test)
    test_labels = np.array([classes.index(test.classes[k]) for k in test.labels])
    plans = plan_sets(train.class_counts)
    need = synthetic_needed(plans)
    if src.run is not None and src.loaded is not None:
        check_same_classes(classes, src.loaded.spec.classes, "--synthetic", src.run)
        log(f"drawing {sum(need.values())} synthetic images from {src.run} ({counts_text(need)})")
        pool = draw_from_run(src.loaded, src.run, need, o.seed, device)
    else:
        data = load(o.synthetic, "--synthetic")
        check_same_classes(classes, data.classes, "--synthetic", o.synthetic)
        pool = pick_from_folder(data, o.synthetic, need, o.seed)
    return Inputs(train, test, classes, test_labels, plans, pool, patients)


def _train_every_set(
    inputs: Inputs, o: UtilityOptions, device: str, log: Log
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[dict[str, Any]]]]:
    """Per set, each seed's predicted probabilities on the test images and its record."""
    seeds = range(o.seed, o.seed + o.seeds)
    predictions: dict[str, list[np.ndarray]] = {}
    per_seed: dict[str, list[dict[str, Any]]] = {}
    train, classes = inputs.train, inputs.classes
    for plan in inputs.plans:
        if plan.key == "augmented" and plan.n_synthetic == 0:
            log("real+synthetic: --train is balanced already, nothing to top up: same as TRTR")
            predictions[plan.key], per_seed[plan.key] = predictions["real"], per_seed["real"]
            continue
        images, labels = assemble(plan, classes, train.images, train.labels, inputs.pool.by_class)
        predictions[plan.key], per_seed[plan.key] = [], []
        for seed in seeds:
            probs, record = _train_and_test(
                images,
                labels,
                len(classes),
                seed,
                inputs.test.images,
                inputs.test_labels,
                o,
                device,
                SHORT[plan.key],
            )
            log(f"{SHORT[plan.key]} seed {seed}: {scores_line(record)} ({record['seconds']:.0f} s)")
            predictions[plan.key].append(probs)
            per_seed[plan.key].append(record)
    return predictions, per_seed


def _result(
    o: UtilityOptions,
    src: Source,
    inputs: Inputs,
    device: str,
    per_seed: Mapping[str, list[dict[str, Any]]],
    draws: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """utility.json's keys but `seconds`, in their order."""
    classes, test_labels = inputs.classes, inputs.test_labels
    return {
        "format": FORMAT,
        "cxrgan_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "train": str(Path(o.train).resolve()),
            "test": str(Path(o.test).resolve()),
            "synthetic": str(Path(o.synthetic).resolve()),
            "synthetic_kind": "run" if src.run is not None else "folder",
            "checkpoint": o.checkpoint if src.run is not None else None,
            "image_size": src.size,
            "fit": src.fit,
            "seeds": list(range(o.seed, o.seed + o.seeds)),
            "epochs": o.epochs,
            "bootstrap": o.bootstrap,
            "confidence": CONFIDENCE,
            "device": device,
            "labels": _labels_record(inputs),
        },
        "classifier": classifier.describe(src.size, len(classes), o.epochs),
        "classes": classes,
        "counts": {
            "train": dict(inputs.train.class_counts),
            "test": {c: int(np.count_nonzero(test_labels == k)) for k, c in enumerate(classes)},
            "n_train": len(inputs.train),
            "n_test": len(inputs.test),
            **({"patients": inputs.patients} if inputs.patients else {}),  # label files only
        },
        "synthetic_source": inputs.pool.source,
        "sets": {p.key: _set_summary(p, per_seed[p.key], draws[p.key]) for p in inputs.plans},
        "chance": _chance(test_labels, len(classes)),
        **_comparisons(per_seed, draws),
        "statistics": {
            "mean_std": "over seeds; std is the sample standard deviation (ddof 1)",
            "ci95": f"percentile interval of {o.bootstrap} bootstrap resamples of the test "
            "images, stratified by class; on each, the mean over seeds of each seed's score",
            "paired": "ratios and gains use the same resamples for every set and seed",
            "bootstrap_seed": o.seed,
        },
    }


def _labels_record(inputs: Inputs) -> dict[str, Any] | None:
    """Each side's label file, its rule and what the rule kept (None: class subfolders)."""
    sides = {"train": inputs.train.label_rule, "test": inputs.test.label_rule}
    return sides if any(sides.values()) else None


def _train_and_test(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    seed: int,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    o: UtilityOptions,
    device: str,
    what: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One classifier: its predicted probabilities on the test images, and its record."""
    trained = classifier.train_classifier(
        images,
        labels,
        n_classes,
        seed,
        epochs=o.epochs,
        device=device,
        progress=o.progress,
        desc=f"{what} seed {seed}",
    )
    probs = classifier.predict_proba(trained.model, test_images, device)
    record = {
        "seed": seed,
        **scores(probs, test_labels),
        "seconds": round(trained.seconds, 2),
        "final_loss": trained.final_loss,
    }
    return probs, record


def _set_summary(plan: SetPlan, per_seed: list[dict[str, Any]], draws: np.ndarray) -> dict:
    mean, std, ci = {}, {}, {}
    for j, m in enumerate(METRICS):
        mean[m], std[m] = mean_std([r[m] for r in per_seed])
        ci[m] = list(interval(draws[:, j]))
    return {
        "title": plan.title,
        "counts": {"real": dict(plan.real), "synthetic": dict(plan.synthetic)},
        "n_images": plan.n_real + plan.n_synthetic,
        "per_seed": per_seed,
        "mean": mean,
        "std": std,
        "ci95": ci,
    }


def _comparisons(per_seed: Mapping[str, list[dict]], draws: Mapping[str, np.ndarray]) -> dict:
    """TSTR/TRTR ratios, the gain of real+synthetic over real, and the issue's two targets."""

    def mean(key: str, m: str) -> float:
        return float(np.mean([r[m] for r in per_seed[key]]))

    col = {m: j for j, m in enumerate(METRICS)}
    ratios = {}
    for m in ("auc", "balanced_accuracy"):
        with np.errstate(divide="ignore", invalid="ignore"):
            value = mean("synthetic", m) / mean("real", m) if mean("real", m) else math.nan
            ci = interval(draws["synthetic"][:, col[m]] / draws["real"][:, col[m]])
        ratios[f"tstr_trtr_{m}"] = {"value": value, "ci95": list(ci)}
    gains = {
        m: {
            "value": mean("augmented", m) - mean("real", m),
            "ci95": list(interval(draws["augmented"][:, col[m]] - draws["real"][:, col[m]])),
        }
        for m in METRICS
    }
    ratio = ratios["tstr_trtr_balanced_accuracy"]["value"]
    lower = gains["auc"]["ci95"][0]
    targets = {
        "tstr_balanced_accuracy_ratio": {
            "rule": f"TSTR balanced accuracy ≥ {TSTR_TARGET} × TRTR",
            "value": ratio,
            "met": bool(math.isfinite(ratio) and ratio >= TSTR_TARGET),
        },
        "augmentation_auc_lower_bound": {
            "rule": f"lower 95 % bound of the AUC gain of real+synthetic over real ≥ {GAIN_TARGET}",
            "value": lower,
            "met": bool(lower >= GAIN_TARGET),
        },
    }
    return {"ratios": ratios, "gains": gains, "targets": targets}


def _chance(labels: np.ndarray, n_classes: int) -> dict[str, float]:
    """What a classifier that ignores the image scores: always the largest class (accuracy),
    1/K (balanced accuracy), 0.5 (AUC)."""
    largest = np.bincount(labels, minlength=n_classes).max()
    return {
        "accuracy": float(largest / len(labels)),
        "balanced_accuracy": 1 / n_classes,
        "auc": 0.5,
    }


def write_outputs(result: Mapping[str, Any], out: Path) -> tuple[Path, Path]:
    """OUT/utility.json and OUT/utility.png."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / UTILITY_JSON, out / UTILITY_PNG
    with atomic_path(json_path, ".json") as tmp:
        tmp.write_text(json_text(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    plot_utility(result, png_path)
    return json_path, png_path
