"""The run directory: paths, config.json, metrics.jsonl and the log (see docs/run-directory.md)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def default_run_path() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def write_json_atomic(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


class RunDir:
    """Knows where every file of a run lives; reading and writing goes through here."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.jsonl"
        self.log_file = self.root / "train.log"
        self.samples = self.root / "samples"
        self.plots = self.root / "plots"
        self.checkpoints = self.root / "checkpoints"
        self.report = self.root / "report.html"

    @classmethod
    def create(cls, root: Path) -> RunDir:
        run = cls(root)
        if run.config.exists():
            raise CxrganError(f"{root} already holds a run; use --resume {root} or another --out")
        for sub in (run.samples, run.plots, run.checkpoints):
            sub.mkdir(parents=True, exist_ok=True)
        return run

    @classmethod
    def open(cls, root: Path) -> RunDir:
        run = cls(root)
        if not root.is_dir():
            raise CxrganError(f"run folder not found: {root}")
        if not run.config.is_file():
            raise CxrganError(f"{root} is not a cxrgan run (no config.json)")
        return run

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / f"{name}.safetensors"

    def sample_grid(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:04d}.png"

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config.read_text())
        except json.JSONDecodeError as exc:
            raise CxrganError(f"{self.config} is not valid JSON: {exc}") from None

    def write_config(self, data: dict[str, Any]) -> None:
        write_json_atomic(self.config, data)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def log(self, message: str, *, echo: bool = True) -> None:
        """Append a line to train.log and, unless told otherwise, print it."""
        with self.log_file.open("a") as f:
            f.write(f"{now_iso()} {message}\n")
        if echo:
            # tqdm.write keeps an active progress bar intact.
            tqdm.write(message, file=sys.stderr if message.startswith("warning") else sys.stdout)
