"""The model card's YAML front matter, read back with a YAML parser as a model hub reads it: the
license, tags, pipeline and the run's own quality numbers in its model-index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tiny import TINY_CONFIG

from cxrgan.cli.main import main
from cxrgan.config import TrainConfig
from cxrgan.study.card_front_matter import front_matter
from cxrgan.training.session import start_run

SPEC = {"name": "dcgan", "resolution": 32, "c_dim": 0}


def card_yaml(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def model_index_metrics(meta: dict) -> tuple[dict, dict[str, float]]:
    (entry,) = meta["model-index"]
    (result,) = entry["results"]
    return result, {m["type"]: m["value"] for m in result["metrics"]}


@pytest.fixture(scope="module")
def phantom_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("card") / "run"
    start_run(TrainConfig(out=str(run), demo_images=32, epochs=1, steps_per_epoch=2,
                          eval_every=1, eval_n=32, **TINY_CONFIG))  # fmt: skip
    return run


def _export(run: Path, out: Path) -> dict:
    assert main(["export", str(run), "--out", str(out)]) == 0
    return card_yaml((out / "README.md").read_text("utf-8"))


def test_front_matter_carries_the_last_training_evaluation(phantom_run, tmp_path) -> None:
    meta = _export(phantom_run, tmp_path / "bundle")
    last = [json.loads(x) for x in (phantom_run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in last if "fwd" in r][-1]
    assert meta["license"] == "other" and meta["library_name"] == "pytorch"
    assert meta["pipeline_tag"] == "unconditional-image-generation"
    assert "not-for-clinical-use" in meta["tags"] and "class-conditional" not in meta["tags"]
    assert "datasets" not in meta  # the phantoms are no public data set
    result, metrics = model_index_metrics(meta)
    assert meta["model-index"][0]["name"] == "cxrgan-dcgan-32px"
    assert result["task"]["type"] == "unconditional-image-generation"
    assert result["dataset"]["type"] == "cxrgan-phantoms" and result["dataset"]["split"] == "train"
    assert metrics == {"fwd": last["fwd"], "kid": last["kid_mean"],
                       "precision": last["precision"], "recall": last["recall"]}  # fmt: skip


def test_front_matter_prefers_held_out_numbers(phantom_run, tmp_path) -> None:
    """RUN/evaluation.json (what `cxrgan evaluate --json` writes) wins over training's own."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "metrics.jsonl", "checkpoints"):
        src = phantom_run / name
        (run / name).symlink_to(src, target_is_directory=src.is_dir())
    held_out = {"fwd": 0.0611, "kid_mean": 0.0012, "precision": 0.71, "recall": 0.59,
                "density": 0.9, "coverage": float("nan")}  # fmt: skip
    (run / "evaluation.json").write_text(json.dumps({"real": "heldout", "metrics": held_out}))
    meta = _export(run, tmp_path / "bundle")
    result, metrics = model_index_metrics(meta)
    assert result["dataset"]["split"] == "held-out"
    assert metrics == {"fwd": 0.0611, "kid": 0.0012, "precision": 0.71, "recall": 0.59}


def test_front_matter_values_stay_values() -> None:
    """A data set name with YAML syntax in it stays one string; non-finite numbers are left
    out; no metrics at all: no model-index."""
    odd = {"name": 'x: y\n- "z" # w', "type": "imagefolder"}
    lines = front_matter({**SPEC, "c_dim": 2}, odd, "other", ("held-out", {"fwd": float("inf"),
                         "recall": 0.5}))  # fmt: skip
    meta = card_yaml("\n".join(lines))
    result, metrics = model_index_metrics(meta)
    assert result["dataset"]["name"] == odd["name"] and metrics == {"recall": 0.5}
    assert "class-conditional" in meta["tags"]
    bare = card_yaml("\n".join(front_matter(SPEC, odd, "mit", ("train", {"fwd": None}))))
    assert "model-index" not in bare and bare["license"] == "mit"
