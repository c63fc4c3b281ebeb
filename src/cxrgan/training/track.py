"""The run's trackers (--track: TensorBoard, MLflow, W&B) as one callback on the main process.

They get the settings when they open (cxrgan.tracking), then what the run itself records: the
logged scalars, each epoch's sample grid, every evaluation, and at the end the final numbers
(docs/trackers.md). A tracker that fails is warned about once and left out; training goes on.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from cxrgan.config import BY_NAME
from cxrgan.tracking.base import Guarded, open_guarded
from cxrgan.training.callbacks import LOSS_SCALARS, Callback

if TYPE_CHECKING:
    from cxrgan.config import TrainConfig
    from cxrgan.training.trainer import Trainer

QUALITY_BOOKKEEPING = ("step", "epoch")  # an evaluation's keys that are not measurements


def tracker_names(cfg: TrainConfig) -> tuple[str, ...]:
    """--track's names, and tensorboard when --tensorboard is on."""
    names = BY_NAME["track"].items(cfg.track)
    return (*names, "tensorboard") if cfg.tensorboard and "tensorboard" not in names else names


class Track(Callback):
    def __init__(self, trackers: list[Guarded]):
        self.trackers = trackers
        self.evaluations: list[dict[str, Any]] = []  # this session's

    @classmethod
    def open(cls, t: Trainer, names: tuple[str, ...]) -> Track:
        config = t.cfg.to_dict()
        opened = [open_guarded(name, t.run.root, config, t.run.log) for name in names]
        return cls([g for g in opened if g is not None])

    def _each(self, method: str, *args: Any) -> None:
        for tracker in self.trackers:
            tracker.call(method, *args)

    def on_log(self, t: Trainer, record: dict[str, Any]) -> None:
        values = {f"train/{key}": record[key] for key in LOSS_SCALARS if key in record}
        if values:
            self._each("scalars", values, record["step"])

    def on_epoch_end(self, t: Trainer, means: dict[str, float]) -> None:
        grid = t.run.sample_grid(t.state.counters.epoch)  # SampleGrids wrote it just before
        if grid.exists():
            self._each("image", "samples", grid, t.state.counters.step)

    def on_eval(self, t: Trainer, record: dict[str, Any]) -> None:
        self.evaluations.append(record)
        self._each("scalars", quality_scalars(record), record["step"])

    def on_close(self, t: Trainer) -> None:
        failed = sys.exc_info()[0] is not None  # on_close runs as an error ends training too
        reason = t.stop_reason or ("failed" if failed else "completed")
        self._each("summary", final_numbers(t, self.evaluations), t.state.counters.step)
        self._each("close", reason)


def quality_scalars(record: dict[str, Any]) -> dict[str, float]:
    """An evaluation's numbers as `quality/<name>`, per class as `quality/fwd_<class>`."""
    values = {
        f"quality/{key}": float(value)
        for key, value in record.items()
        if key not in QUALITY_BOOKKEEPING and _is_number(value)
    }
    for name, scores in (record.get("per_class") or {}).items():
        for key, value in scores.items():
            if _is_number(value):
                values[f"quality/{key}_{name}"] = float(value)
    return values


def final_numbers(t: Trainer, evaluations: list[dict[str, Any]]) -> dict[str, float]:
    """Where the run ended: its counters, the last logged losses and rates, the last evaluation
    and the best FWD of the whole run (earlier sessions' too)."""
    c = t.state.counters
    out: dict[str, float] = {"final/step": c.step, "final/epoch": c.epoch}
    if t.records:
        last = t.records[-1]
        out.update({f"final/{key}": float(last[key]) for key in LOSS_SCALARS if key in last})
    scored = [r for r in [*t.eval_records, *evaluations] if _is_number(r.get("fwd"))]
    if scored:
        last, best = scored[-1], min(scored, key=lambda r: r["fwd"])
        out.update({f"final/{key}": float(last[key]) for key in ("fwd", "kid_mean") if
                    _is_number(last.get(key))})  # fmt: skip
        out.update({"best/fwd": float(best["fwd"]), "best/step": best["step"]})
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
