"""Resuming with no changes reproduces an uninterrupted run exactly on CPU."""

import json

import torch
from run_files import last_tensors, straight_and_resumed
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.training.session import resume_run, start_run

TINY = {**TINY_CONFIG, "demo_images": 64, "steps_per_epoch": 3, "log_every": 2}


def _weights(run):
    return {k: v for k, v in last_tensors(run).items() if k.startswith(("G.", "D."))}


def test_two_epochs_equal_one_plus_resume_one(tmp_path):
    straight, split = straight_and_resumed(tmp_path, TINY, 2)

    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys() and len(a) > 20
    for key in a:
        assert torch.equal(a[key], b[key]), key

    # Counters and metrics continue; history records the change; grids keep numbering.
    records = [json.loads(x) for x in (split / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3, 4, 6]
    assert [r["epoch"] for r in records] == [1, 1, 2, 2]
    straight_records = [
        json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["loss_g"] for r in records] == [r["loss_g"] for r in straight_records]
    info = json.loads((split / "config.json").read_text())
    assert [h["event"] for h in info["history"]] == ["start", "resume"]
    assert info["history"][1]["changes"] == {"epochs": [1, 2]}
    assert info["stopped"]["step"] == 6
    assert sorted(p.name for p in (split / "samples").iterdir()) == [
        "epoch_0001.png",
        "epoch_0002.png",
        "real.png",
    ]


def test_resume_with_new_learning_rate_records_and_uses_it(tmp_path):
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=1, **TINY))
    resume_run(run, {"epochs": 2, "g_lr": 1e-3})
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr_g"] for r in records] == [2e-4, 2e-4, 1e-3, 1e-3]
    assert all(r["lr_d"] == 2e-4 for r in records)
    info = json.loads((run / "config.json").read_text())
    assert info["config"]["g_lr"] == 1e-3
    assert info["history"][-1]["changes"] == {"epochs": [1, 2], "g_lr": [2e-4, 1e-3]}
