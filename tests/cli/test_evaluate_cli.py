"""`cxrgan evaluate` on folders and on a run."""

import json

import numpy as np
import pytest
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


def _gray(rng, n, size):
    """Smooth random images (not noise), so that resizing them means something."""
    base = rng.integers(0, 255, (n, 8, 8)).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(b).resize((size, size))) for b in base])


def test_few_fake_images_skip_what_cannot_be_computed(tmp_path, capsys):
    rng = np.random.default_rng(1)
    real = _folder(tmp_path / "real", _gray(rng, 40, 32))
    five = _folder(tmp_path / "five", _gray(rng, 5, 32))
    out = tmp_path / "five.json"
    args = ["evaluate", "--real", str(real), "--no-progress", "--memorisation-png"]
    assert main([*args, str(tmp_path / "m5.png"), "--fake", str(five), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "skipped precision, recall, density, coverage: need at least 6 images per side" in text
    assert "got 5 generated" in text
    result = json.loads(out.read_text())
    assert result["metrics"]["precision"] is None and result["metrics"]["fwd"] > 0
    assert set(result["skipped"]) == {"prdc"}

    one = _folder(tmp_path / "one", _gray(rng, 1, 32))
    out = tmp_path / "one.json"
    assert main([*args, str(tmp_path / "m1.png"), "--fake", str(one), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "skipped fwd, fwd_log: need at least 2 images per side" in text
    assert "skipped kid_mean, kid_std: need at least 2 images per side" in text
    result = json.loads(out.read_text())
    assert result["metrics"]["fwd"] is None and result["metrics"]["memorised_share"] == 0.0
    assert (tmp_path / "m1.png").is_file()

    single_real = _folder(tmp_path / "single_real", _gray(rng, 1, 32))
    assert main(["evaluate", "--real", str(single_real), "--fake", str(one), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "nothing to compute" in err and "Traceback" not in err


def test_image_size_must_be_a_usable_size(tmp_path, capsys):
    rng = np.random.default_rng(2)
    real = _folder(tmp_path / "real", _gray(rng, 8, 32))
    for bad in ("0", "-3", "4", "x"):
        with pytest.raises(SystemExit) as exit_info:
            main(["evaluate", "--real", str(real), "--fake", str(real), "--image-size", bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--image-size" in err and ("at least 8 px" in err or "not a whole number" in err)


def test_generated_and_real_sizes_are_named_when_they_differ(tmp_path, capsys):
    rng = np.random.default_rng(3)
    real = _folder(tmp_path / "real128", _gray(rng, 30, 128))
    fake = _folder(tmp_path / "fake32", _gray(rng, 30, 32))
    png = str(tmp_path / "m.png")
    base = ["evaluate", "--real", str(real), "--fake", str(fake), "--no-progress"]
    # Default: the generated images' own size; the reals are reduced to it, and it is said.
    assert main([*base, "--memorisation-png", png]) == 0
    out, err = capsys.readouterr()
    assert "at 32 px" in out
    assert (
        "note: generated images are 32×32 px, real images 128×128 px; compared at 32 px "
        "(--fit crop): generated images kept as they are, real images reduced" in out
    )
    assert "warning" not in err
    # Asked for 64 px: the 32 px fakes are enlarged, and the warning says so and how to avoid it.
    assert main([*base, "--memorisation-png", png, "--image-size", "64"]) == 0
    out, err = capsys.readouterr()
    assert "at 64 px" in out
    assert (
        "warning: generated images are 32×32 px, real images 128×128 px; compared at 64 px "
        "(--fit crop): generated images enlarged, real images reduced" in err
    )
    assert "enlarging blurs images" in err and "pass --image-size 32" in err
    # Real images smaller than the generated ones are enlarged: a warning too.
    assert main(["evaluate", "--real", str(fake), "--fake", str(real), "--no-progress",
                 "--memorisation-png", png]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert "at 128 px" in out
    assert "generated images kept as they are, real images enlarged" in err
    assert "compare against real images at least as large" in err
