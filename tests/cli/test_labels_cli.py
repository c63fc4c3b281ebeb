"""Label files through the command line: a conditional run from each format, the
patient-disjoint split, generate and evaluate against the held-out part, `data inspect
--labels`, and bad label files refused before anything is written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import label_sets as ls
import pytest
from tiny import TINY_ARGS

from cxrgan.cli.main import main

THREE = "No Finding,Pneumonia,Cardiomegaly"
RUN = [*TINY_ARGS, "--conditional", "--epochs", "1", "--steps-per-epoch", "2"]


def _collection(name: str, png128: Path, tmp: Path) -> tuple[Path, Path, list[str]]:
    """(--data, --labels, format options) of a small collection in `name`'s layout."""
    if name == "chexpert":
        return tmp / "CheXpert-v1.0-small", ls.chexpert(png128, tmp), []
    if name == "generic":
        return tmp, ls.generic(png128, tmp), ["--path-column", "file", "--label-column",
                                              "diagnosis", "--label-separator", ";",
                                              "--patient-column", "mrn"]  # fmt: skip
    return tmp, {"nih": ls.nih, "mimic": ls.mimic}[name](png128, tmp), []


@pytest.mark.parametrize(("name", "counts"), [
    ("nih", {"No Finding": 12, "Pneumonia": 12, "Cardiomegaly": 12}),
    ("chexpert", {"No Finding": 10, "Pneumonia": 11, "Cardiomegaly": 21}),
    ("generic", {"No Finding": 12, "Pneumonia": 12, "Cardiomegaly": 12}),
])  # fmt: skip
def test_a_conditional_run_trains_from_each_format(png128, tmp_path, name, counts) -> None:
    data, labels, options = _collection(name, png128, tmp_path / name)
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--labels", str(labels), "--classes", THREE,
                 *options, *RUN, "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert code == 0
    dataset = json.loads((out / "config.json").read_text())["dataset"]
    assert dataset["kind"] == "label file" and dataset["classes"] == counts
    record = dataset["labels"]
    assert record["format"] == name and record["rule"]["classes"] == THREE.split(",")
    assert record["classes"] == counts and record["kept"] == sum(counts.values())
    assert json.loads((out / "config.json").read_text())["config"]["labels"] == str(labels)


def _patients(path: Path) -> set[str]:
    with path.open() as f:
        return {row["patient"] for row in csv.DictReader(f)}


def test_split_train_generate_evaluate_patient_disjoint(png128, tmp_path, capsys) -> None:
    """MIMIC-CXR: the official split holds out subjects 1–5 (subject 5's study has two chosen
    findings and is dropped); train on train.csv, draw every class, evaluate against the
    held-out part."""
    data, labels, _ = _collection("mimic", png128, tmp_path / "mimic")
    split, run = tmp_path / "split", tmp_path / "run"
    assert main(["data", "split", str(data), "--labels", str(labels), "--classes", THREE,
                 "--view", "all", "--out", str(split)]) == 0  # fmt: skip
    summary = json.loads((split / "split.json").read_text())
    assert summary["split"] == "official"
    train, held = _patients(split / "train.csv"), _patients(split / "heldout.csv")
    assert held == {str(10000001 + k) for k in range(4)} and not train & held
    assert summary["heldout"]["patients"] == 4 and summary["train"]["patients"] == 20
    assert main(["train", "--data", str(data), "--labels", str(split / "train.csv"), *RUN,
                 "--out", str(run), "--no-cache"]) == 0  # fmt: skip
    classes = json.loads((run / "config.json").read_text())["dataset"]["classes"]
    assert set(classes) == set(THREE.split(","))  # generic: the labels data split wrote
    assert main(["generate", str(run), "--per-class", "3", "--out", str(tmp_path / "gen"),
                 "--no-progress"]) == 0  # fmt: skip
    assert {p.name for p in (tmp_path / "gen").iterdir() if p.is_dir()} == set(classes)
    capsys.readouterr()
    assert main(["evaluate", "--real", str(data), "--labels", str(split / "heldout.csv"),
                 "--view", "all", "--fake", str(run), "--n", "8",
                 "--json", str(tmp_path / "eval.json"), "--no-progress"]) == 0  # fmt: skip
    result = json.loads((tmp_path / "eval.json").read_text())
    held_counts = summary["heldout"]["classes"]
    assert {c: r["metrics"]["n_real"] for c, r in result["per_class"].items()} == held_counts


