"""`cxrgan evaluate` on folders and on a run."""

import json

import numpy as np
from PIL import Image
from tiny import TINY_CONFIG

from cxrgan.cli.main import main
from cxrgan.config import TrainConfig
from cxrgan.training.session import start_run


def _folder(path, images):
    path.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(path / f"{i:04d}.png")
    return path


def test_evaluate_folder_copy_is_flagged_as_memorised(tmp_path, png128, capsys):
    out = tmp_path / "r.json"
    png = tmp_path / "mem.png"
    assert (
        main(
            [
                "evaluate",
                "--real",
                str(png128),
                "--fake",
                str(png128),
                "--n",
                "300",
                "--json",
                str(out),
                "--memorisation-png",
                str(png),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "fwd" in text and "lower" in text
    result = json.loads(out.read_text())
    m = result["metrics"]
    assert m["memorised_share"] > 0.99  # every "generated" image is a training image
    assert (
        m["fwd"] < 0.05
    )  # two samples of one set: small (disjoint sets of X-rays vs phantoms: large)
    assert result["about"]["fwd"]["better"] == "lower"
    assert Image.open(png).size[0] > 0


def test_evaluate_run_generates_and_writes_memorisation_png(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--image-size",
                "32",
                "--ngf",
                "8",
                "--ndf",
                "8",
                "--nz",
                "16",
                "--batch-size",
                "16",
                "--demo-images",
                "64",
                "--epochs",
                "1",
                "--steps-per-epoch",
                "2",
                "--device",
                "cpu",
                "--no-progress",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    rng = np.random.default_rng(0)
    real = _folder(tmp_path / "real", rng.integers(0, 255, (40, 32, 32), dtype=np.uint8))
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "evaluate",
                "--real",
                str(real),
                "--fake",
                str(run),
                "--n",
                "40",
                "--json",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "only 40 images" in capsys.readouterr().out
    m = json.loads(out.read_text())["metrics"]
    assert m["n_fake"] == 40 and m["n_real"] == 40 and m["fwd"] > 0
    assert (run / "memorisation.png").is_file()


def test_evaluate_takes_the_size_from_the_checkpoint_spec(tmp_path, capsys, png128):
    run = tmp_path / "run"
    settings = {**TINY_CONFIG, "demo_images": 16, "epochs": 1, "steps_per_epoch": 1}
    start_run(TrainConfig(out=str(run), **settings))
    # config.json's loose fields are not what a loader reads: the checkpoint's model spec is.
    info = json.loads((run / "config.json").read_text())
    info["config"]["image_size"] = 128
    (run / "config.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["evaluate", "--real", str(png128), "--fake", str(run), "--image-size", "64"]) == 2
    assert "generates 32 px images; drop --image-size or pass 32" in capsys.readouterr().err
