"""The YAML front matter of the model card, as a model hub (Hugging Face) reads it: license,
tags, pipeline, the data set, and a model-index with the run's measured quality.

Every string is written as a JSON string (a YAML double-quoted scalar), so no value can start a
new key; numbers are plain finite floats. The card is only written, never uploaded."""

from __future__ import annotations

import json
import math
from typing import Any

PIPELINE = "unconditional-image-generation"  # no text or image prompt; classes go in tags
TAGS = ("gan", "medical-imaging", "chest-x-ray", "synthetic-data", "image-generation", "cxrgan",
        "not-for-clinical-use")  # fmt: skip
# model-index metric type, the name shown beside it, and the key in cxrgan's records.
METRICS = (
    ("fwd", "FWD (Fréchet Wavelet Distance, lower is better)", "fwd"),
    ("kid", "KID on wavelet features (lower is better)", "kid_mean"),
    ("precision", "precision (realism, higher is better)", "precision"),
    ("recall", "recall (variety, higher is better)", "recall"),
)


def front_matter(
    spec: dict[str, Any],
    dataset: dict[str, str],
    license_id: str,
    quality: tuple[str, dict[str, Any]] | None,
) -> list[str]:
    """The lines from the opening `---` to the closing one (and a blank line).

    dataset: the training data's "name" and "type", and "hub", its id on the hub, for a
    public data set (listed under datasets). quality: (split, metrics): held-out numbers from
    `cxrgan evaluate`, else the run's last evaluation on its training images; None: no
    model-index."""
    tags = [*TAGS, "class-conditional"] if spec.get("c_dim") else list(TAGS)
    lines = [
        "---",
        f"license: {license_id}",
        "library_name: pytorch",
        "tags:",
        *(f"  - {_s(tag)}" for tag in tags),
        *(["datasets:", f"  - {_s(dataset['hub'])}"] if dataset.get("hub") else []),
        f"pipeline_tag: {PIPELINE}",
    ]
    metrics = _metrics(quality[1]) if quality else []
    if quality and metrics:
        lines += _model_index(spec, dataset, quality[0], metrics)
    return [*lines, "---", ""]


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _metrics(values: dict[str, Any]) -> list[tuple[str, str, float]]:
    found = []
    for kind, name, key in METRICS:
        value = values.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            found.append((kind, name, float(value)))
    return found


def _model_index(
    spec: dict[str, Any],
    dataset: dict[str, str],
    split: str,
    metrics: list[tuple[str, str, float]],
) -> list[str]:
    name = f"cxrgan-{spec['name']}-{spec['resolution']}px"
    lines = [
        "model-index:",
        f"  - name: {_s(name)}",
        "    results:",
        "      - task:",
        f"          type: {PIPELINE}",
        f"          name: {_s('synthetic chest X-ray generation')}",
        "        dataset:",
        f"          name: {_s(dataset['name'])}",
        f"          type: {_s(dataset['type'])}",
        f"          split: {_s(split)}",
        "        metrics:",
    ]
    for kind, label, value in metrics:
        lines += [
            f"          - type: {kind}",
            f"            name: {_s(label)}",
            f"            value: {value!r}",
        ]
    return lines
