"""What every tracker does, the run folder's record of tracker runs (trackers.json), and the
guard that keeps a failing tracker from ending training."""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.files import write_json_atomic

IDS_FILE = "trackers.json"  # {"mlflow": {"run_id": ...}, "wandb": {...}} in the run folder
# A stop that ended the run as planned; anything else (interrupted, diverged, failed) did not.
CLEAN_STOPS = ("completed", "budget", "early_stop")


class Tracker:
    """One tracker run. `root` is the cxrgan run folder; `config` its settings (config.json's)."""

    name = ""

    def __init__(self, root: Path, config: dict[str, Any]): ...

    @classmethod
    def required(cls) -> tuple[str, ...]:
        """The packages it imports (those of its extra)."""
        return ()

    def scalars(self, values: dict[str, float], step: int) -> None: ...

    def image(self, tag: str, path: Path, step: int) -> None:
        """A PNG the run has written (a sample grid), under `tag`."""

    def summary(self, values: dict[str, float], step: int) -> None:
        """The run's final numbers."""

    def close(self, reason: str) -> None:
        """End this session's tracker run; `reason` is why training stopped (see CLEAN_STOPS)."""


def clean_stop(reason: str) -> bool:
    return reason.startswith(CLEAN_STOPS)


def need(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say in one line which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CxrganError(missing(extra, exc.name or module)) from None


def missing(extra: str, module: str) -> str:
    return (
        f"--track {extra} needs the {extra} extra ({module} is not installed): pip install -e "
        f"'.[{extra}]' from a cxrgan checkout, or pip install 'cxrgan[{extra}]' where a "
        "package index serves cxrgan (docs/trackers.md)"
    )


def check_installed(names: tuple[str, ...]) -> None:
    """The one-line error for a tracker whose packages are missing, before a run starts."""
    # deferred: the registry's tracker modules, not their libraries, which they import late
    from cxrgan.tracking import TRACKERS

    for name in names:
        for module in TRACKERS.load(name).required():
            if importlib.util.find_spec(module) is None:
                raise CxrganError(missing(name, module))


def saved_ids(root: Path) -> dict[str, Any]:
    """RUN/trackers.json: the tracker runs this run logs to, by tracker name."""
    try:
        data = json.loads((root / IDS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_ids(root: Path, name: str, record: dict[str, Any]) -> None:
    write_json_atomic(root / IDS_FILE, {**saved_ids(root), name: record})


class Guarded:
    """A tracker whose failures are warned about once, after which it is left out: a tracking
    store that fails (full, read-only, unreachable) must not end the training it watches."""

    def __init__(self, tracker: Tracker, warn: Callable[[str], None]):
        self.tracker, self.warn = tracker, warn
        self.failed = False

    @property
    def name(self) -> str:
        return self.tracker.name

    def call(self, method: str, *args: Any) -> None:
        if self.failed:
            return
        try:
            getattr(self.tracker, method)(*args)
        except Exception as exc:  # any library's error: tracking is never worth a run
            self.failed = True
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.warn(
                f"warning: {self.name} tracking failed in {method} ({type(exc).__name__}: "
                f"{text[:200]}); nothing more goes to {self.name} in this session, training "
                "goes on"
            )


def open_guarded(
    name: str, root: Path, config: dict[str, Any], warn: Callable[[str], None]
) -> Guarded | None:
    """The tracker `name` for the run in `root`, guarded; None (after a warning) when it fails to
    open for any reason but a missing package, which is an error before training starts."""
    # deferred: each tracker module imports its library only when the run asks for it
    from cxrgan.tracking import TRACKERS

    cls = TRACKERS.load(name)
    try:
        return Guarded(cls(root, config), warn)
    except CxrganError:
        raise
    except Exception as exc:
        warn(
            f"warning: {name} tracking could not start ({type(exc).__name__}: "
            f"{str(exc).strip()[:200]}); training goes on without it"
        )
        return None
