"""`cxrgan privacy --labels`: the films' classes and patients from NIH-style label files
(tests/label_sets.py), one per side over one folder, for a run trained from the first; a
patient on both sides is refused, though no file name carries a patient id."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from label_sets import nih, split_by_patient
from tiny import TINY_CONFIG

from cxrgan.cli.main import main
from cxrgan.config import TrainConfig
from cxrgan.training.session import start_run

CLASSES = "No Finding,Pneumonia"
FAST = ["--n-generated", "64", "--bootstrap", "100", "--no-progress", "--no-cache",
        "--classes", CLASSES]  # fmt: skip
# 200 images, two a patient: patients 1-50 (images 0-99) trained on, 51-100 held out. Findings
# cycle No Finding, Pneumonia, Cardiomegaly, Pneumonia|Cardiomegaly, Effusion: of every five
# images one is No Finding and two are Pneumonia; every patient keeps at least one image.
PER_SIDE = {"No Finding": 20, "Pneumonia": 40}  # the audit's minimum is 20 a class


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    png128 = _png128()
    tmp = tmp_path_factory.mktemp("privacy_labels")
    root = tmp / "nih"
    entry = nih(png128, root, n=200)
    train, heldout = split_by_patient(entry, tmp / "sides", "Patient ID",
                                      {str(p) for p in range(51, 101)})  # fmt: skip
    run = tmp / "run"
    start_run(TrainConfig(data=str(root), labels=str(train), classes=CLASSES, out=str(run),
                          epochs=1, steps_per_epoch=1, cache=False, conditional=True,
                          **TINY_CONFIG))  # fmt: skip
    return {"root": root, "entry": entry, "train": train, "heldout": heldout, "run": run}


def _png128() -> Path:
    """The shared PNGs, as tests/conftest.py finds them (its fixture is per test; this run is
    trained once for the module)."""
    repo = Path(__file__).resolve().parents[2]
    path = Path(os.environ.get("CXRGAN_SHARED_DATA", repo.parent / "shared" / "data"))
    path = path / "cxr-kermany" / "png128"
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared data, but {path} is missing")
        pytest.skip(f"shared data not found at {path} (set CXRGAN_SHARED_DATA)")
    return path


def argv(c: dict[str, Path], labels: Path, heldout_labels: Path, *extra: str) -> list[str]:
    return ["privacy", str(c["run"]), "--train", str(c["root"]), "--heldout", str(c["root"]),
            "--labels", str(labels), "--heldout-labels", str(heldout_labels), *FAST,
            *extra]  # fmt: skip


def test_patients_and_classes_come_from_the_label_files(collection, tmp_path, capsys) -> None:
    out = tmp_path / "privacy.json"
    assert main(argv(collection, collection["train"], collection["heldout"], "--json",
                     str(out))) == 0  # fmt: skip
    printed = capsys.readouterr().out
    p = json.loads(out.read_text())

    assert p["classes"] == ["No Finding", "Pneumonia"]
    counts = p["counts"]
    assert (counts["members"], counts["nonmembers"]) == (60, 60)
    assert counts["classes"] == {c: {"members": n, "nonmembers": n} for c, n in PER_SIDE.items()}
    # NIH file names (00000001_000.png) carry no patient id: these are the file's Patient IDs
    assert counts["patients"] == {"train": 50, "heldout": 50}
    assert counts["patients_from"] == "the label file(s)"
    assert "patients named in the label file(s): 50 and 50, none shared" in printed
    labels = p["settings"]["labels"]
    assert labels["train"] == str(collection["train"].resolve())
    assert labels["heldout"] == str(collection["heldout"].resolve())
    assert labels["rule"]["classes"] == ["No Finding", "Pneumonia"]
    for side, file in (("train", collection["train"]), ("heldout", collection["heldout"])):
        kept = labels["per_side"][side]  # what the rule kept of each side's file
        assert kept["file"] == str(file)
        assert (kept["rows"], kept["kept"], kept["patients"]) == (100, 60, 50)
        assert kept["classes"] == PER_SIDE
        assert sum(kept["dropped"].values()) == 40  # Cardiomegaly alone and Effusion
    for key in ("black_box_features", "black_box_pixels"):
        by_class = p["attacks"][key]["classes"]
        assert list(by_class) == ["No Finding", "Pneumonia"]
        for c, n in PER_SIDE.items():
            assert (by_class[c]["n_members"], by_class[c]["n_nonmembers"]) == (n, n)
            assert 0 <= by_class[c]["auc"] <= 1


def test_a_patient_of_the_label_file_on_both_sides_is_refused(collection, capsys) -> None:
    # the whole file as members: the held-out file's patients 51-100 are on both sides
    assert main(argv(collection, collection["entry"], collection["heldout"])) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.endswith(
        "--train and --heldout share 50 patient(s) of the label file(s) (100, 51, 52, 53, 54 "
        "and 45 more); the held-out films must come from other patients (`cxrgan data split`, "
        "docs/privacy.md)"
    )


def test_one_label_file_for_one_folder_is_refused(collection, capsys) -> None:
    assert main(argv(collection, collection["train"], collection["train"])) == 2
    assert "--heldout is the --train folder" in capsys.readouterr().err


def test_help_offers_the_label_options_and_a_lone_heldout_file_is_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["privacy", "--help"])
    text = capsys.readouterr().out
    for option in ("--labels", "--labels-format", "--classes", "--view", "--heldout-labels"):
        assert f"  {option}" in text, option
    lone = ["privacy", "run", "--train", "a", "--heldout", "b", "--heldout-labels", "x"]
    assert main(lone) == 2
    assert "--heldout-labels needs --labels" in capsys.readouterr().err
