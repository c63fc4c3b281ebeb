"""`cxrgan evaluate` per class: both sides with class subfolders (or a conditional run) give
every metric per class plus overall, and the overall numbers are those of the pooled folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny import TINY_ARGS

from cxrgan.cli.main import main
from cxrgan.evaluation.classes import split_in_proportion
from cxrgan.metrics.evaluate import CLASS_TABLE_KEYS

CLASSES = ("NORMAL", "PNEUMONIA")
TRAIN = [*TINY_ARGS, "--no-cache", "--epochs", "1", "--steps-per-epoch", "2"]


def _smooth(rng: np.random.Generator, n: int, level: int, size: int = 32) -> np.ndarray:
    """Smooth random images around a gray level (not noise), so classes differ."""
    base = np.clip(rng.normal(level, 40, (n, 8, 8)), 0, 255).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(b).resize((size, size))) for b in base])


def _classes(root: Path, counts: dict[str, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i, img in enumerate(_smooth(rng, n, 70 if name == "NORMAL" else 170)):
            Image.fromarray(img).save(root / name / f"{i:04d}.png")
    return root


def _pooled(classed: Path, flat: Path) -> Path:
    """The same images in one flat folder, in the same order (NORMAL_0000.png, ...)."""
    flat.mkdir()
    for path in sorted(classed.glob("*/*.png")):
        shutil.copy(path, flat / f"{path.parent.name}_{path.name}")
    return flat


def _evaluate(real: Path, fake: Path, out: Path, *extra: str) -> dict:
    png = str(out.with_suffix(".png"))
    argv = ["evaluate", "--real", str(real), "--fake", str(fake), "--json", str(out),
            "--no-progress", "--memorisation-png", png, *extra]  # fmt: skip
    assert main(argv) == 0
    return json.loads(out.read_text())


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] is None) == (b[key] is None), key
        if a[key] is not None:
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), key


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    real = _classes(tmp_path / "real", {"NORMAL": 20, "PNEUMONIA": 14}, seed=0)
    fake = _classes(tmp_path / "fake", {"NORMAL": 16, "PNEUMONIA": 12}, seed=1)
    return real, fake


def test_class_folders_give_every_metric_per_class_and_overall_of_the_pooled_sets(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, fake = folders
    result = _evaluate(real, fake, tmp_path / "classes.json", "--n", "12")
    text = capsys.readouterr().out
    assert result["classes"] == list(CLASSES)
    assert set(result["per_class"]) == set(CLASSES)
    for name, n_real, n_fake in (("NORMAL", 12, 12), ("PNEUMONIA", 12, 12)):
        m = result["per_class"][name]["metrics"]
        assert m.keys() == result["metrics"].keys()  # the same keys as the overall metrics
        assert (m["n_real"], m["n_fake"]) == (n_real, n_fake)
        assert m["fwd"] > 0 and m["precision"] is not None and m["memorised_share"] is not None
        assert result["per_class"][name]["skipped"] == {}
    # The table: one row per metric, a column for overall and for each class.
    header = next(line for line in text.splitlines() if line.startswith("metric") and "overall"
                  in line)  # fmt: skip
    assert header.split()[:4] == ["metric", "overall", "NORMAL", "PNEUMONIA"]
    for key in CLASS_TABLE_KEYS:
        assert any(line.startswith(f"{key} ") for line in text.splitlines()), key
    assert "note: class NORMAL: only 12 images on one side" in text

    # Overall: exactly what evaluate gives on the pooled folders (the format it always had).
    flat = _evaluate(_pooled(real, tmp_path / "real_flat"), _pooled(fake, tmp_path / "fake_flat"),
                     tmp_path / "flat.json", "--n", "12")  # fmt: skip
    _same(result["metrics"], flat["metrics"])
    assert flat["classes"] == [] and flat["per_class"] == {}
    assert result["skipped"] == flat["skipped"] and result["about"] == flat["about"]
    # Each class: exactly what evaluate gives on that class's two folders.
    for name in CLASSES:
        alone = _evaluate(real / name, fake / name, tmp_path / f"{name}.json", "--n", "12")
        _same(result["per_class"][name]["metrics"], alone["metrics"])
    assert sum(result["overall_classes"]["real"].values()) == 12


def test_classes_with_too_few_images_are_reported_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = _classes(tmp_path / "real", {"NORMAL": 12, "PNEUMONIA": 12}, seed=0)
    fake = _classes(tmp_path / "fake", {"NORMAL": 12, "PNEUMONIA": 3}, seed=1)
    result = _evaluate(real, fake, tmp_path / "r.json")
    text = capsys.readouterr().out
    few = result["per_class"]["PNEUMONIA"]
    assert set(few["skipped"]) == {"prdc"} and few["metrics"]["precision"] is None
    assert few["metrics"]["fwd"] > 0 and few["metrics"]["n_fake"] == 3
    assert "class PNEUMONIA: skipped precision, recall, density, coverage" in text
    assert "got 3 generated" in text
    assert result["per_class"]["NORMAL"]["skipped"] == {}

    one = _classes(tmp_path / "one", {"NORMAL": 12, "PNEUMONIA": 1}, seed=2)
    result = _evaluate(real, one, tmp_path / "one.json")
    alone = result["per_class"]["PNEUMONIA"]
    assert set(alone["skipped"]) == {"fwd", "kid", "prdc", "texture"}
    assert alone["metrics"]["fwd"] is None and alone["metrics"]["memorised_share"] is not None
    assert result["metrics"]["fwd"] is not None  # overall: 13 generated images


def test_a_conditional_run_draws_each_class_of_the_real_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _classes(tmp_path / "data", {"NORMAL": 16, "PNEUMONIA": 8}, seed=0)
    run = tmp_path / "run"
    assert main(["train", "--conditional", "--data", str(data), *TRAIN, "--out", str(run)]) == 0
    result = _evaluate(data, run, tmp_path / "run.json", "--n", "12")
    text = capsys.readouterr().out
    assert result["classes"] == list(CLASSES) and result["checkpoint"] == "last"
    # As many images of each class as --real has of it, at most --n, drawn as generate does.
    normal, pneumonia = (result["per_class"][c] for c in CLASSES)
    assert normal["generated"] == {"n": 12, "seed": 0, "draw_seed": 0}
    assert pneumonia["generated"] == {"n": 8, "seed": 0, "draw_seed": 1}
    assert (normal["metrics"]["n_real"], normal["metrics"]["n_fake"]) == (12, 12)
    assert (pneumonia["metrics"]["n_real"], pneumonia["metrics"]["n_fake"]) == (8, 8)
    # Overall: the generated classes in the real side's proportions (16:8 of 12).
    assert result["overall_classes"]["generated"] == split_in_proportion(
        12, {"NORMAL": 16, "PNEUMONIA": 8}
    ) == {"NORMAL": 8, "PNEUMONIA": 4}  # fmt: skip
    assert result["metrics"]["n_fake"] == 12
    assert "per class at 32 px" in text

    # The per-class numbers are those of the images `generate --label NAME --n N` writes.
    for name, n in (("NORMAL", 12), ("PNEUMONIA", 8)):
        out = tmp_path / f"gen_{name}"
        assert main(["generate", str(run), "--label", name, "--n", str(n), "--out", str(out),
                     "--no-progress"]) == 0  # fmt: skip
        alone = _evaluate(data / name, out / name, tmp_path / f"{name}.json", "--n", "12")
        _same(result["per_class"][name]["metrics"], alone["metrics"])


def test_unmatched_or_missing_classes_give_overall_only_with_a_note(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, fake = folders
    flat = _pooled(fake, tmp_path / "flat")
    result = _evaluate(real, flat, tmp_path / "flat.json")
    assert result["per_class"] == {} and result["metrics"]["fwd"] > 0
    assert f"per-class metrics need class subfolders on both sides; {flat} has no class" in (
        capsys.readouterr().out
    )

    other = _classes(tmp_path / "other", {"COVID": 10, "TB": 10}, seed=3)
    result = _evaluate(real, other, tmp_path / "other.json")
    assert result["per_class"] == {}
    assert "no class in common (real: NORMAL, PNEUMONIA; generated: COVID, TB)" in (
        capsys.readouterr().out
    )


def test_images_beside_the_class_folders_are_left_out(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, fake = folders
    clean = _evaluate(real, fake, tmp_path / "clean.json")
    # What `generate --grid` leaves beside the class folders: a big grid, no class.
    Image.fromarray(np.zeros((70, 170), np.uint8)).save(fake / "grid.png")
    with_grid = _evaluate(real, fake, tmp_path / "grid.json")
    assert "1 image(s) directly in" in capsys.readouterr().out
    assert with_grid["image_size"] == 32  # the grid's size did not change the comparison size
    _same(with_grid["metrics"], clean["metrics"])
    for name in CLASSES:
        _same(with_grid["per_class"][name]["metrics"], clean["per_class"][name]["metrics"])
    # Against real images without classes too: the grid is no generated image.
    flat_real = _pooled(real, tmp_path / "flat_real")
    with_grid = _evaluate(flat_real, fake, tmp_path / "flat_grid.json")
    assert "1 image(s) directly in" in capsys.readouterr().out
    (fake / "grid.png").unlink()
    _same(with_grid["metrics"], _evaluate(flat_real, fake, tmp_path / "flat.json")["metrics"])
