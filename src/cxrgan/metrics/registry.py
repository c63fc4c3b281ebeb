"""Metric registry: every metric `evaluate_sets` computes, in the order of its output.

To add a metric, write one module that defines a `Metric` (metrics/base.py) and add one line
to METRIC_ENTRIES (see docs/extending.md). Everything else (the output keys, the JSON's
"about", which metrics the set sizes skip and why, the printed tables) comes from the entries.
"""

from __future__ import annotations

from cxrgan.metrics.base import Metric, MetricInfo
from cxrgan.registry import Registry

METRIC_ENTRIES = Registry(
    "metric",
    {
        "fwd": "cxrgan.metrics.builtin:FWD",
        "kid": "cxrgan.metrics.builtin:KID",
        "prdc": "cxrgan.metrics.builtin:PRDC",
        "texture": "cxrgan.metrics.texture:TEXTURE",
        "memorisation": "cxrgan.metrics.builtin:MEMORISATION",
    },
)

# The set sizes every evaluation reports after the metrics' own keys.
N_REAL, N_FAKE = "n_real", "n_fake"
SIZE_KEYS = {
    N_REAL: MetricInfo("", "real images used", "", whole=True),
    N_FAKE: MetricInfo("", "generated images used", "", whole=True),
}


def registered_metrics() -> dict[str, Metric]:
    """Every registered metric by name, in order (each module imported on first use)."""
    return {name: METRIC_ENTRIES.load(name) for name in METRIC_ENTRIES}


def key_info() -> dict[str, MetricInfo]:
    """Every output key of an evaluation, in order, with how to read it."""
    keys = [metric.keys for metric in registered_metrics().values()]
    out = {key: info for group in keys for key, info in group.items()}
    clash = set(out) & set(SIZE_KEYS) or len(out) != sum(map(len, keys))
    if clash:
        raise ValueError("two metrics (or a metric and the set sizes) declare the same key")
    return {**out, **SIZE_KEYS}


def class_table_keys() -> tuple[str, ...]:
    """The per-class table's rows: the keys worth comparing across classes."""
    return tuple(key for key, info in key_info().items() if info.in_class_table)
