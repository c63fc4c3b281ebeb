"""The sweep folder: sweep.json (read, checked against a new spec, written) and the lock that
keeps one `cxrgan sweep` per folder."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.files import write_json_atomic
from cxrgan.sweep.spec import RUNS, SWEEP_FILE, SweepSpec, spec_difference

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; run one sweep per folder by hand
    fcntl = None  # type: ignore[assignment]

# What a sweep folder holds besides sweep.json: a folder of only these may become a sweep.
SWEEP_FILES = frozenset({RUNS, ".lock", "grids.png", "losses.png", "report.html"})


def read_sweep(sweep: Path) -> dict[str, Any] | None:
    path = sweep / SWEEP_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CxrganError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "spec" not in data:
        raise CxrganError(f"{path} is not a cxrgan sweep file")
    return data


def open_sweep(sweep: Path, spec: SweepSpec | None) -> SweepSpec:
    """The spec to run: the stored one (checked against `spec` when given), or `spec` when new."""
    stored = read_sweep(sweep)
    if stored is None:
        if spec is None:
            raise CxrganError(
                f"{sweep} holds no sweep ({SWEEP_FILE} missing); give the grid to start one"
            )
        if sweep.is_dir() and any(p.name not in SWEEP_FILES for p in sweep.iterdir()):
            raise CxrganError(f"{sweep} exists and is not a sweep folder; choose another --out")
        return spec
    old = SweepSpec.from_dict(stored["spec"])
    if spec is None:
        return old
    if old.identity() != spec.identity():
        raise CxrganError(
            f"{sweep} holds a different sweep ({spec_difference(old, spec)}); re-run its own "
            f"command (or `cxrgan sweep {sweep}`), or choose another --out"
        )
    # Same grid: keep the stored value order (member order), take this run's runtime options.
    return SweepSpec(old.grid, old.base, old.steps, spec.runtime)


def write_sweep(sweep: Path, summary: dict[str, Any]) -> None:
    write_json_atomic(sweep / SWEEP_FILE, summary)


@contextlib.contextmanager
def sweep_lock(sweep: Path) -> Iterator[None]:
    """One `cxrgan sweep` per folder at a time; the OS drops the lock if the process dies."""
    if fcntl is None:
        yield
        return
    sweep.mkdir(parents=True, exist_ok=True)
    with (sweep / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CxrganError(f"another `cxrgan sweep` is running in {sweep}") from None
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
