"""Weights & Biases: online when the user has logged in (WANDB_API_KEY, or an entry for the
W&B host in ~/.netrc, which `wandb login` writes), else offline in RUN/wandb/, to upload later
with `wandb sync`; WANDB_MODE, when set, decides instead. RUN/trackers.json keeps the run id,
so a resume continues the same W&B run."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cxrgan.tracking.base import Tracker, clean_stop, need, save_ids, saved_ids

PROJECT = "cxrgan"  # unless WANDB_PROJECT names another
HOST = "https://api.wandb.ai"  # unless WANDB_BASE_URL names another


def logged_in() -> bool:
    """Whether W&B has an API key for its host, read as wandb reads it, without the network."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or HOST).hostname or ""
    path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def mode() -> str | None:
    """wandb.init's mode: None lets WANDB_MODE (or a login) decide; else offline."""
    return None if os.environ.get("WANDB_MODE") or logged_in() else "offline"


class WandbTracker(Tracker):
    name = "wandb"

    @classmethod
    def required(cls) -> tuple[str, ...]:
        return ("wandb",)

    def __init__(self, root: Path, config: dict[str, Any]):
        wandb = need("wandb", "wandb")
        self.wandb = wandb
        saved = saved_ids(root).get(self.name) or {}
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or PROJECT,
            name=root.name,
            id=saved.get("run_id"),  # None: W&B makes one
            resume="allow",
            dir=str(root),
            mode=mode(),
            config=config,
            settings=wandb.Settings(console="off"),  # train.log keeps the console already
        )
        if self.run.resumed or saved:
            self.run.config.update(config, allow_val_change=True)
        # Every value is plotted against the training step, which a resume may repeat.
        self.run.define_metric("step", hidden=True)
        self.run.define_metric("*", step_metric="step")
        if not saved:
            save_ids(root, self.name, {"run_id": self.run.id})

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log({"step": step, **values})

    def image(self, tag: str, path: Path, step: int) -> None:
        self.run.log({"step": step, tag: self.wandb.Image(str(path), caption=path.name)})

    def summary(self, values: dict[str, float], step: int) -> None:
        self.run.summary.update(values)

    def close(self, reason: str) -> None:
        self.run.summary["stopped"] = reason
        self.run.finish(exit_code=0 if clean_stop(reason) else 1)
