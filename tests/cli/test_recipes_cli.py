"""Every recipe through the whole workflow on the real Kaggle X-rays: train with evaluation,
early stopping, balance and TensorBoard; resume; diagnose, report, generate and evaluate."""

from __future__ import annotations

import json
import shutil

import pytest

from cxrgan.cli.main import main
from cxrgan.recipes import RECIPES

# Small networks at 64 px (every architecture supports 64), overriding the recipe's widths.
SMALL = ["--image-size", "64", "--ngf", "8", "--ndf", "8", "--nz", "16", "--batch-size", "16",
         "--device", "cpu", "--no-progress"]  # fmt: skip


@pytest.mark.shared_data
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_recipe_runs_the_whole_workflow(recipe, kaggle224, tmp_path, capsys):
    run = tmp_path / "run"
    train = ["train", "--recipe", recipe, "--data", str(kaggle224), *SMALL, "--epochs", "1",
             "--steps-per-epoch", "3", "--log-every", "1", "--eval-every", "1", "--eval-n", "16",
             "--early-stop-patience", "5", "--balance", "auto", "--tensorboard",
             "--out", str(run)]  # fmt: skip
    assert main(train) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    info = json.loads((run / "config.json").read_text())
    assert info["config"]["recipe"] == recipe and info["recipe"]["name"] == recipe
    assert info["stopped"]["reason"] == "completed" and info["stopped"]["step"] == 6
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum("fwd" in r for r in records) == 2  # one evaluation per epoch
    assert (run / "checkpoints" / "best.safetensors").is_file()
    assert list((run / "tb").iterdir())

    capsys.readouterr()  # training's own output
    assert main(["diagnose", str(run), "--json"]) == 0
    diagnosis = json.loads(capsys.readouterr().out)
    # Six steps logged one by one: fewer records than the 8 the trends need, and it says so.
    assert diagnosis["state"] == "too_early" and diagnosis["title"] == "Too early to judge"
    assert diagnosis["advice"].startswith(
        "Only 6 training records (step 6); the trends say something after 8. "
    )
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").stat().st_size > 10_000
    out = tmp_path / "gen"
    assert main(["generate", str(run), "--n", "6", "--out", str(out)]) == 0
    assert len(list(out.glob("*.png"))) == 6

    real = tmp_path / "real"  # a few real X-rays, so evaluation decodes little
    real.mkdir()
    for path in sorted((kaggle224 / "NORMAL").iterdir())[:24]:
        shutil.copy(path, real / path.name)
    assert main(["evaluate", "--real", str(real), "--fake", str(run), "--n", "24",
                 "--no-progress"]) == 0  # fmt: skip
    assert "fwd" in capsys.readouterr().out.lower()
