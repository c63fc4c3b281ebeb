"""Patient-disjoint splits by the Kermany/Kaggle file names."""

import json
from pathlib import Path

import numpy as np
import pytest
from image_factory import write_image

from cxrgan.cli.main import main
from cxrgan.data.folder import load_folder
from cxrgan.data.split import patient_id, sample_by_patient, split_by_patient, write_split


@pytest.mark.parametrize(
    ("name", "patient"),
    [
        ("person1000_bacteria_2931.jpeg", "person1000"),
        ("person1000_virus_1681.jpeg", "person1000"),
        ("IM-0115-0001.jpeg", "im-115"),
        ("NORMAL2-IM-0115-0002.jpeg", "im-115"),
        ("scan.png", "file:scan.png"),
    ],
)
def test_patient_ids_come_from_kermany_file_names(name, patient):
    assert patient_id(Path("x") / name) == patient


def test_split_keeps_every_patient_on_one_side_and_classes_in_proportion():
    paths = [f"person{i // 3}_virus_{i}.jpeg" for i in range(300)]
    paths += [f"IM-{i // 2:04d}-{i % 2:04d}.jpeg" for i in range(100)]
    labels = [1] * 300 + [0] * 100
    train, held = split_by_patient(paths, labels, heldout=0.2, seed=1)
    assert len(train) + len(held) == 400 and not set(train) & set(held)
    assert {patient_id(paths[i]) for i in train}.isdisjoint(patient_id(paths[i]) for i in held)
    held_labels = np.array(labels)[held]
    assert (held_labels == 1).sum() == 60 and (held_labels == 0).sum() == 20  # 20 % per class
    again = split_by_patient(paths, labels, heldout=0.2, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, held), again, strict=True))


def test_sample_by_patient_takes_whole_patients_in_class_proportion():
    paths = [f"person{i // 4}_virus_{i}.jpeg" for i in range(400)]
    paths += [f"IM-{i // 4:04d}-{i % 4:04d}.jpeg" for i in range(100)]
    labels = [1] * 400 + [0] * 100
    idx = sample_by_patient(paths, labels, 50, seed=0)
    assert len(idx) == 50
    assert (np.array(labels)[idx] == 1).sum() == 40
    per_patient = {}
    for i in idx:
        per_patient[patient_id(paths[i])] = per_patient.get(patient_id(paths[i]), 0) + 1
    assert sorted(per_patient.values())[1:] == [4] * (len(per_patient) - 1)  # whole but one


@pytest.mark.shared_data
def test_kaggle_split_is_patient_disjoint(kaggle224):
    files = sorted(kaggle224.glob("*/*.jpeg"))
    labels = [int(f.parent.name == "PNEUMONIA") for f in files]
    train, held = split_by_patient(files, labels, heldout=0.15, seed=0)
    assert len(files) == 5216
    assert 0.10 < len(held) / len(files) < 0.20
    train_patients = {patient_id(files[i]) for i in train}
    assert train_patients.isdisjoint(patient_id(files[i]) for i in held)


def _named_folder(root: Path) -> Path:
    for i in range(30):  # 10 PNEUMONIA patients of 3 films, 10 NORMAL patients of 2
        write_image(root / "PNEUMONIA" / f"person{i // 3}_virus_{i}.jpeg", 16, 16, seed=i)
    for i in range(20):
        write_image(root / "NORMAL" / f"IM-{i // 2:04d}-{i % 2:04d}.jpeg", 16, 16, seed=100 + i)
    return root


@pytest.mark.parametrize("copy", [False, True])
def test_data_split_writes_train_and_heldout_by_patient(tmp_path, capsys, copy):
    data = _named_folder(tmp_path / "data")
    out = tmp_path / "split"
    args = ["data", "split", str(data), "--out", str(out), "--heldout", "0.2"]
    assert main([*args, *(["--copy"] if copy else [])]) == 0
    sides = {s: sorted(p.relative_to(out / s) for p in (out / s).rglob("*.jpeg"))
             for s in ("train", "heldout")}  # fmt: skip
    assert len(sides["train"]) + len(sides["heldout"]) == 50
    assert {p.parts[0] for p in sides["heldout"]} == {"NORMAL", "PNEUMONIA"}
    ids = {s: {patient_id(p) for p in files} for s, files in sides.items()}
    assert ids["train"].isdisjoint(ids["heldout"])
    assert len(ids["heldout"]) == 4  # 20 % of 10 patients, of each class
    info = json.loads((out / "split.json").read_text())
    assert info["heldout"]["images"] == len(sides["heldout"]) and info["heldout"]["patients"] == 4
    assert info["files"] == ("copies" if copy else "symlinks")
    linked = out / "train" / sides["train"][0]
    original = data / sides["train"][0]
    assert linked.is_symlink() != copy and linked.read_bytes() == original.read_bytes()
    assert "heldout" in capsys.readouterr().out
    # The halves are folders cxrgan trains on: classes from the subfolders.
    assert load_folder(out / "heldout", 16, progress=False).classes == ["NORMAL", "PNEUMONIA"]


def test_data_split_refuses_a_used_out_and_a_bad_share(tmp_path, capsys):
    data = _named_folder(tmp_path / "data")
    out = tmp_path / "split"
    write_image(out / "train" / "x.png")
    assert main(["data", "split", str(data), "--out", str(out)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main(["data", "split", str(data), "--out", str(tmp_path / "o"), "--heldout", "1"]) == 2
    assert "--heldout must be between 0 and 1" in capsys.readouterr().err


@pytest.mark.shared_data
def test_data_split_of_kaggle_is_the_benchmarks_split(kaggle224, tmp_path):
    """`cxrgan data split` with its defaults holds out the patients benchmarks/quality.py holds
    out (the same function, share and seed): 4,448 training and 768 held-out images."""
    info = write_split(kaggle224, tmp_path / "split")
    assert (info["train"]["images"], info["heldout"]["images"]) == (4448, 768)
