"""One call for every metric (`evaluate_sets`), a cheap in-training evaluator, and a table.

Both sides go through the Haar packets once: the same packets feed FWD's per-packet statistics
(linear and log-scaled) and the per-image features of KID and PRDC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from cxrgan.metrics.features import FeatureSpace, features_from_packets
from cxrgan.metrics.fwd import CHUNK, PacketStats, StatsAccumulator, fwd_from_stats
from cxrgan.metrics.images import ImageArray, chunks, subsample, to_unit
from cxrgan.metrics.kid import DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS, KidReference
from cxrgan.metrics.memorisation import memorisation
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
    "kid_std": MetricInfo("", "spread of KID over the random subsets", "shrinks with n"),
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
    "nn_threshold": MetricInfo("", "1st percentile of train->train distances (copy cut-off)", ""),
    "n_real": MetricInfo("", "real images used", ""),
    "n_fake": MetricInfo("", "generated images used", ""),
}


def _describe(
    x: torch.Tensor, level: int, log_too: bool
) -> tuple[PacketStats, PacketStats | None, np.ndarray]:
    """One pass over unit-range images: linear (and log) packet stats, raw wavelet features."""
    lin, log = StatsAccumulator(), StatsAccumulator()
    feats = []
    for part in chunks(len(x), CHUNK):
        packets = haar_packets(x[part], level)
        lin.add(packets)
        if log_too:
            log.add(torch.log(packets.abs() + LOG_EPS))
        feats.append(features_from_packets(x[part], packets, level))
    log_stats = log.result(level, "haar", True) if log_too else None
    return lin.result(level, "haar", False), log_stats, torch.cat(feats).numpy()


def _level_for(x: torch.Tensor, level: int | None) -> int:
    return default_level(min(x.shape[-2:])) if level is None else level


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
) -> dict[str, float]:
    """Every metric between real (training) and generated images, as plain floats.

    `n` draws at most n images from each set (seeded), so runs compare at equal sizes; the
    memorisation search still uses every real image, since a copy of any of them counts.
    Keys and how to read them: `METRICS`; print with `format_metrics`.
    """
    all_real = real
    real = subsample(real, n, seed)
    fake = subsample(fake, n, seed + 1)
    r, f = to_unit(real), to_unit(fake)
    if r.shape[1:] != f.shape[1:]:
        raise ValueError(f"real images are {tuple(r.shape[1:])}, fakes {tuple(f.shape[1:])}")
    level = _level_for(r, level)
    r_lin, r_log, r_raw = _describe(r, level, log_too=True)
    f_lin, f_log, f_raw = _describe(f, level, log_too=True)
    assert r_log is not None and f_log is not None
    space = FeatureSpace.from_raw(r_raw, (r.shape[1], r.shape[2]), level)
    r_feat, f_feat = space.standardize(r_raw), space.standardize(f_raw)
    kid_mean, kid_std = KidReference.build(r_feat, kid_subsets, kid_subset_size, seed).compare(
        f_feat
    )
    out = {
        "fwd": fwd_from_stats(r_lin, f_lin),
        "fwd_log": fwd_from_stats(r_log, f_log),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        **prdc(r_feat, f_feat, k),
        **memorisation(all_real, fake).as_dict(),
        "n_real": float(len(r)),
        "n_fake": float(len(f)),
    }
    return {key: float(value) for key, value in out.items()}


def format_metrics(results: dict[str, float], title: str | None = None) -> str:
    """A plain-text table: metric, value, which way is better, what it means."""
    lines = [title] if title else []
    lines.append(f"{'metric':18s} {'value':>12s}  {'better':6s}  meaning")
    lines.append("-" * 96)
    for key, value in results.items():
        info = METRICS.get(key, MetricInfo("", "", ""))
        shown = f"{value:.0f}" if key.startswith("n_") else f"{value:.6g}"
        lines.append(f"{key:18s} {shown:>12s}  {info.better:6s}  {info.meaning}")
    return "\n".join(lines)


class QualityEvaluator:
    """FWD and KID against a fixed real sample, for use every few epochs during training.

    The real side (per-packet means, covariances and their square roots; the feature
    standardisation; the KID subsets and their kernel sums) is computed once here, so
    `evaluate` only transforms the fakes, builds their statistics and two kernel blocks.
    Generated images are subsampled (seeded) to the same n as the real ones, since FWD depends
    on n; pass at least n fakes for comparable numbers across evaluations.
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
        x = to_unit(subsample(real_images, n, seed))
        self.n = n
        self.seed = seed
        self.shape = (int(x.shape[1]), int(x.shape[2]))
        self.level = _level_for(x, level)
        self.log_scale = log_scale
        lin, log, raw = _describe(x, self.level, log_too=log_scale)
        self.fwd_reference = log if log_scale and log is not None else lin
        _ = self.fwd_reference.sqrt_sigma  # the expensive part of every comparison, done once
        self.space = FeatureSpace.from_raw(raw, self.shape, self.level)
        self.kid_reference = KidReference.build(
            self.space.standardize(raw), kid_subsets, kid_subset_size, seed
        )
        self.setup_seconds = time.perf_counter() - start
        self.last_seconds = 0.0

    def evaluate(self, fake_images: ImageArray) -> dict[str, float]:
        """{"fwd", "kid_mean", "kid_std"} of generated images against the real sample."""
        start = time.perf_counter()
        x = to_unit(subsample(fake_images, self.n, self.seed + 1))
        if (x.shape[1], x.shape[2]) != self.shape:
            raise ValueError(f"fakes are {tuple(x.shape[1:])} px, real images {self.shape}")
        lin, log, raw = _describe(x, self.level, log_too=self.log_scale)
        stats = log if self.log_scale and log is not None else lin
        kid_mean, kid_std = self.kid_reference.compare(self.space.standardize(raw))
        out = {
            "fwd": fwd_from_stats(self.fwd_reference, stats),
            "kid_mean": kid_mean,
            "kid_std": kid_std,
        }
        self.last_seconds = time.perf_counter() - start
        return out
