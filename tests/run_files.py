"""Reading a run directory's plain files in tests: metrics.jsonl records and config.json."""

from __future__ import annotations

import json
from pathlib import Path


def records(run: Path) -> list[dict]:
    """Every record of RUN/metrics.jsonl, in file order."""
    return [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def train_steps(run: Path) -> list[int]:
    """The steps of the training records (the ones with loss_d)."""
    return [r["step"] for r in records(run) if "loss_d" in r]


def config(run: Path) -> dict:
    return json.loads((Path(run) / "config.json").read_text())
