"""The built-in metrics' entries: FWD, KID and PRDC, which read one shared pass over the Haar
packets (`Pair.described`), and the memorisation check.

Each key is named here once; how to read it is in its MetricInfo (docs/metrics.md has more).
"""

from __future__ import annotations

from cxrgan.metrics.base import Metric, MetricInfo, MetricOptions, Pair, Values
from cxrgan.metrics.features import FeatureSpace, PrdcSpace
from cxrgan.metrics.fwd import fwd_from_stats
from cxrgan.metrics.kid import KidReference, KidResult
from cxrgan.metrics.memorisation import CALIBRATION_QUERIES, memorisation
from cxrgan.metrics.packet_pass import MIN_STATS
from cxrgan.metrics.prdc import prdc


def _fwd(pair: Pair) -> Values:
    real, fake = pair.described
    assert real.lin and fake.lin and real.log and fake.log
    return {
        "fwd": fwd_from_stats(real.lin, fake.lin),
        "fwd_log": fwd_from_stats(real.log, fake.log),
    }


FWD = Metric(
    keys={
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
    },
    compute=_fwd,
    min_images=MIN_STATS,
    needs="a covariance per set",
)


def kid_values(got: KidResult) -> Values:
    """KID's keys for one comparison (also what the in-training evaluator reports)."""
    return {"kid_mean": got.mean, "kid_std": got.std, "kid_subsets": float(got.subsets)}


def _kid(pair: Pair) -> Values:
    real, fake = pair.described
    o = pair.options
    space = FeatureSpace.from_raw(real.kid_raw, pair.shape, pair.level)
    ref = KidReference.build(space.standardize(real.kid_raw), o.kid_subsets, o.kid_subset_size,
                             o.seed)  # fmt: skip
    return kid_values(ref.compare(space.standardize(fake.kid_raw)))


KID = Metric(
    keys={
        "kid_mean": MetricInfo(
            "lower",
            "KID: unbiased MMD² (cubic kernel) on standardised wavelet features, mean over subsets",
            "~0 (can be < 0) for one distribution; read with kid_std; not comparable to "
            "Inception KID",
        ),
        "kid_std": MetricInfo(
            "",
            "spread of KID over the random subsets",
            "none (—) when there is one subset: both sets no larger than the subset size",
        ),
        "kid_subsets": MetricInfo(
            "",
            "random subsets KID was averaged over",
            "1: no spread",
            whole=True,
            in_class_table=False,
        ),
    },
    compute=_kid,
    needs="pairs of distinct images per set",
    named=("kid_mean", "kid_std"),
)


def _prdc(pair: Pair) -> Values:
    real, fake = pair.described
    space = PrdcSpace.from_raw(real.prdc_raw, pair.shape, pair.level)
    return prdc(space.project(real.prdc_raw), space.project(fake.prdc_raw), pair.options.k)


def _k_plus_one(options: MetricOptions) -> int:
    return options.k + 1  # k neighbours besides the image itself


PRDC = Metric(
    keys={
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
    },
    compute=_prdc,
    min_images=_k_plus_one,
    needs="k = {k} nearest neighbours besides the image itself",
)


def _memorisation(pair: Pair) -> Values:
    return (pair.memorised or memorisation(pair.train, pair.fake_given)).as_dict()


MEMORISATION = Metric(
    keys={
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
            in_class_table=False,
        ),
        "train_duplicates": MetricInfo(
            "",
            "calibration queries with a duplicate in the training set (left out of nn_threshold)",
            "",
            whole=True,
            in_class_table=False,
        ),
        "calibration_queries": MetricInfo(
            "",
            "training images whose nearest other one calibrated nn_threshold",
            f"all of them up to {CALIBRATION_QUERIES:,}, else that many drawn (seeded); "
            "docs/metrics.md",
            whole=True,
            in_class_table=False,
        ),
    },
    compute=_memorisation,
    of_training=True,
    named=("memorised_share",),
)
