"""`cxrgan generate` by class: OUT/<class>/NNNNN.png (or .dcm) as a labelled data set, the
manifest that lets every image be drawn again, and the errors for requests that cannot work."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from tiny import TINY_ARGS

import cxrgan
from cxrgan import __version__
from cxrgan.cli.main import main
from cxrgan.data.dicom_write import SECONDARY_CAPTURE
from cxrgan.data.folder import load_folder
from cxrgan.inference.generate import load_model, sample_images
from cxrgan.inference.generated_set import MANIFEST_COLUMNS, class_seed, file_sha256, redraw
from cxrgan.models import ModelSpec

CLASSES = ("NORMAL", "PNEUMONIA")
TRAIN = [*TINY_ARGS, "--no-cache", "--epochs", "1", "--steps-per-epoch", "2"]


def _class_folder(root: Path, per_class: int = 16, size: int = 32) -> Path:
    """NORMAL/ dark and PNEUMONIA/ light noisy images: two classes a tiny run can train on."""
    rng = np.random.default_rng(0)
    for name, level in zip(CLASSES, (60, 190), strict=True):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(level, 25, (size, size)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(root / name / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conditional")
    data = _class_folder(root / "data")
    run = root / "run"
    assert main(["train", "--conditional", "--data", str(data), *TRAIN, "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("plain") / "run"
    assert main(["train", "--demo-images", "32", *TRAIN, "--out", str(run)]) == 0
    return run


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == MANIFEST_COLUMNS
        return list(reader)


def _pixels(path: Path) -> np.ndarray:
    if path.suffix == ".dcm":
        return pydicom.dcmread(path).pixel_array
    return np.asarray(Image.open(path))


def _generate(*args: str) -> int:
    return main(["generate", *args, "--no-progress"])


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one-line error of a refused command (ours: exit 2; argparse's: SystemExit 2)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_per_class_writes_an_image_folder_data_set_with_its_manifest(
    conditional_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    assert _generate(str(conditional_run), "--per-class", "5", "--out", str(out), "--seed", "3",
                     "--grid") == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "wrote 10 PNGs of 32×32" in text and "NORMAL 5, PNEUMONIA 5" in text
    for name in CLASSES:  # OUT/<class>/00000.png ... numbered per class
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == [f"{i:05d}.png" for i in range(5)]
    assert {p.name for p in out.iterdir()} == {*CLASSES, "manifest.csv", "grid.png"}
    grid = Image.open(out / "grid.png")
    assert grid.mode == "L" and grid.height > 2 * 32  # one band per class
    # cxrgan's own loader reads OUT back as a labelled data set (grid.png sits beside the
    # class folders: ImageFolder ignores it, and so do cxrgan's class counts once removed).
    (out / "grid.png").unlink()
    data = load_folder(out, 32, progress=False, workers=1)
    assert data.classes == list(CLASSES) and data.class_counts == {"NORMAL": 5, "PNEUMONIA": 5}

    rows = _manifest(out)
    assert sorted(r["file"] for r in rows) == sorted(
        f"{name}/{i:05d}.png" for name in CLASSES for i in range(5)
    )
    model = load_model(conditional_run, "last")
    checkpoint = conditional_run / "checkpoints" / "last.safetensors"
    for row in rows:
        name, k = row["file"].split("/")[0], CLASSES.index(row["file"].split("/")[0])
        assert row["class"] == name and row["class_index"] == str(k)
        assert row["seed"] == "3" and row["draw_seed"] == str(class_seed(3, k)) == str(3000 + k)
        assert row["draw_n"] == "5" and row["index"] == str(int(Path(row["file"]).stem))
        assert row["format"] == "png" and row["image_size"] == "32"
        assert row["checkpoint"] == "last"
        assert Path(row["checkpoint_path"]) == checkpoint.resolve()
        assert row["checkpoint_sha256"] == file_sha256(checkpoint)
        assert row["generator"] == ("ema" if model.ema else "raw")
        assert ModelSpec.from_dict(json.loads(row["spec"])) == model.spec  # the spec, whole
        assert json.loads(row["spec"])["classes"] == list(CLASSES)
        assert row["model"] == model.spec.describe()
        assert row["device"] == "cpu" and row["cxrgan_version"] == __version__
        assert row["created_at"].endswith("+00:00") and row["sop_instance_uid"] == ""
        image = _pixels(out / row["file"])
        assert image.shape == (32, 32) and image.dtype == np.uint8


def test_images_are_reproducible_from_seed_class_and_n(
    conditional_run: Path, tmp_path: Path
) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert _generate(str(conditional_run), "--per-class", "4", "--out", str(a)) == 0
    assert _generate(str(conditional_run), "--per-class", "4", "--out", str(b)) == 0
    assert _generate(str(conditional_run), "--per-class", "4", "--out", str(c), "--seed",
                     "1") == 0  # fmt: skip
    for name in CLASSES:
        for i in range(4):
            rel = f"{name}/{i:05d}.png"
            np.testing.assert_array_equal(_pixels(a / rel), _pixels(b / rel))  # same seed
    for i in range(4):  # another seed, other images
        rel = f"NORMAL/{i:05d}.png"
        assert not np.array_equal(_pixels(a / rel), _pixels(c / rel))

    # --label NAME --n N draws exactly what --per-class N wrote for NAME.
    one = tmp_path / "one"
    assert _generate(str(conditional_run), "--label", "PNEUMONIA", "--n", "4", "--out",
                     str(one)) == 0  # fmt: skip
    assert sorted(p.name for p in one.iterdir()) == ["PNEUMONIA", "manifest.csv"]
    for i in range(4):
        rel = f"PNEUMONIA/{i:05d}.png"
        np.testing.assert_array_equal(_pixels(one / rel), _pixels(a / rel))

    # Any row is drawn again from its manifest entry alone: by `redraw`, and by hand.
    rows = _manifest(a)
    row = next(r for r in rows if r["file"] == "PNEUMONIA/00002.png")
    np.testing.assert_array_equal(redraw(row), _pixels(a / row["file"]))
    model = load_model(conditional_run, "last")
    labels = torch.full((int(row["draw_n"]),), int(row["class_index"]))
    by_hand = sample_images(model.g, int(row["draw_n"]), int(row["draw_seed"]), "cpu", labels)
    np.testing.assert_array_equal(by_hand[int(row["index"])], _pixels(a / row["file"]))
    # ... and through the Python API, as docs/generate.md shows.
    g = cxrgan.load_generator(conditional_run, checkpoint=row["checkpoint"])
    api = g.sample(int(row["draw_n"]), label=row["class"], seed=int(row["draw_seed"]))
    np.testing.assert_array_equal(api[int(row["index"])], _pixels(a / row["file"]))


def test_classes_added_one_at_a_time_share_one_manifest(
    conditional_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    assert _generate(str(conditional_run), "--label", "NORMAL", "--n", "3", "--out", str(out)) == 0
    assert _generate(str(conditional_run), "--label", "PNEUMONIA", "--n", "2", "--out",
                     str(out), "--seed", "9") == 0  # fmt: skip
    assert "and 3 rows of earlier calls" in capsys.readouterr().out
    rows = _manifest(out)
    assert [(r["file"], r["seed"]) for r in rows] == [
        ("NORMAL/00000.png", "0"), ("NORMAL/00001.png", "0"), ("NORMAL/00002.png", "0"),
        ("PNEUMONIA/00000.png", "9"), ("PNEUMONIA/00001.png", "9"),
    ]  # fmt: skip
    for row in rows:
        np.testing.assert_array_equal(redraw(row), _pixels(out / row["file"]))
    # Writing a class again replaces its rows; rows of files that are gone are dropped.
    (out / "PNEUMONIA" / "00001.png").unlink()
    assert _generate(str(conditional_run), "--label", "NORMAL", "--n", "1", "--out",
                     str(out), "--seed", "5") == 0  # fmt: skip
    files = [(r["file"], r["seed"]) for r in _manifest(out)]
    assert sorted(files) == [("NORMAL/00000.png", "5"), ("NORMAL/00001.png", "0"),
                             ("NORMAL/00002.png", "0"), ("PNEUMONIA/00000.png", "9")]  # fmt: skip


def test_dicom_files_carry_the_tags_and_the_same_pixels(
    conditional_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png, dcm = tmp_path / "png", tmp_path / "dcm"
    assert _generate(str(conditional_run), "--per-class", "3", "--out", str(png)) == 0
    assert _generate(str(conditional_run), "--per-class", "3", "--out", str(dcm), "--format",
                     "dicom") == 0  # fmt: skip
    assert "wrote 6 DICOM files of 32×32" in capsys.readouterr().out
    rows = _manifest(dcm)
    assert sorted(r["file"] for r in rows) == sorted(
        f"{name}/{i:05d}.dcm" for name in CLASSES for i in range(3)
    )
    files = sorted(dcm.rglob("*.dcm"))
    assert len(files) == 6
    headers = {}
    for path in files:  # every written file, read back
        ds = pydicom.dcmread(path)
        rel = path.relative_to(dcm).as_posix()
        name = path.parent.name
        headers[rel] = ds
        assert ds.file_meta.MediaStorageSOPClassUID == SECONDARY_CAPTURE == ds.SOPClassUID
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
        assert ds.Modality == "OT" and ds.ConversionType == "SYN"
        assert ds.SeriesDescription == f"SYNTHETIC cxrgan {name}"
        assert ds.PatientName == "SYNTHETIC" and ds.PatientID == "SYNTHETIC"
        assert ds.BurnedInAnnotation == "NO" and name in ds.ImageComments
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert (ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (1, 8, 8, 7)
        assert (ds.PixelRepresentation, ds.Rows, ds.Columns) == (0, 32, 32)
        assert ds.InstanceNumber == int(path.stem) + 1
        assert f"seed {class_seed(0, CLASSES.index(name))}" in ds.DerivationDescription
        # The very pixels the PNG run wrote: same seed, class and n.
        np.testing.assert_array_equal(ds.pixel_array, _pixels(png / rel.replace(".dcm", ".png")))
    study = {str(ds.StudyInstanceUID) for ds in headers.values()}
    series = {name: {str(ds.SeriesInstanceUID) for rel, ds in headers.items()
                     if rel.startswith(name)} for name in CLASSES}  # fmt: skip
    assert len(study) == 1 and all(len(s) == 1 for s in series.values())
    assert series["NORMAL"] != series["PNEUMONIA"]
    sops = [str(ds.SOPInstanceUID) for ds in headers.values()]
    assert len(set(sops)) == 6
    assert {r["sop_instance_uid"] for r in rows} == set(sops)
    assert all(r["format"] == "dicom" for r in rows)
    # cxrgan reads the DICOM folder back: same classes, same pixels as the PNGs.
    from_dcm = load_folder(dcm, 32, progress=False, workers=1)
    from_png = load_folder(png, 32, progress=False, workers=1)
    assert from_dcm.classes == list(CLASSES)
    assert [path for path, _ in from_dcm.skipped] == ["manifest.csv"]  # not an image
    np.testing.assert_array_equal(from_dcm.images, from_png.images)


def test_unconditional_runs_write_flat_files_as_before(
    plain_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    assert _generate(str(plain_run), "--n", "3", "--out", str(out), "--grid") == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "grid.png", "manifest.csv", "sample_00000.png", "sample_00001.png", "sample_00002.png",
    ]  # fmt: skip
    rows = _manifest(out)
    assert [r["file"] for r in rows] == [f"sample_{i:05d}.png" for i in range(3)]
    assert {(r["class"], r["class_index"], r["seed"], r["draw_seed"]) for r in rows} == {
        ("", "", "0", "0")
    }
    model = load_model(plain_run, "last")
    today = sample_images(model.g, 3, 0, "cpu")  # what `generate --n 3` has always written
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(_pixels(out / row["file"]), today[i])
        np.testing.assert_array_equal(redraw(row), today[i])
    dcm = tmp_path / "dcm"
    assert _generate(str(plain_run), "--n", "2", "--out", str(dcm), "--format", "dicom") == 0
    ds = pydicom.dcmread(dcm / "sample_00001.dcm")
    assert ds.SeriesDescription == "SYNTHETIC cxrgan"
    np.testing.assert_array_equal(ds.pixel_array, sample_images(model.g, 2, 0, "cpu")[1])
    capsys.readouterr()


def test_requests_that_cannot_work_are_one_line_errors(
    conditional_run: Path, plain_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "never")
    err = _error(capsys, ["generate", str(plain_run), "--per-class", "4", "--out", out])
    assert "is unconditional" in err and "--conditional" in err
    err = _error(capsys, ["generate", str(plain_run), "--label", "NORMAL", "--out", out])
    assert "is unconditional" in err
    err = _error(capsys, ["generate", str(conditional_run), "--label", "COVID", "--out", out])
    assert "no class 'COVID'" in err and "NORMAL, PNEUMONIA" in err
    err = _error(capsys, ["generate", str(conditional_run), "--per-class", "2", "--label",
                          "NORMAL", "--out", out])  # fmt: skip
    assert "--label" in err and "--per-class" in err
    err = _error(capsys, ["generate", str(conditional_run), "--per-class", "2", "--n", "3",
                          "--out", out])  # fmt: skip
    assert "leave out --n" in err
    err = _error(capsys, ["generate", str(conditional_run), "--n", "3", "--out", out])
    assert "is conditional" in err and "--per-class N" in err and "--label NAME" in err
    err = _error(capsys, ["generate", str(conditional_run), "--per-class", "0", "--out", out])
    assert "--per-class" in err and "at least 1" in err
    err = _error(capsys, ["generate", str(conditional_run), "--per-class", "2", "--format",
                          "jpeg", "--out", out])  # fmt: skip
    assert "--format" in err
    assert not Path(out).exists()  # refused before anything was written


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--per-class", "--label", "--n", "--format", "--seed", "--grid", "--raw",
                   "--checkpoint", "--device", "--out", "--no-progress"):  # fmt: skip
        assert option in text
    assert "manifest.csv" in text and "seed × 1000 + k" in text and "SYNTHETIC" in text
