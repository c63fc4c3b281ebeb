"""`cxrgan utility` end to end: on a synthetic folder and on a (stand-in) conditional run, what
utility.json holds, the chart, the run's report, and one-line errors for unusable inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from utility_helpers import CLASSES, TEST, TRAIN, Shades, class_folder

import cxrgan.inference.generate as generate
from cxrgan.cli.main import main
from cxrgan.models.spec import ModelSpec
from cxrgan.reporting.html_report import write_report
from cxrgan.utility.inputs import draw_from_run
from cxrgan.utility.stats import METRICS

FAST = ["--image-size", "16", "--seeds", "2", "--epochs", "2", "--bootstrap", "100",
        "--no-progress", "--no-cache"]  # fmt: skip


def argv(folders: dict[str, Path], synthetic: Path | None = None, *extra: str) -> list[str]:
    return ["utility", "--train", str(folders["train"]), "--test", str(folders["test"]),
            "--synthetic", str(synthetic or folders["synthetic"]), *FAST, *extra]  # fmt: skip


def test_folder_end_to_end(folders: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(argv(folders, None, "--out", str(out))) == 0
    printed = capsys.readouterr().out
    u = json.loads((out / "utility.json").read_text())

    s = u["settings"]
    assert (s["image_size"], s["seeds"], s["epochs"], s["bootstrap"]) == (16, [0, 1], 2, 100)
    assert s["synthetic_kind"] == "folder" and s["checkpoint"] is None
    assert u["classes"] == list(CLASSES)
    assert u["counts"] == {"train": TRAIN, "test": TEST, "n_train": 36, "n_test": 16}
    assert u["classifier"]["parameters"] == 97_650 and u["classifier"]["epochs"] == 2
    assert u["synthetic_source"]["drawn"] == {"NORMAL": 12, "PNEUMONIA": 24}

    sets = u["sets"]
    assert list(sets) == ["real", "synthetic", "augmented"]
    assert sets["real"]["counts"] == {"real": TRAIN, "synthetic": {"NORMAL": 0, "PNEUMONIA": 0}}
    assert sets["synthetic"]["counts"] == {
        "real": {"NORMAL": 0, "PNEUMONIA": 0},
        "synthetic": TRAIN,
    }
    assert sets["augmented"]["counts"] == {
        "real": TRAIN,
        "synthetic": {"NORMAL": 12, "PNEUMONIA": 0},
    }
    assert [sets[k]["n_images"] for k in sets] == [36, 36, 48]
    for v in sets.values():
        assert [r["seed"] for r in v["per_seed"]] == [0, 1]
        for m in METRICS:
            values = [r[m] for r in v["per_seed"]]
            assert all(0 <= x <= 1 for x in values)
            assert v["mean"][m] == pytest.approx(np.mean(values))
            assert v["std"][m] == pytest.approx(np.std(values, ddof=1))
            lo, hi = v["ci95"][m]
            assert 0 <= lo <= hi <= 1
    aucs = [r["auc"] for v in sets.values() for r in v["per_seed"]]
    assert len(set(aucs)) > 3  # the classifiers differ: the checks below are not 1 / 1 and 0

    mean = {k: v["mean"] for k, v in sets.items()}
    ratio = u["ratios"]["tstr_trtr_auc"]
    assert ratio["value"] == pytest.approx(mean["synthetic"]["auc"] / mean["real"]["auc"])
    assert ratio["ci95"][0] <= ratio["ci95"][1]
    bacc = u["ratios"]["tstr_trtr_balanced_accuracy"]["value"]
    assert bacc == pytest.approx(
        mean["synthetic"]["balanced_accuracy"] / mean["real"]["balanced_accuracy"]
    )
    for m in METRICS:
        assert u["gains"][m]["value"] == pytest.approx(mean["augmented"][m] - mean["real"][m])
    lower = u["gains"]["auc"]["ci95"][0]
    assert u["targets"]["augmentation_auc_lower_bound"] == {
        "rule": "lower 95 % bound of the AUC gain of real+synthetic over real ≥ -0.01",
        "value": lower,
        "met": lower >= -0.01,
    }
    assert u["targets"]["tstr_balanced_accuracy_ratio"]["met"] == (bacc >= 0.85)
    assert u["chance"] == {"accuracy": 0.5, "balanced_accuracy": 0.5, "auc": 0.5}

    with Image.open(out / "utility.png") as png:
        assert png.size == (900, 500)
    table = printed[printed.index("set  ") :].splitlines()
    assert table[0].split() == ["set", "accuracy", "balanced", "accuracy", "ROC", "AUC"]
    assert [line[:14] for line in table[1:4]] == ["TRTR real     ", "TSTR synthetic",
                                                 "real+synthetic"]  # fmt: skip
    assert "TSTR/TRTR: AUC" in printed and "gain of real+synthetic over real, AUC" in printed
    assert f"wrote {out / 'utility.json'} and {out / 'utility.png'}" in printed


def test_same_command_same_numbers(folders: dict[str, Path], tmp_path: Path) -> None:
    runs = []
    for seed, name in ((0, "a"), (0, "b"), (5, "c")):
        out = tmp_path / name
        assert (
            main(argv(folders, None, "--out", str(out), "--seed", str(seed), "--seeds", "1")) == 0
        )
        runs.append(json.loads((out / "utility.json").read_text()))
    a, b, c = (r["sets"]["synthetic"]["per_seed"] for r in runs)
    assert a == [{**b[0], "seconds": a[0]["seconds"]}]  # everything but the time
    assert c[0]["seed"] == 5 and c[0]["final_loss"] != a[0]["final_loss"]
    assert runs[2]["synthetic_source"]["seed"] == 5


# --- a conditional run ---------------------------------------------------------------------


def stand_in_run(root: Path, monkeypatch: pytest.MonkeyPatch, classes=CLASSES, c_dim=2) -> Path:
    """RUN/config.json, and load_model answering with a Shades generator of these classes."""
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"config": {"fit": "pad"}}))
    spec = ModelSpec("shades", z_dim=8, resolution=16, c_dim=c_dim, classes=classes)

    def load_model(
        run_dir: Path, checkpoint: str = "last", device: str = "cpu", raw: bool = False
    ) -> generate.LoadedGenerator:
        path = Path(run_dir) / "checkpoints" / f"{checkpoint}.safetensors"
        return generate.LoadedGenerator(Shades(), spec, path, ema=True)

    monkeypatch.setattr(generate, "load_model", load_model)
    return run


def test_a_run_draws_each_class_from_its_generator(tmp_path, monkeypatch) -> None:
    run = stand_in_run(tmp_path, monkeypatch)
    loaded = generate.load_model(run)
    pool = draw_from_run(loaded, run, {"NORMAL": 30, "PNEUMONIA": 5}, seed=0, device="cpu")
    assert {c: len(v) for c, v in pool.by_class.items()} == {"NORMAL": 30, "PNEUMONIA": 5}
    assert pool.by_class["NORMAL"].mean() < 100 < 160 < pool.by_class["PNEUMONIA"].mean()
    again = draw_from_run(loaded, run, {"NORMAL": 30, "PNEUMONIA": 5}, seed=0, device="cpu")
    assert np.array_equal(pool.by_class["NORMAL"], again.by_class["NORMAL"])
    assert pool.source["generator"] == "G_ema" and pool.source["drawn"]["PNEUMONIA"] == 5


def test_run_end_to_end_writes_into_the_run_and_its_report(
    folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run = stand_in_run(tmp_path, monkeypatch)
    assert main(argv(folders, run)) == 0
    assert f"report: {run / 'report.html'}" in capsys.readouterr().out
    u = json.loads((run / "utility.json").read_text())
    assert u["settings"]["synthetic_kind"] == "run" and u["settings"]["checkpoint"] == "last"
    assert u["settings"]["fit"] == "pad"  # the run's own
    assert u["synthetic_source"]["drawn"] == {"NORMAL": 12, "PNEUMONIA": 24}
    assert (run / "utility.png").stat().st_size > 10_000
    page = (run / "report.html").read_text()
    assert 'href="#utility"' in page and '<section class="card" id="utility">' in page
    real = u["sets"]["real"]
    cell = f"{real['mean']['auc']:.3f} ± {real['std']['auc']:.3f}"
    assert "TRTR: real only" in page and cell in page
    assert f"TSTR/TRTR AUC ratio {u['ratios']['tstr_trtr_auc']['value']:.3f}" in page
    assert 'alt="utility.png"' in page


def test_report_leaves_out_a_broken_utility_json(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "utility.json").write_text('{"sets": {"real": {"title": "x"}}}')
    assert 'id="utility"' not in write_report(run).read_text()


# --- errors --------------------------------------------------------------------------------


def one_line_error(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_unconditional_run_is_refused(folders, tmp_path, monkeypatch, capsys) -> None:
    run = stand_in_run(tmp_path, monkeypatch, classes=(), c_dim=0)
    err = one_line_error(argv(folders, run), capsys)
    assert "is an unconditional run" in err and "cxrgan train --conditional" in err


def test_run_of_other_classes_is_refused(folders, tmp_path, monkeypatch, capsys) -> None:
    run = stand_in_run(tmp_path, monkeypatch, classes=("NORMAL", "COVID"))
    err = one_line_error(argv(folders, run), capsys)
    assert (
        f"--synthetic {run} has no images of PNEUMONIA and class(es) that --train lacks: COVID"
        in err
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: class_folder(t / "s", {"NORMAL": 14, "OTHER": 30}),
         "--synthetic {tmp}/s has no images of PNEUMONIA and class(es) that --train lacks: OTHER"),
        (lambda t: class_folder(t / "s", {"NORMAL": 3, "PNEUMONIA": 30}),
         "--synthetic {tmp}/s has 3 NORMAL image(s) but the score needs 12"),
        (lambda t: class_folder(t / "s", {"NORMAL": 20}),
         "--synthetic {tmp}/s holds one class (NORMAL)"),
    ],
)  # fmt: skip
def test_unusable_synthetic_folders(folders, tmp_path, capsys, make, message) -> None:
    synthetic = make(tmp_path)
    err = one_line_error(argv(folders, synthetic), capsys)
    assert message.format(tmp=tmp_path) in err


def test_images_outside_class_folders_are_refused(folders, tmp_path, capsys) -> None:
    loose = class_folder(tmp_path / "loose", {"NORMAL": 14, "PNEUMONIA": 26})
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(loose / "stray.png")
    err = one_line_error(argv(folders, loose), capsys)
    assert f"--synthetic {loose}: 1 image(s) sit outside a class subfolder (e.g. stray.png)" in err


def test_test_folder_of_other_classes_is_refused(folders, tmp_path, capsys) -> None:
    test = class_folder(tmp_path / "t", {"NORMAL": 4, "PNEUMONIA": 4, "COVID": 4})
    args = argv(folders)
    args[args.index("--test") + 1] = str(test)
    err = one_line_error(args, capsys)
    assert f"--test {test} has class(es) that --train lacks: COVID" in err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--test", "{train}", "--test is the --train folder"),
        ("--train", "{tmp}/none", "--train {tmp}/none does not exist"),
        ("--synthetic", "{tmp}/none", "--synthetic {tmp}/none is neither a run directory"),
    ],
)
def test_unusable_paths(folders, tmp_path, capsys, flag: str, value: str, message: str) -> None:
    args = argv(folders)
    fill = {"tmp": tmp_path, "train": folders["train"]}
    args[args.index(flag) + 1] = value.format(**fill)
    assert message.format(**fill) in one_line_error(args, capsys)


def test_too_small_an_image_size_is_a_usage_error(folders, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv(folders), "--image-size", "8"])
    assert exit_.value.code == 2
    assert "--image-size: must be at least 16, got 8" in capsys.readouterr().err


def test_help_explains_every_option(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["utility", "--help"])
    text = capsys.readouterr().out
    for option in ("--train", "--test", "--synthetic", "--image-size", "--fit", "--seeds",
                   "--seed", "--epochs", "--bootstrap", "--out", "--checkpoint", "--device",
                   "--workers", "--cache-dir", "--no-cache", "--no-progress", "--labels",
                   "--labels-format", "--classes", "--test-labels"):  # fmt: skip
        assert f"  {option}" in text, option
    words = " ".join(text.split())  # argparse wraps lines where the terminal ends
    assert "TRTR" in words and "95 % intervals (default 1000)" in words
