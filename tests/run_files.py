"""Run directories in tests: reading their plain files (metrics.jsonl records, config.json, the
last checkpoint's tensors), and the straight-against-resumed pair of runs."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file


def script_fwd(monkeypatch, scores: Iterator[float]) -> None:
    """Every FWD evaluation (overall, then each class of a conditional model) returns the next
    value of `scores`, so decisions on `best` and early stopping are exact."""
    from cxrgan.metrics.evaluate import QualityEvaluator

    monkeypatch.setattr(
        QualityEvaluator,
        "evaluate",
        lambda self, fake: {"fwd": next(scores), "kid_mean": 0.1, "kid_std": 0.01},
    )


def records(run: Path) -> list[dict]:
    """Every record of RUN/metrics.jsonl, in file order."""
    return [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def train_steps(run: Path) -> list[int]:
    """The steps of the training records (the ones with loss_d)."""
    return [r["step"] for r in records(run) if "loss_d" in r]


def wait_for_steps(run: Path, proc: subprocess.Popen, n: int, timeout: float = 180) -> None:
    """Until RUN/metrics.jsonl holds training records past step n, while `proc` runs. The file
    is read while the run appends to it, so a half-written last line is read again later."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"training did not pass step {n} in time"
        with contextlib.suppress(OSError, ValueError):
            if any(s > n for s in train_steps(run)):
                return
        time.sleep(0.05)


def config(run: Path) -> dict:
    return json.loads((Path(run) / "config.json").read_text())


def last_tensors(run: Path) -> dict[str, torch.Tensor]:
    """Every tensor of RUN/checkpoints/last.safetensors."""
    return load_file(str(Path(run) / "checkpoints" / "last.safetensors"))


def straight_and_resumed(root: Path, settings: dict, epochs: int) -> tuple[Path, Path]:
    """ROOT/straight trains `epochs` epochs in one go; ROOT/split trains 1, then is resumed to
    `epochs`: the pair every bit-exact resume test compares."""
    from cxrgan.config import TrainConfig
    from cxrgan.training.session import resume_run, start_run

    straight, split = root / "straight", root / "split"
    start_run(TrainConfig(out=str(straight), epochs=epochs, **settings))
    start_run(TrainConfig(out=str(split), epochs=1, **settings))
    resume_run(split, {"epochs": epochs})
    return straight, split
