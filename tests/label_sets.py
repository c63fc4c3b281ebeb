"""Small collections laid out as ChestX-ray14, CheXpert, MIMIC-CXR-JPG and a hospital export,
with label files of their real columns, built from the shared Kermany PNGs (symbolic links
named as each collection names its files). Each image i gets findings, view and patient from
the patterns below, so the tests can count what every rule keeps."""

from __future__ import annotations

import csv
from pathlib import Path

# Image i's findings (cycled): one class, another, both, a third one, none chosen.
NIH_FINDINGS = ["No Finding", "Pneumonia", "Cardiomegaly", "Pneumonia|Cardiomegaly", "Effusion"]
CHEXPERT_OBS = [
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
    "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
    "Pleural Other", "Fracture", "Support Devices",
]  # fmt: skip
# CheXpert cells per image (cycled): No Finding / Pneumonia / Cardiomegaly, 1 0 -1 or blank.
CHEXPERT_CELLS = [
    {"No Finding": "1.0"},
    {"Pneumonia": "1.0", "Cardiomegaly": "0.0"},
    {"Cardiomegaly": "1.0"},
    {"Pneumonia": "-1.0", "Cardiomegaly": "1.0"},  # uncertain pneumonia
    {"Pneumonia": "1.0", "Cardiomegaly": "1.0"},  # both
]


def images(png128: Path, n: int) -> list[Path]:
    files = sorted((png128 / "NORMAL").glob("*.png")) + sorted((png128 / "PNEUMONIA").glob("*.png"))
    return files[:n]


def _link(target: Path, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def nih(png128: Path, root: Path, n: int = 60, lateral_every: int = 0) -> Path:
    """DIR/images_00K/images/000000PP_00F.png and DIR/Data_Entry_2017.csv; two images per
    patient; every 6th image AP, the rest PA."""
    header = ["Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age",
              "Patient Gender", "View Position", "OriginalImage[Width", "Height]",
              "OriginalImagePixelSpacing[x", "y]"]  # fmt: skip
    rows = []
    for i, src in enumerate(images(png128, n)):
        patient = i // 2 + 1
        name = f"{patient:08d}_{i % 2:03d}.png"
        _link(root / f"images_{i // 25 + 1:03d}" / "images" / name, src)
        view = "AP" if i % 6 == 5 else "PA"
        rows.append([name, NIH_FINDINGS[i % 5], i % 2, patient, 50, "M", view, 2500, 2048,
                     0.143, 0.143])  # fmt: skip
    return _write(root / "Data_Entry_2017.csv", header, rows)


def chexpert(png128: Path, root: Path, n: int = 60) -> Path:
    """DIR/CheXpert-v1.0-small/train/patientNNNNN/study1/view1_frontal.jpg (and a lateral
    view2 for every 4th patient) and DIR/CheXpert-v1.0-small/train.csv; two images per
    patient."""
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_OBS]
    rows = []
    for i, src in enumerate(images(png128, n)):
        patient = i // 2 + 1
        lateral = i % 8 == 7
        view = "view2_lateral.jpg" if lateral else "view1_frontal.jpg"
        rel = f"CheXpert-v1.0-small/train/patient{patient:05d}/study{i % 2 + 1}/{view}"
        _link(root / rel, src)
        cells = CHEXPERT_CELLS[i % 5]
        row = [rel, "Female", 60, "Lateral" if lateral else "Frontal",
               "" if lateral else ("AP" if i % 3 == 0 else "PA")]  # fmt: skip
        rows.append(row + [cells.get(c, "") for c in CHEXPERT_OBS])
    return _write(root / "CheXpert-v1.0-small" / "train.csv", header, rows)


def mimic(png128: Path, root: Path, n: int = 60) -> Path:
    """DIR/files/pNN/pSUBJECT/sSTUDY/DICOM.jpg, DIR/mimic-cxr-2.0.0-{metadata,chexpert,split}.csv;
    two images (one study) per subject; every 8th image LATERAL; subjects 1–5 in test."""
    meta, labels, split = [], [], []
    for i, src in enumerate(images(png128, n)):
        subject, study = 10000001 + i // 2, 50000001 + i // 2
        dicom = f"{i:08x}-0000abcd-1111ef01-2222aaaa-3333bbbb"
        _link(root / f"files/p10/p{subject}/s{study}/{dicom}.jpg", src)
        view = "LATERAL" if i % 8 == 7 else ("AP" if i % 3 == 0 else "PA")
        meta.append([dicom, subject, study, "CHEST (PA AND LAT)", view, 3056, 2544])
        split.append([dicom, study, subject, "test" if i // 2 < 5 else "train"])
        if i % 2 == 0:
            cells = CHEXPERT_CELLS[(i // 2) % 5]
            labels.append([subject, study] + [cells.get(c, "") for c in CHEXPERT_OBS])
    _write(root / "mimic-cxr-2.0.0-chexpert.csv", ["subject_id", "study_id", *CHEXPERT_OBS],
           labels)  # fmt: skip
    _write(root / "mimic-cxr-2.0.0-split.csv", ["dicom_id", "study_id", "subject_id", "split"],
           split)  # fmt: skip
    header = ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription",
              "ViewPosition", "Rows", "Columns"]  # fmt: skip
    return _write(root / "mimic-cxr-2.0.0-metadata.csv", header, meta)


def generic(png128: Path, root: Path, n: int = 60) -> Path:
    """DIR/export/IMG_NNNN.png and DIR/labels.csv with file, diagnosis (";"-separated), mrn."""
    rows = []
    for i, src in enumerate(images(png128, n)):
        _link(root / "export" / f"IMG_{i:04d}.png", src)
        rows.append([f"export/IMG_{i:04d}.png", NIH_FINDINGS[i % 5].replace("|", ";"),
                     f"MRN{i // 3:04d}"])  # fmt: skip
    return _write(root / "labels.csv", ["file", "diagnosis", "mrn"], rows)


def split_by_patient(
    label_file: Path, out: Path, column: str, heldout: set[str]
) -> tuple[Path, Path]:
    """OUT/train.csv and OUT/heldout.csv: the label file's rows, its header kept, the rows of
    the `heldout` patients (values of `column`) in the second; as a site would hand over two
    label files of one collection."""
    with label_file.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    at = header.index(column)
    train = [r for r in body if r[at] not in heldout]
    held = [r for r in body if r[at] in heldout]
    return _write(out / "train.csv", header, train), _write(out / "heldout.csv", header, held)
