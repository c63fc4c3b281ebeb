"""One call for every registered metric (`evaluate_sets`), the same per class
(`evaluate_classes`), a cheap in-training evaluator, and tables.

The metrics themselves are entries in metrics/registry.py; this module only runs them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cxrgan.metrics.base import Metric, MetricInfo, MetricOptions, Pair, SetSizes, Values
from cxrgan.metrics.builtin import kid_values
from cxrgan.metrics.features import FeatureSpace, PrdcSpace
from cxrgan.metrics.fwd import PacketStats, fwd_from_stats
from cxrgan.metrics.images import ClassRows, ImageArray, subsample, to_unit
from cxrgan.metrics.kid import DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS, KidReference
from cxrgan.metrics.memorisation import MemorisationResult
from cxrgan.metrics.packet_pass import MIN_STATS, describe
from cxrgan.metrics.prdc import DEFAULT_K, prdc
from cxrgan.metrics.registry import (
    N_FAKE,
    N_REAL,
    class_table_keys,
    key_info,
    registered_metrics,
)
from cxrgan.metrics.wavelets import default_level

DEFAULT_EVAL_N = 2000

# Every output key with how to read it: the registered metrics' keys, then n_real and n_fake;
# and the per-class table's rows. Both for readers; the functions here ask the registry.
METRICS: dict[str, MetricInfo] = key_info()
CLASS_TABLE_KEYS = class_table_keys()


def minimum_images(k: int = DEFAULT_K) -> dict[str, int]:
    """Fewest images per side for each metric (memorisation: training images)."""
    options = MetricOptions(k=k)
    return {name: metric.minimum(options) for name, metric in registered_metrics().items()}


def skipped_metrics(n_real: int, n_fake: int, n_train: int | None = None, k: int = DEFAULT_K) -> (
    dict[str, str]
):  # fmt: skip
    """Metrics that cannot be computed for these set sizes, each with the reason.

    n_train: the training images the memorisation search uses (default n_real)."""
    sizes = SetSizes(n_real, n_fake, n_real if n_train is None else n_train)
    return _skipped(registered_metrics(), sizes, MetricOptions(k=k))


def _skipped(metrics: dict[str, Metric], sizes: SetSizes, options: MetricOptions) -> (
    dict[str, str]
):  # fmt: skip
    why = {name: metric.why_skipped(sizes, options) for name, metric in metrics.items()}
    return {name: reason for name, reason in why.items() if reason is not None}


def evaluate_sets(
    real: ImageArray,
    fake: ImageArray,
    *,
    n: int | None = None,
    kid_subsets: int = DEFAULT_SUBSETS,
    kid_subset_size: int = DEFAULT_SUBSET_SIZE,
    k: int = DEFAULT_K,
    level: int | None = None,
    seed: int = 0,
    memorised: MemorisationResult | None = None,
) -> dict[str, float | None]:
    """Every metric between real (training) and generated images, as plain floats.

    `n` draws at most n images from each set (seeded), so runs compare at equal sizes; the
    memorisation search still uses every real image, since a copy of any of them counts.
    Metrics the set sizes do not allow (see `skipped_metrics`) are None, as is kid_std when
    KID had a single subset. Keys and how to read them: `METRICS`; print with `format_metrics`.
    memorised: `memorisation(real, fake)` when the caller has it already (to save its PNG):
    the search over every real image is then not run twice.
    """
    options = MetricOptions(k, kid_subsets, kid_subset_size, seed, level)
    drawn = subsample(fake, n, seed + 1)
    pair = Pair(to_unit(subsample(real, n, seed)), to_unit(drawn), real, drawn, options, memorised)
    if pair.real.shape[1:] != pair.fake.shape[1:]:
        raise ValueError(f"real images are {tuple(pair.real.shape[1:])}, fakes "
                         f"{tuple(pair.fake.shape[1:])}")  # fmt: skip
    metrics = registered_metrics()
    skipped = _skipped(metrics, SetSizes(len(pair.real), len(pair.fake), len(real)), options)
    out: dict[str, float | None] = dict.fromkeys(key_info())
    for name, metric in metrics.items():
        if name not in skipped:
            out.update(_checked(name, metric, metric.compute(pair)))
    out.update({N_REAL: len(pair.real), N_FAKE: len(pair.fake)})
    return {key: None if value is None else float(value) for key, value in out.items()}


def _checked(name: str, metric: Metric, values: Values) -> Values:
    """A metric's numbers, once they are known to be exactly the keys its entry declares."""
    if list(values) != list(metric.keys):
        raise ValueError(f"metric {name!r} returned {list(values)}, its entry declares "
                         f"{list(metric.keys)}")  # fmt: skip
    return values


@dataclass
class ClassResult:
    """Every metric for one class: its real images against its generated ones."""

    metrics: dict[str, float | None]  # evaluate_sets' keys; None where skipped
    skipped: dict[str, str]  # metric -> why (see skipped_metrics)


