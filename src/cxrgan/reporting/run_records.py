"""Reading a run directory: metrics.jsonl records, config.json, and the sample grids in
samples/."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.reporting.formatting import as_number

LABEL_WIDTH = 96  # px of a conditional run's sample grids' left margin that names each class band


def grid_classes(info: Mapping[str, Any]) -> int:
    """How many class bands a run's epoch grids have, from its config.json (`info`): its class
    count when it trains class-conditionally, else 0 (plain grids)."""
    cfg, dataset = info.get("config"), info.get("dataset")
    if not (isinstance(cfg, dict) and cfg.get("conditional") and isinstance(dataset, dict)):
        return 0
    classes = dataset.get("classes")
    return len(classes) if isinstance(classes, dict) else 0


def selection_fwd(record: Mapping[str, Any]) -> Any:
    """An evaluation record's FWD that `best`, early stopping and sweep ranking minimise: the
    overall FWD, or a conditional model's worst class's FWD, because a class that collapses (the
    minority class first) hides in the overall mix while its synthetic images are useless."""
    return record.get("fwd_worst_class", record.get("fwd"))


def best_evaluation(evals: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The evaluation record `best` was saved at: the first with the lowest finite
    `selection_fwd`; None when no record has one."""
    scored = [(as_number(selection_fwd(r)), i) for i, r in enumerate(evals)]
    finite = [(v, i) for v, i in scored if math.isfinite(v)]
    return evals[min(finite)[1]] if finite else None


def load_records(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training, evaluation) records of RUN/metrics.jsonl, each in step order.

    Tolerates a torn or garbled line (skipped), unknown keys and record kinds, and a missing
    file (a run that has not logged yet). When a resume re-logs steps already logged, the new
    records replace the old ones from that step on.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CxrganError(f"{run_dir} is not a directory")
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return [], []
    training: list[dict[str, Any]] = []
    evaluation: list[dict[str, Any]] = []
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            record = _parse_line(line)
            if record is None:
                continue
            if "loss_d" in record:
                _append_in_step_order(training, record)
            elif "fwd" in record:
                _append_in_step_order(evaluation, record)
    return training, evaluation


def load_events(run_dir: Path, event: str) -> list[dict[str, Any]]:
    """RUN/metrics.jsonl's event records of one kind ("rollback", "balance"), in file order."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        return [r for r in map(_parse_line, fh) if r is not None and r.get("event") == event]


def _parse_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)  # reads NaN / Infinity as Python floats
    except ValueError:
        return None  # torn last line of a run being written, or garbage
    return record if isinstance(record, dict) else None


def _append_in_step_order(records: list[dict[str, Any]], record: dict[str, Any]) -> None:
    step = as_number(record.get("step"))
    if math.isfinite(step):
        while records and as_number(records[-1].get("step")) >= step:
            records.pop()  # superseded by a resume from an earlier checkpoint
    records.append(record)


def read_config(run_dir: Path) -> dict[str, Any]:
    """RUN/config.json as a dict; {} when it is missing or unreadable."""
    try:
        data = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_settings(run_dir: Path) -> dict[str, Any]:
    """config.json's `config` (the run's resolved settings); {} when missing or unreadable.

    Older runs lack the newer keys: a run without `loss` trained with bce, one without
    `augment` or `ema_kimg` without augmentation or EMA."""
    cfg = read_config(run_dir).get("config")
    return cfg if isinstance(cfg, dict) else {}


def is_run_dir(path: Path) -> bool:
    return (Path(path) / "config.json").is_file()


_EPOCH_PNG = re.compile(r"^epoch_(\d+)\.png$")


def epoch_grids(run_dir: Path) -> list[tuple[int, Path]]:
    """[(epoch, samples/epoch_NNNN.png)] sorted by epoch."""
    samples = Path(run_dir) / "samples"
    if not samples.is_dir():
        return []
    found = []
    for p in samples.iterdir():
        m = _EPOCH_PNG.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def image_size_of(run_dir: Path) -> int | None:
    size = read_config(run_dir).get("config", {})
    size = size.get("image_size") if isinstance(size, dict) else None
    return int(size) if isinstance(size, int | float) and size > 0 else None


def fwd_floor(evals: Sequence[Mapping[str, Any]]) -> tuple[float, int | None]:
    """(The latest real-vs-real FWD floor of the evaluation records, its n per side): (NaN,
    None) when no record carries one (runs from before the floor, or too few real images)."""
    for r in reversed(evals):
        floor = as_number(r.get("fwd_floor")) if isinstance(r, Mapping) else math.nan
        if math.isfinite(floor) and floor > 0:
            n = as_number(r.get("fwd_floor_n"))
            return floor, int(n) if math.isfinite(n) else None
    return math.nan, None


def per_class_fwd(evals: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """A conditional run's FWD per class: class name -> (steps, FWD values), in class order."""
    names = sorted({name for r in evals for name in r.get("per_class") or {}})
    out = {}
    for name in names:
        rows = [r for r in evals if name in (r.get("per_class") or {})]
        out[name] = ([r["step"] for r in rows], [r["per_class"][name]["fwd"] for r in rows])
    return out