def test_split_by_patient_without_an_official_split(png128, tmp_path) -> None:
    data, labels, options = _collection("generic", png128, tmp_path / "g")
    out = tmp_path / "split"
    assert main(["data", "split", str(data), "--labels", str(labels), *options, "--classes",
                 THREE, "--heldout", "0.3", "--out", str(out)]) == 0  # fmt: skip
    summary = json.loads((out / "split.json").read_text())
    assert summary["split"] == "by patient"
    assert not _patients(out / "train.csv") & _patients(out / "heldout.csv")
    assert summary["train"]["images"] + summary["heldout"]["images"] == 36
    linked = sorted(p.relative_to(out / "heldout") for p in (out / "heldout").rglob("*.png"))
    assert len(linked) == summary["heldout"]["images"]
    assert all(str(p).split("/")[1] == "export" for p in linked)  # <class>/<path under DIR>


def test_inspect_with_a_label_file(png128, tmp_path, capsys) -> None:
    data, labels, _ = _collection("nih", png128, tmp_path / "nih")
    (data / "images_001" / "images" / "00000001_000.png").unlink()  # a row without its file
    (data / "images_001" / "images" / "stray.png").symlink_to(ls.images(png128, 1)[0])
    with labels.open("a") as f:  # a repeated row
        f.write(labels.read_text().splitlines()[2] + "\n")
    report = tmp_path / "report.json"
    assert main(["data", "inspect", str(data), "--labels", str(labels), "--classes", THREE,
                 "--no-progress", "--json", str(report)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "kept          35 images of 24 patients; dropped: duplicate row 1, file missing 1, " \
           "no chosen finding 12, several chosen findings 12" in out
    assert "per class     No Finding 11 (11 patients), Pneumonia 12 (12 patients), " \
           "Cardiomegaly 12 (12 patients)" in out
    assert "views         PA 51, AP 10   kept: PA 29, AP 6" in out
    assert "missing files 1: 00000001_000.png"  # found nowhere under DIR in out
    assert "no row        1: images_001/images/stray.png" in out
    assert "repeated rows 1: images_001/images/00000001_001.png" in out
    assert "files         35: 35 readable images" in out  # only the kept images are decoded
    labels_json = json.loads(report.read_text())["labels"]
    assert labels_json["patients_per_class"] == {"No Finding": 11, "Pneumonia": 12,
                                                 "Cardiomegaly": 12}  # fmt: skip


@pytest.mark.parametrize(("args", "needle"), [
    (["--labels-format", "dicom"], "--labels-format must be one of auto, nih, chexpert, mimic"),
    (["--classes", "Fibrosis"], "'Fibrosis' not a finding"),
    (["--classes", THREE, "--view", "AP"], "class 'No Finding' has 2 image(s)"),
    (["--classes", "Effusion", "--view", "LATERAL"], "no image left after the rules"),
])  # fmt: skip
def test_bad_label_files_write_nothing(png128, tmp_path, capsys, args, needle) -> None:
    data, labels, _ = _collection("nih", png128, tmp_path / "nih")
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--labels", str(labels), *args, *RUN,
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_bad_files_one_line_each(png128, tmp_path, capsys) -> None:
    data, _, _ = _collection("nih", png128, tmp_path / "nih")
    bad = tmp_path / "bad.csv"
    cases = {
        "Image Index,Finding Labels\nx.png,Pneumonia\n": "has no column 'Patient ID'",
        "path,label\n../../etc/passwd,Pneumonia\n": "is outside the data root",
        "a,b\n1,2\n": "cannot tell the format",
    }
    for text, needle in cases.items():
        bad.write_text(text)
        out = tmp_path / "split"
        assert main(["data", "split", str(data), "--labels", str(bad), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1 and not out.exists()
    assert main(["train", "--data", str(data), "--classes", THREE, *RUN]) == 2
    assert "--classes needs --labels" in capsys.readouterr().err

