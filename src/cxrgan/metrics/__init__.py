"""Offline sample-quality metrics for gray images: no downloaded weights, no network.

Inputs everywhere: uint8 (N, H, W) or floats in [-1, 1], (N, H, W) or (N, 1, H, W), numpy or
torch. See docs/metrics.md for what each number means and how it was validated.
"""

from cxrgan.metrics.base import Metric, MetricInfo, MetricOptions, Pair
from cxrgan.metrics.evaluate import (
    DEFAULT_EVAL_N,
    METRICS,
    QualityEvaluator,
    evaluate_sets,
    format_metrics,
    minimum_images,
    skipped_metrics,
)
from cxrgan.metrics.features import FeatureSpace, PrdcSpace, prdc_features, wavelet_features
from cxrgan.metrics.frechet import frechet_distance, frechet_distances, psd_sqrt
from cxrgan.metrics.fwd import PacketStats, fwd, fwd_from_stats, fwd_per_packet, packet_statistics
from cxrgan.metrics.images import to_unit
from cxrgan.metrics.kid import KidReference, KidResult, kid, polynomial_kernel
from cxrgan.metrics.memorisation import MemorisationResult, memorisation, save_memorisation_png
from cxrgan.metrics.prdc import prdc
from cxrgan.metrics.registry import METRIC_ENTRIES, registered_metrics
from cxrgan.metrics.wavelets import default_level, packet_paths, wavelet_packets

__all__ = [
    "DEFAULT_EVAL_N",
    "METRICS",
    "METRIC_ENTRIES",
    "FeatureSpace",
    "KidReference",
    "KidResult",
    "MemorisationResult",
    "Metric",
    "MetricInfo",
    "MetricOptions",
    "PacketStats",
    "Pair",
    "PrdcSpace",
    "QualityEvaluator",
    "default_level",
    "evaluate_sets",
    "format_metrics",
    "frechet_distance",
    "frechet_distances",
    "fwd",
    "fwd_from_stats",
    "fwd_per_packet",
    "kid",
    "memorisation",
    "minimum_images",
    "packet_paths",
    "packet_statistics",
    "polynomial_kernel",
    "prdc",
    "prdc_features",
    "psd_sqrt",
    "registered_metrics",
    "save_memorisation_png",
    "skipped_metrics",
    "to_unit",
    "wavelet_features",
    "wavelet_packets",
]
