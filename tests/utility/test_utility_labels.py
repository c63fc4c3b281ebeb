"""`cxrgan utility --labels`: the real images' classes and patients from NIH-style label files
(tests/label_sets.py), one per side over one folder; a patient on both sides is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from label_sets import nih, split_by_patient
from utility_helpers import class_folder

from cxrgan.cli.main import main

FAST = ["--image-size", "16", "--seeds", "2", "--epochs", "1", "--bootstrap", "100",
        "--no-progress", "--no-cache", "--classes", "No Finding,Pneumonia"]  # fmt: skip
# 60 images, two a patient: patients 1-20 (images 0-39) train, 21-30 (40-59) test. Findings
# cycle No Finding, Pneumonia, Cardiomegaly, Pneumonia|Cardiomegaly, Effusion: of every five
# images one is No Finding and two are Pneumonia; every patient keeps at least one image.
TRAIN = {"No Finding": 8, "Pneumonia": 16}
TEST = {"No Finding": 4, "Pneumonia": 8}


@pytest.fixture
def collection(png128: Path, tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "nih"
    entry = nih(png128, root, n=60)
    train, heldout = split_by_patient(entry, tmp_path / "sides", "Patient ID",
                                      {str(p) for p in range(21, 31)})  # fmt: skip
    synthetic = class_folder(tmp_path / "synthetic", {"No Finding": 10, "Pneumonia": 18}, seed=2)
    return {"root": root, "entry": entry, "train": train, "heldout": heldout,
            "synthetic": synthetic}  # fmt: skip


def argv(c: dict[str, Path], labels: Path, *extra: str) -> list[str]:
    return ["utility", "--train", str(c["root"]), "--test", str(c["root"]), "--synthetic",
            str(c["synthetic"]), "--labels", str(labels), *FAST, *extra]  # fmt: skip


def refused(capsys, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_classes_and_patients_come_from_the_label_files(collection, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    args = argv(collection, collection["train"], "--test-labels", str(collection["heldout"]))
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    u = json.loads((out / "utility.json").read_text())

    assert u["classes"] == ["No Finding", "Pneumonia"]
    assert u["counts"] == {"train": TRAIN, "test": TEST, "n_train": 24, "n_test": 12,
                           "patients": {"train": 20, "test": 10}}  # fmt: skip
    assert "patients of the label file(s): 20 in --train and 10 in --test, none shared" in printed
    labels = u["settings"]["labels"]
    assert labels["train"]["file"] == str(collection["train"])
    assert labels["test"]["file"] == str(collection["heldout"])
    assert (labels["train"]["rows"], labels["train"]["kept"]) == (40, 24)
    assert (labels["test"]["rows"], labels["test"]["kept"]) == (20, 12)
    assert labels["train"]["dropped"]["no chosen finding"] == 16  # Cardiomegaly, Effusion
    sets = u["sets"]
    assert sets["real"]["counts"]["real"] == TRAIN
    assert sets["synthetic"]["counts"]["synthetic"] == TRAIN
    assert sets["augmented"]["counts"]["synthetic"] == {"No Finding": 8, "Pneumonia": 0}
    assert u["synthetic_source"]["drawn"] == {"No Finding": 8, "Pneumonia": 16}
    for v in sets.values():
        assert len(v["per_seed"]) == 2
        assert all(0 <= r["auc"] <= 1 for r in v["per_seed"])


def test_a_patient_on_both_sides_is_refused(collection, capsys) -> None:
    # the whole file trains: the test file's patients 21-30 are on both sides
    args = argv(collection, collection["entry"], "--test-labels", str(collection["heldout"]))
    assert refused(capsys, args).endswith(
        "--train and --test share 10 patient(s) of the label file(s) (21, 22, 23, 24, 25 and 5 "
        "more); the test images must come from other patients (`cxrgan data split --labels`, "
        "docs/utility.md)"
    )


def test_one_label_file_for_one_folder_and_a_lone_test_file_are_refused(
    collection, capsys
) -> None:
    same = refused(capsys, argv(collection, collection["train"]))
    assert "--test is the --train folder" in same
    lone = ["utility", "--train", "a", "--test", "b", "--synthetic", "c", "--test-labels", "x"]
    assert "--test-labels needs --labels" in refused(capsys, lone)
