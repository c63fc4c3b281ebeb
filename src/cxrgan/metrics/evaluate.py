"""One call for every metric (`evaluate_sets`), the same per class (`evaluate_classes`), a cheap
in-training evaluator, and tables.

Both sides go through the Haar packets once: the same packets feed FWD's per-packet statistics
(linear and log-scaled) and the per-image features of KID and PRDC.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cxrgan.metrics.features import (
    FeatureSpace,
    PrdcSpace,
    features_from_packets,
    prdc_features_from_packets,
)
from cxrgan.metrics.fwd import CHUNK, PacketStats, StatsAccumulator, fwd_from_stats
from cxrgan.metrics.images import ImageArray, chunks, subsample, to_unit
from cxrgan.metrics.kid import DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS, KidReference
from cxrgan.metrics.memorisation import MemorisationResult, memorisation
from cxrgan.metrics.prdc import DEFAULT_K, prdc
from cxrgan.metrics.wavelets import LOG_EPS, default_level, haar_packets

DEFAULT_EVAL_N = 2000


@dataclass(frozen=True)
class MetricInfo:
    """How to read one metric."""

    better: str  # "lower", "higher", "~1", "" (informational)
    meaning: str
    caveat: str


METRICS: dict[str, MetricInfo] = {
    "fwd": MetricInfo(
        "lower",
        "Fréchet Wavelet Distance: mean over Haar packets of the Fréchet distance (0 = same)",
        "biased upwards at small n; compare runs only at the same n and image size",
    ),
    "fwd_log": MetricInfo(
        "lower",
        "FWD on log-scaled packets log(|c| + 1e-6): weighs fine texture and noise far more",
        "same bias as fwd; values are on another scale, never mix the two",
    ),
    "kid_mean": MetricInfo(
        "lower",
        "KID: unbiased MMD² (cubic kernel) on standardised wavelet features, mean over subsets",
        "~0 (can be < 0) for one distribution; read with kid_std; not comparable to Inception KID",
    ),
    "kid_std": MetricInfo(
        "",
        "spread of KID over the random subsets",
        "none (—) when there is one subset: both sets no larger than the subset size",
    ),
    "kid_subsets": MetricInfo("", "random subsets KID was averaged over", "1: no spread"),
    "precision": MetricInfo(
        "higher",
        "share of fakes inside some real k-NN ball (fidelity)",
        "needs hundreds of images per set; inflated by a few real outliers",
    ),
    "recall": MetricInfo(
        "higher",
        "share of reals inside some fake k-NN ball (diversity)",
        "needs hundreds of images per set; inflated by a few fake outliers",
    ),
    "density": MetricInfo(
        "~1",
        "real k-NN balls per fake, / k (fidelity; > 1: fakes crowd dense real regions)",
        "noisy below a few hundred images",
    ),
    "coverage": MetricInfo(
        "higher",
        "share of reals whose k-NN ball holds a fake (diversity, outlier-robust)",
        "depends on n_fake / n_real; compare at equal sizes",
    ),
    "memorised_share": MetricInfo(
        "lower",
        "share of fakes nearer a training image than 99 % of training pairs are (copies)",
        "~0.01 for an honest generator; needs the TRAINING set as `real`",
    ),
    "nn_distance_ratio": MetricInfo(
        "~1",
        "median fake->train / median train->train nearest-neighbour distance",
        "well below 1: fakes hug training images (memorisation)",
    ),
    "nn_threshold": MetricInfo(
        "",
        "copy cut-off: 1st percentile of train->train distances, duplicates left out",
        "never below 0.1, the distance under which two thumbnails are one film",
    ),
    "train_duplicates": MetricInfo(
        "", "training images with a duplicate in the training set (left out of nn_threshold)", ""
    ),
    "n_real": MetricInfo("", "real images used", ""),
    "n_fake": MetricInfo("", "generated images used", ""),
}


@dataclass
class Described:
    """One pass over a set of unit-range images: what every metric needs from it."""

    n: int
    lin: PacketStats | None  # per-packet Gaussians (None below 2 images)
    log: PacketStats | None  # the same on log-scaled packets, when asked for
    kid_raw: np.ndarray  # raw KID features
    prdc_raw: np.ndarray  # raw PRDC features


def _describe(x: torch.Tensor, level: int, log_too: bool, prdc_too: bool = True) -> Described:
    """One pass over unit-range images: linear (and log) packet stats, raw per-image features."""
    lin, log = StatsAccumulator(), StatsAccumulator()
    kid_feats, prdc_feats = [], []
    for part in chunks(len(x), CHUNK):
        packets = haar_packets(x[part], level)
        lin.add(packets)
        if log_too:
            log.add(torch.log(packets.abs() + LOG_EPS))
        kid_feats.append(features_from_packets(x[part], packets, level))
        if prdc_too:
            prdc_feats.append(prdc_features_from_packets(x[part], packets, level))
    enough = len(x) >= MIN_IMAGES["fwd"]
    return Described(
        n=len(x),
        lin=lin.result(level, "haar", False) if enough else None,
        log=log.result(level, "haar", True) if enough and log_too else None,
        kid_raw=torch.cat(kid_feats).numpy(),
        prdc_raw=torch.cat(prdc_feats).numpy() if prdc_too else np.empty((len(x), 0)),
    )


def _level_for(x: torch.Tensor, level: int | None) -> int:
    return default_level(min(x.shape[-2:])) if level is None else level


# Fewest images each group of metrics needs on each side (PRDC: k neighbours + the image).
MIN_IMAGES = {"fwd": 2, "kid": 2, "prdc": DEFAULT_K + 1, "memorisation": 2}
GROUPS: dict[str, tuple[str, ...]] = {
    "fwd": ("fwd", "fwd_log"),
    "kid": ("kid_mean", "kid_std", "kid_subsets"),
    "prdc": ("precision", "recall", "density", "coverage"),
    "memorisation": ("memorised_share", "nn_distance_ratio", "nn_threshold", "train_duplicates"),
}
_WHY = {
    "fwd": "a covariance per set",
    "kid": "pairs of distinct images per set",
    "prdc": "k = {k} nearest neighbours besides the image itself",
}


def minimum_images(k: int = DEFAULT_K) -> dict[str, int]:
    """Fewest images per side for each metric group (memorisation: training images)."""
    return {**MIN_IMAGES, "prdc": k + 1}


def skipped_metrics(n_real: int, n_fake: int, n_train: int | None = None, k: int = DEFAULT_K) -> (
    dict[str, str]
):  # fmt: skip
    """Metric groups that cannot be computed for these set sizes, each with the reason.

    n_train: the training images the memorisation search uses (default n_real)."""
    need = minimum_images(k)
    n_train = n_real if n_train is None else n_train
    out = {}
    for group in ("fwd", "kid", "prdc"):
        short = [f"{n} {side}" for side, n in (("real", n_real), ("generated", n_fake))
                 if n < need[group]]  # fmt: skip
        if short:
            names = ", ".join(GROUPS[group][:2] if group != "prdc" else GROUPS[group])
            out[group] = (f"{names}: need at least {need[group]} images per side "
                          f"({_WHY[group].format(k=k)}), got {' and '.join(short)}")  # fmt: skip
    if n_train < need["memorisation"]:
        out["memorisation"] = (f"memorised_share: needs at least {need['memorisation']} "
                               f"training images, got {n_train}")  # fmt: skip
    return out


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
    all_real = real
    real = subsample(real, n, seed)
    fake = subsample(fake, n, seed + 1)
    r, f = to_unit(real), to_unit(fake)
    if r.shape[1:] != f.shape[1:]:
        raise ValueError(f"real images are {tuple(r.shape[1:])}, fakes {tuple(f.shape[1:])}")
    skipped = skipped_metrics(len(r), len(f), len(all_real), k)
    out: dict[str, float | None] = {key: None for group in GROUPS.values() for key in group}
    level = _level_for(r, level)
    rd, fd = _describe(r, level, log_too=True), _describe(f, level, log_too=True)
    if "fwd" not in skipped:
        assert rd.lin and fd.lin and rd.log and fd.log
        out.update(fwd=fwd_from_stats(rd.lin, fd.lin), fwd_log=fwd_from_stats(rd.log, fd.log))
    shape = (r.shape[1], r.shape[2])
    if "kid" not in skipped:
        space = FeatureSpace.from_raw(rd.kid_raw, shape, level)
        ref = KidReference.build(space.standardize(rd.kid_raw), kid_subsets, kid_subset_size, seed)
        got = ref.compare(space.standardize(fd.kid_raw))
        out.update(kid_mean=got.mean, kid_std=got.std, kid_subsets=got.subsets)
    if "prdc" not in skipped:
        pspace = PrdcSpace.from_raw(rd.prdc_raw, shape, level)
        out.update(prdc(pspace.project(rd.prdc_raw), pspace.project(fd.prdc_raw), k))
    if "memorisation" not in skipped:
        out.update((memorised or memorisation(all_real, fake)).as_dict())
    out.update(n_real=len(r), n_fake=len(f))
    return {key: None if value is None else float(value) for key, value in out.items()}


@dataclass
class ClassResult:
    """Every metric for one class: its real images against its generated ones."""

    metrics: dict[str, float | None]  # evaluate_sets' keys; None where skipped
    skipped: dict[str, str]  # group -> why (see skipped_metrics)


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
        r = _take(real, np.flatnonzero(real_labels == name))
        f = _take(fake, np.flatnonzero(fake_labels == name))
        used_r, used_f = (len(r), len(f)) if n is None else (min(len(r), n), min(len(f), n))
        skipped = skipped_metrics(used_r, used_f, len(r), k)
        if len(skipped) == len(GROUPS):  # nothing computable (e.g. no image on one side)
            metrics: dict[str, float | None] = {key: None for g in GROUPS.values() for key in g}
            metrics.update(n_real=float(used_r), n_fake=float(used_f))
        else:
            kid = {"kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size}
            metrics = evaluate_sets(r, f, n=n, k=k, level=level, seed=seed, **kid)
        out[str(name)] = ClassResult(metrics, skipped)
    return out


def class_counts(labels: Sequence[str] | np.ndarray) -> dict[str, int]:
    """Images per named class, in order of first appearance ("" = no class: left out)."""
    labels = np.asarray(labels)
    return {str(c): int(np.count_nonzero(labels == c)) for c in dict.fromkeys(labels.tolist()) if c}


def split_in_proportion(total: int, counts: dict[str, int]) -> dict[str, int]:
    """`total` shared out in proportion to `counts`; the largest remainders take what rounding
    down leaves (ties: the earlier class)."""
    whole = sum(counts.values())
    if whole <= 0:
        raise ValueError("counts must hold at least one image")
    exact = {c: total * k / whole for c, k in counts.items()}
    out = {c: int(x) for c, x in exact.items()}
    rest = total - sum(out.values())
    for c in sorted(exact, key=lambda c: out[c] - exact[c])[:rest]:  # stable: ties keep order
        out[c] += 1
    return out


def first_of_each_class(labels: Sequence[str] | np.ndarray, share: dict[str, int]) -> np.ndarray:
    """Indices (ascending) of the first share[c] images labelled c, for every c."""
    labels = np.asarray(labels)
    picked = [np.flatnonzero(labels == c)[:k] for c, k in share.items()]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


# The per-class table's rows (format_class_table): the numbers worth comparing across classes.
CLASS_TABLE_KEYS = (
    "fwd", "fwd_log", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
    "memorised_share", "nn_distance_ratio", "n_real", "n_fake",
)  # fmt: skip


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
    for key in CLASS_TABLE_KEYS:
        values = " ".join(f"{_shown(key, col.get(key)):>{width}s}" for col in columns)
        lines.append(f"{key:18s} {values}  {METRICS[key].better}".rstrip())
    return "\n".join(lines)


def _shown(key: str, value: float | None) -> str:
    if value is None or value != value:  # None, or NaN from an older record
        return "—"
    if key.startswith("n_") or key in ("kid_subsets", "train_duplicates"):
        return f"{value:.0f}"
    return f"{value:.6g}"


def format_metrics(results: dict[str, float | None], title: str | None = None) -> str:
    """A plain-text table: metric, value, which way is better, what it means.

    Metrics without a value (skipped, or kid_std of a single subset) show as "—"."""
    lines = [title] if title else []
    lines.append(f"{'metric':18s} {'value':>12s}  {'better':6s}  meaning")
    lines.append("-" * 96)
    for key, value in results.items():
        info = METRICS.get(key, MetricInfo("", "", ""))
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
    ) -> None:
        start = time.perf_counter()
        count = len(real_images)
        reference_idx = _sample_indices(count, n, seed)  # the images subsample(n, seed) draws
        x = to_unit(_take(real_images, reference_idx))
        self.n = n
        self.seed = seed
        self.shape = (int(x.shape[1]), int(x.shape[2]))
        self.level = _level_for(x, level)
        self.log_scale = log_scale
        if len(x) < MIN_IMAGES["fwd"]:
            raise ValueError(f"FWD and KID need at least 2 real images, got {len(x)}")
        d = _describe(x, self.level, log_too=log_scale, prdc_too=False)
        reference = d.log if log_scale else d.lin
        assert reference is not None
        self.fwd_reference = reference
        _ = self.fwd_reference.sqrt_sigma  # the expensive part of every comparison, done once
        self.space = FeatureSpace.from_raw(d.kid_raw, self.shape, self.level)
        self.kid_reference = KidReference.build(
            self.space.standardize(d.kid_raw), kid_subsets, kid_subset_size, seed
        )
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
        if half < MIN_IMAGES["fwd"]:
            return None, half
        order = rng.permutation(count)
        a, b = np.sort(order[:half]), np.sort(order[half : 2 * half])
        return fwd_from_stats(self._stats_of(real_images, a), self._stats_of(real_images, b)), half

    def _stats_of(self, images: ImageArray, idx: np.ndarray) -> PacketStats:
        d = _describe(to_unit(_take(images, idx)), self.level, self.log_scale, prdc_too=False)
        stats = d.log if self.log_scale else d.lin
        assert stats is not None
        return stats

    def evaluate(self, fake_images: ImageArray) -> dict[str, float | None]:
        """{"fwd", "kid_mean", "kid_std", "kid_subsets"} of generated images against the real
        sample; kid_std is None when KID had a single subset (n no larger than the subset)."""
        start = time.perf_counter()
        x = to_unit(subsample(fake_images, self.n, self.seed + 1))
        if (x.shape[1], x.shape[2]) != self.shape:
            raise ValueError(f"fakes are {tuple(x.shape[1:])} px, real images {self.shape}")
        if len(x) < MIN_IMAGES["fwd"]:
            raise ValueError(f"FWD and KID need at least 2 generated images, got {len(x)}")
        d = _describe(x, self.level, log_too=self.log_scale, prdc_too=False)
        stats = d.log if self.log_scale else d.lin
        assert stats is not None
        kid = self.kid_reference.compare(self.space.standardize(d.kid_raw))
        out: dict[str, float | None] = {
            "fwd": fwd_from_stats(self.fwd_reference, stats),
            "kid_mean": kid.mean,
            "kid_std": kid.std,
            "kid_subsets": float(kid.subsets),
        }
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
