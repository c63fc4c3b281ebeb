"""Metrics as entries: a metric registered in METRIC_ENTRIES reaches every output of an
evaluation (keys, skips and their reasons, tables), and an entry is held to the keys it declares."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from cxrgan.metrics import METRIC_ENTRIES, Metric, MetricInfo, Pair, format_metrics
from cxrgan.metrics.builtin import FWD, KID, MEMORISATION, PRDC
from cxrgan.metrics.evaluate import (
    CLASS_TABLE_KEYS,
    METRICS,
    evaluate_classes,
    evaluate_sets,
    minimum_images,
    skipped_metrics,
)
from cxrgan.metrics.registry import class_table_keys, key_info, registered_metrics
from cxrgan.metrics.texture import TEXTURE

RNG = np.random.default_rng(11)
REAL = RNG.integers(0, 256, (24, 32, 32), dtype=np.uint8)
FAKE = RNG.integers(40, 200, (16, 32, 32), dtype=np.uint8)


def _mean_ratio(pair: Pair) -> dict[str, float | None]:
    return {"mean_ratio": float(pair.fake.mean() / pair.real.mean())}


MEAN_RATIO = Metric(
    keys={"mean_ratio": MetricInfo("~1", "mean gray of fakes / of reals", "")},
    compute=_mean_ratio,
    min_images=3,
    needs="three to average",
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch):
    """Registers `entry` under `name` for one test, as a line in METRIC_ENTRIES would."""

    def register(name: str, entry: Metric) -> None:
        module = types.ModuleType("extra_metric_for_test")
        module.ENTRY = entry
        monkeypatch.setitem(sys.modules, module.__name__, module)
        monkeypatch.setitem(METRIC_ENTRIES._entries, name, f"{module.__name__}:ENTRY")

    return register


def test_the_built_in_entries_in_order() -> None:
    assert registered_metrics() == {"fwd": FWD, "kid": KID, "prdc": PRDC, "texture": TEXTURE,
                                    "memorisation": MEMORISATION}  # fmt: skip
    assert list(METRICS) == [*FWD.keys, *KID.keys, *PRDC.keys, "laplacian_ratio",
                             *MEMORISATION.keys, "n_real", "n_fake"]  # fmt: skip
    assert key_info() == METRICS
    assert class_table_keys() == CLASS_TABLE_KEYS
    assert "kid_subsets" not in CLASS_TABLE_KEYS and "nn_threshold" not in CLASS_TABLE_KEYS
    assert minimum_images() == {"fwd": 2, "kid": 2, "prdc": 6, "texture": 2, "memorisation": 2}
    assert minimum_images(k=3)["prdc"] == 4


def test_every_entry_returns_exactly_its_keys() -> None:
    got = evaluate_sets(REAL, FAKE, kid_subset_size=8, kid_subsets=5)
    assert list(got) == list(METRICS)
    assert all(type(v) is float for v in got.values())  # nothing skipped at 24 and 16 images


def test_a_new_entry_reaches_values_skips_and_tables(registered) -> None:
    registered("mean", MEAN_RATIO)
    got = evaluate_sets(REAL, FAKE)
    expected = (FAKE / 255.0).mean() / (REAL / 255.0).mean()
    assert got["mean_ratio"] == pytest.approx(expected, rel=1e-12)
    assert list(got)[-3:] == ["mean_ratio", "n_real", "n_fake"]
    assert "mean gray of fakes / of reals" in format_metrics(got)
    assert skipped_metrics(24, 2)["mean"] == (
        "mean_ratio: need at least 3 images per side (three to average), got 2 generated"
    )
    assert "mean" not in skipped_metrics(3, 3)
    # Two fakes: FWD and KID run, PRDC and the new metric are skipped (None), memorisation runs.
    two = evaluate_sets(REAL, FAKE[:2])
    assert two["mean_ratio"] is None and two["precision"] is None and two["fwd"] is not None
    per_class = evaluate_classes(REAL, ["a"] * 24, FAKE, ["a"] * 16, ["a"])
    assert per_class["a"].metrics["mean_ratio"] == pytest.approx(expected, rel=1e-12)
    assert "mean_ratio" in class_table_keys()


def test_an_entry_that_returns_other_keys_is_an_error(registered) -> None:
    def wrong(pair: Pair) -> dict[str, float | None]:
        return {"something_else": 1.0}

    registered("wrong", Metric(keys={"declared": MetricInfo("", "", "")}, compute=wrong))
    with pytest.raises(ValueError, match="'wrong' returned \\['something_else'\\]"):
        evaluate_sets(REAL, FAKE)


def test_two_entries_cannot_share_a_key(registered) -> None:
    registered("again", Metric(keys={"fwd": MetricInfo("", "", "")}, compute=_mean_ratio))
    with pytest.raises(ValueError, match="declare the same key"):
        key_info()


def test_a_class_without_generated_images_gets_every_metric_none() -> None:
    got = evaluate_classes(REAL, ["A"] * 12 + ["B"] * 12, FAKE, ["A"] * 16, ["A", "B"])
    b = got["B"].metrics
    assert (b["n_real"], b["n_fake"]) == (12.0, 0.0)
    assert all(b[key] is None for key in METRICS if key not in ("n_real", "n_fake"))
    assert got["A"].metrics["fwd"] is not None
