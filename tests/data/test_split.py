"""Patient-disjoint splits by the Kermany/Kaggle file names."""

from pathlib import Path

import numpy as np
import pytest

from cxrgan.data.split import patient_id, sample_by_patient, split_by_patient


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
