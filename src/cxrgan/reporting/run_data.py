"""A run directory read once for its report: config, metric records, sample grids, their
diversity and the diagnosis."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cxrgan.reporting import diagnose as dg
from cxrgan.reporting.html_images import cached_grid_diversity
from cxrgan.reporting.run_records import (
    epoch_grids,
    grid_classes,
    image_size_of,
    load_records,
    read_config,
)


@dataclass
class RunData:
    """What a report shows of one run, read from its directory."""

    path: Path
    name: str
    info: dict[str, Any]  # config.json
    train: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    grids: list[tuple[int, Path]]
    tile: int | None
    diversity: list[tuple[int, float]]
    real_diversity: float | None
    diagnosis: dg.Diagnosis
    cfg: dict[str, Any] = field(default_factory=dict)

    @property
    def latest_grid(self) -> tuple[int, Path] | None:
        return self.grids[-1] if self.grids else None


def load_run(path: Path, name: str | None = None) -> RunData:
    """Read PATH; `name` defaults to the directory's name."""
    info = read_config(path)
    cfg = info.get("config") if isinstance(info.get("config"), dict) else {}
    train, evals = load_records(path)
    grids = epoch_grids(path)
    tile = image_size_of(path)
    bands = grid_classes(info)
    diversity = [
        (e, d) for e, p in grids if (d := cached_grid_diversity(p, tile, bands)) is not None
    ]
    real = path / "samples" / "real.png"
    real_div = cached_grid_diversity(real, tile) if real.is_file() else None
    latest_div = cached_grid_diversity(grids[-1][1], tile, bands) if grids else None
    diagnosis = dg.diagnose(
        train, diversity=latest_div, quality=evals, reference_diversity=real_div, settings=cfg
    )
    return RunData(
        path=path,
        name=name or path.resolve().name,
        info=info,
        train=train,
        evals=evals,
        grids=grids,
        tile=tile,
        diversity=diversity,
        real_diversity=real_div,
        diagnosis=diagnosis,
        cfg=cfg,
    )
