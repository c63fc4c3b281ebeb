"""One tiny conditional run trained on phantom films of 40 patients, and the held-out films of
40 others, shared by the privacy tests (training it takes a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from privacy_helpers import film_folder
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.training.session import start_run


@pytest.fixture(scope="session")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """run/ (checkpoints hold G and D), train/ (its films) and heldout/ (other patients)."""
    root = tmp_path_factory.mktemp("privacy")
    train = film_folder(root / "train", range(0, 40))
    heldout = film_folder(root / "heldout", range(100, 140), seed=1)
    run = root / "run"
    start_run(TrainConfig(data=str(train), out=str(run), epochs=1, steps_per_epoch=1,
                          cache=False, conditional=True, **TINY_CONFIG))  # fmt: skip
    return {"run": run, "train": train, "heldout": heldout, "root": root}