def evaluate_classes(
    real: ImageArray,
    real_labels: Sequence[str] | np.ndarray,
    fake: ImageArray,
    fake_labels: Sequence[str] | np.ndarray,
    classes: Sequence[str],
    *,
    n: int | None = None,
    seed: int = 0,
    kid_subsets: int = DEFAULT_SUBSETS,
    kid_subset_size: int = DEFAULT_SUBSET_SIZE,
    k: int = DEFAULT_K,
    level: int | None = None,
) -> dict[str, ClassResult]:
    """`evaluate_sets` per class: the real images labelled c against the generated ones
    labelled c, for every c in `classes` (labels are class names, one per image).

    Each class is evaluated exactly as `evaluate_sets(real_c, fake_c, n=n, seed=seed)` would,
    memorisation included (against that class's real images). A class with too few images for
    a metric gets None there and the reason in `skipped`, never an error; a class with no
    image on one side gets every metric None.
    """
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    if len(real_labels) != len(real) or len(fake_labels) != len(fake):
        raise ValueError("give one label per image on each side")
    out: dict[str, ClassResult] = {}
    for name in classes:
        r = ClassRows(real, np.flatnonzero(real_labels == name))  # read only where drawn
        f = _take(fake, np.flatnonzero(fake_labels == name))
        used_r, used_f = (len(r), len(f)) if n is None else (min(len(r), n), min(len(f), n))
        skipped = skipped_metrics(used_r, used_f, len(r), k)
        if not used_r or not used_f or len(skipped) == len(registered_metrics()):
            metrics: dict[str, float | None] = dict.fromkeys(key_info())
            metrics.update({N_REAL: float(used_r), N_FAKE: float(used_f)})
        else:
            kid = {"kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size}
            metrics = evaluate_sets(r, f, n=n, k=k, level=level, seed=seed, **kid)
        out[str(name)] = ClassResult(metrics, skipped)
    return out


def format_class_table(
    overall: dict[str, float | None], per_class: dict[str, ClassResult], title: str | None = None
) -> str:
    """A plain-text table: one row per metric, one column for all images and one per class."""
    names = ["overall", *per_class]
    columns = [overall, *(r.metrics for r in per_class.values())]
    width = max(12, *(len(x) + 1 for x in names))
    lines = [title] if title else []
    lines.append(f"{'metric':18s} " + " ".join(f"{x:>{width}s}" for x in names) + "  better")
    lines.append("-" * (19 + (width + 1) * len(names) + 8))
    info = key_info()
    for key in class_table_keys():
        values = " ".join(f"{_shown(key, col.get(key)):>{width}s}" for col in columns)
        lines.append(f"{key:18s} {values}  {info[key].better}".rstrip())
    return "\n".join(lines)


def _shown(key: str, value: float | None) -> str:
    if value is None or value != value:  # None, or NaN from an older record
        return "—"
    info = key_info().get(key)
    return f"{value:.0f}" if info and info.whole else f"{value:.6g}"


def format_metrics(results: dict[str, float | None], title: str | None = None) -> str:
    """A plain-text table: metric, value, which way is better, what it means.

    Metrics without a value (skipped, or kid_std of a single subset) show as "—"."""
    lines = [title] if title else []
    lines.append(f"{'metric':18s} {'value':>12s}  {'better':6s}  meaning")
    lines.append("-" * 96)
    about = key_info()
    for key, value in results.items():
        info = about.get(key, MetricInfo("", "", ""))
        lines.append(f"{key:18s} {_shown(key, value):>12s}  {info.better:6s}  {info.meaning}")
    return "\n".join(lines)


class QualityEvaluator:
    """FWD and KID against a fixed real sample, for use every few epochs during training.

    The real side (per-packet means, covariances and their square roots; the feature
    standardisation; the KID subsets and their kernel sums) is computed once here, so
    `evaluate` only transforms the fakes, builds their statistics and two kernel blocks.
    Generated images are subsampled (seeded) to the same n as the real ones, since FWD depends
    on n; pass at least n fakes for comparable numbers across evaluations.

    Also once: the real-vs-real floor `fwd_floor`, the FWD between two disjoint samples of the
    real images, which is what a generator drawing from the data itself would score (FWD's
    sampling bias at this n). When the real images number at least 2n, the floor compares the
    reference sample with n other real images, at the evaluations' n; otherwise two disjoint
    halves of all of them, at n = half (`fwd_floor_n`; FWD's bias ∝ 1/n makes that floor up
    to twice the one at n). None when fewer than 4 real images leave no two halves of 2.
    """

    def __init__(
        self,
        real_images: ImageArray,
        n: int = DEFAULT_EVAL_N,
        seed: int = 0,
        *,
        level: int | None = None,
        log_scale: bool = False,
        kid_subsets: int = DEFAULT_SUBSETS,
        kid_subset_size: int = DEFAULT_SUBSET_SIZE,
        k: int = DEFAULT_K,
    ) -> None:
        start = time.perf_counter()
        count = len(real_images)
        reference_idx = _sample_indices(count, n, seed)  # the images subsample(n, seed) draws
        x = to_unit(_take(real_images, reference_idx))
        self.n = n
        self.seed = seed
        self.shape = (int(x.shape[1]), int(x.shape[2]))
        self.level = default_level(min(self.shape)) if level is None else level
        self.log_scale = log_scale
        if len(x) < MIN_STATS:
            raise ValueError(f"FWD and KID need at least 2 real images, got {len(x)}")
        d = describe(x, self.level, log_too=log_scale, prdc_too=True)
        reference = d.log if log_scale else d.lin
        assert reference is not None
        self.fwd_reference = reference
        _ = self.fwd_reference.sqrt_sigma  # the expensive part of every comparison, done once
        self.space = FeatureSpace.from_raw(d.kid_raw, self.shape, self.level)
        self.kid_reference = KidReference.build(
            self.space.standardize(d.kid_raw), kid_subsets, kid_subset_size, seed
        )
        # Precision and recall (PRDC's k-NN) where both sides can have k neighbours.
        self.k = k
        self.prdc_space = PrdcSpace.from_raw(d.prdc_raw, self.shape, self.level)
        self.prdc_reference = self.prdc_space.project(d.prdc_raw)
        floor_start = time.perf_counter()
        self.fwd_floor, self.fwd_floor_n = self._real_floor(real_images, reference_idx, seed)
        self.floor_seconds = time.perf_counter() - floor_start
        self.setup_seconds = time.perf_counter() - start
        self.last_seconds = 0.0

    def _real_floor(
        self, real_images: ImageArray, reference_idx: np.ndarray, seed: int
    ) -> tuple[float | None, int]:
        """(FWD between two disjoint real samples, their size): see the class docstring."""
        count, n = len(real_images), len(reference_idx)
        rng = np.random.default_rng(seed + 2)  # apart from the reference's and the fakes' draws
        if count >= 2 * n:
            rest = np.setdiff1d(np.arange(count), reference_idx)
            other = np.sort(rng.choice(rest, size=n, replace=False))
            return fwd_from_stats(self.fwd_reference, self._stats_of(real_images, other)), n
        half = count // 2
        if half < MIN_STATS:
            return None, half
        order = rng.permutation(count)
        a, b = np.sort(order[:half]), np.sort(order[half : 2 * half])
        return fwd_from_stats(self._stats_of(real_images, a), self._stats_of(real_images, b)), half

    def _stats_of(self, images: ImageArray, idx: np.ndarray) -> PacketStats:
        d = describe(to_unit(_take(images, idx)), self.level, self.log_scale, prdc_too=False)
        stats = d.log if self.log_scale else d.lin
        assert stats is not None
        return stats

    def evaluate(self, fake_images: ImageArray) -> dict[str, float | None]:
        """{"fwd", "kid_mean", "kid_std", "kid_subsets", "precision", "recall", "density",
        "coverage"} of generated images against the real sample; kid_std is None when KID had a
        single subset (n no larger than the subset), PRDC's are None below k + 1 images."""
        start = time.perf_counter()
        x = to_unit(subsample(fake_images, self.n, self.seed + 1))
        if (x.shape[1], x.shape[2]) != self.shape:
            raise ValueError(f"fakes are {tuple(x.shape[1:])} px, real images {self.shape}")
        if len(x) < MIN_STATS:
            raise ValueError(f"FWD and KID need at least 2 generated images, got {len(x)}")
        d = describe(x, self.level, log_too=self.log_scale, prdc_too=True)
        stats = d.log if self.log_scale else d.lin
        assert stats is not None
        kid = self.kid_reference.compare(self.space.standardize(d.kid_raw))
        out: dict[str, float | None] = {
            "fwd": fwd_from_stats(self.fwd_reference, stats),
            **kid_values(kid),
        }
        if min(len(x), len(self.prdc_reference)) > self.k:
            fake = self.prdc_space.project(d.prdc_raw)
            out.update(prdc(self.prdc_reference, fake, self.k))
        else:
            out.update(dict.fromkeys(("precision", "recall", "density", "coverage")))
        self.last_seconds = time.perf_counter() - start
        return out


def _sample_indices(count: int, n: int, seed: int) -> np.ndarray:
    """The indices `subsample(images, n, seed)` takes from `count` images, in order."""
    if n >= count:
        return np.arange(count)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return np.sort(np.random.default_rng(seed).choice(count, size=n, replace=False))


def _take(images: ImageArray, idx: np.ndarray) -> ImageArray:
    return images[torch.from_numpy(idx)] if isinstance(images, torch.Tensor) else images[idx]
