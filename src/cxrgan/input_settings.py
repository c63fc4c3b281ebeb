"""The settings of a run's input, declared once: which images, their label file, and how they
are decoded and kept. TrainConfig (cxrgan.config) lists each under its name, e.g.

    data: str | None = inputs.DATA

so the field keeps its place among the run's settings while its default, help and checks live
here; config.py stays small enough to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cxrgan.data.fit import FIT_POLICIES
from cxrgan.data.labels.options import (
    FORMATS,
    MULTI_LABEL,
    UNCERTAIN,
    LabelOptions,
    LabelRequest,
    LabelRule,
)
from cxrgan.settings import setting

IMAGE_SIZES = (32, 64, 128, 256)

DATA: Any = setting(
    None,
    "folder of chest X-rays, searched recursively; its immediate subfolders are class "
    "labels (e.g. chest_xray/train with NORMAL/ and PNEUMONIA/; a single wrapper folder and "
    "train/val/test split folders are looked through, so the whole Kaggle tree is labelled "
    "NORMAL/PNEUMONIA too). Omit to train on the built-in synthetic phantoms (demo data, "
    "no download). With --labels, the folder the label file's paths are read under",
    group="data",
)

IMAGE_SIZE: Any = setting(
    64, "training resolution in pixels", group="data", choices=lambda: IMAGE_SIZES
)

FIT: Any = setting(
    "crop",
    "how non-square images become square (crop: the tutorial's Resize + CenterCrop; pad "
    "keeps the whole chest; squash matches public 224×224 copies)",
    group="data",
    choices=lambda: FIT_POLICIES,
)

WORKERS: Any = setting(
    0,
    "processes decoding images (0: as many as CPU cores)",
    group="data",
    resumable=True,
    min=0,
    max=1024,  # more than any machine's cores; 10**6 would fork that many processes
)

CACHE: Any = setting(
    True,
    "the decode-once cache of preprocessed images, memory-mapped, so a collection larger than "
    "memory trains (--no-cache: decode every image from its file on each start and hold them "
    "all in memory; docs/performance.md, Scale)",
    group="data",
    resumable=True,
)

CACHE_DIR: Any = setting(
    None,
    "where the decode-once cache lives (default: $XDG_CACHE_HOME/cxrgan, else ~/.cache/cxrgan)",
    group="data",
    resumable=True,
)

DATA_ON: Any = setting(
    "auto",
    "where the training images live. device: all copied to the GPU once (fastest); host: "
    "in host memory (the decode-once cache is memory-mapped) and each step copies only "
    "this process's share, through pinned memory, for data larger than the GPU; auto: "
    "device when they take at most half the GPU's free memory (on CPU they are in memory)",
    group="data",
    resumable=True,
    choices=lambda: ("auto", "device", "host"),
)

DEMO_IMAGES: Any = setting(
    2048, "number of phantoms when --data is omitted", group="data", min=1, max=100_000
)

# A label file instead of class subfolders (docs/labels.md).
LABELS: Any = setting(
    None,
    "CSV of labels instead of class subfolders: ChestX-ray14's Data_Entry_2017.csv, "
    "CheXpert's train.csv, MIMIC-CXR-JPG's mimic-cxr-2.0.0-metadata.csv, or any CSV with a "
    "path and a label column; see docs/labels.md (none: classes are --data's subfolders)",
    group="data",
)
LABELS_FORMAT: Any = setting(
    "auto",
    "the label file's format (auto: told by its header; docs/labels-nih.md, "
    "docs/labels-chexpert.md, docs/labels-mimic.md, docs/labels-generic.md)",
    group="data",
    choices=lambda: FORMATS,
)
CLASSES: Any = setting(
    None,
    'with --labels, the findings that are the classes, comma-separated, e.g. "No '
    'Finding,Pneumonia,Cardiomegaly"; each class is one finding (none: every finding the '
    "file has)",
    group="data",
    many=True,
)
MULTI_LABEL_: Any = setting(
    "drop",
    "with --labels, an image with several of the chosen findings: drop it, or give it the "
    "first of them in --classes order",
    group="data",
    choices=lambda: MULTI_LABEL,
)
UNCERTAIN_: Any = setting(
    "zero",
    "with --labels, an uncertain label (-1.0, CheXpert and MIMIC-CXR): a negative (zero), a "
    "positive (one), or drop the image (blank cells are negatives)",
    group="data",
    choices=lambda: UNCERTAIN,
)
VIEW: Any = setting(
    None,
    "with --labels, the views kept, comma-separated (e.g. PA,AP; LATERAL,LL for laterals; "
    "all: every view) (none: every view but the lateral ones)",
    group="data",
    many=True,
)
OFFICIAL_SPLIT: Any = setting(
    "auto",
    "with --labels, the official split that `data split` honours: auto: the lists beside the "
    "label file (ChestX-ray14's train_val_list.txt and test_list.txt, MIMIC-CXR's "
    "mimic-cxr-2.0.0-split.csv); none: ignore them; or the path of a list or folder",
    group="data",
)
PATH_COLUMN: Any = setting(
    "path", "with --labels-format generic, the column of file paths under --data", group="data"
)
LABEL_COLUMN: Any = setting(
    "label", "with --labels-format generic, the column of labels", group="data"
)
LABEL_SEPARATOR: Any = setting(
    None,
    "with --labels-format generic, what separates several labels in one cell, e.g. '|' "
    "(none: one label a cell)",
    group="data",
)
PATIENT_COLUMN: Any = setting(
    None,
    "with --labels-format generic, the column of patient ids (none: each file is its own patient)",
    group="data",
)
VIEW_COLUMN: Any = setting(
    None, "with --labels-format generic, the column of views (none: no views)", group="data"
)

# The settings of a label file, in the order the data commands offer them.
LABEL_SETTINGS = ("labels", "labels_format", "classes", "multi_label", "uncertain", "view",
                  "official_split", "path_column", "label_column", "label_separator",
                  "patient_column", "view_column")  # fmt: skip


def label_request(cfg: Any) -> LabelRequest | None:
    """The label file a config (TrainConfig, or any object with these settings) asks for."""
    if not cfg.labels:
        return None
    options = LabelOptions(
        format=cfg.labels_format,
        path_column=cfg.path_column,
        label_column=cfg.label_column,
        label_separator=cfg.label_separator or "",
        patient_column=cfg.patient_column or "",
        view_column=cfg.view_column or "",
        official_split=cfg.official_split,
    )
    rule = LabelRule(
        classes=_items(cfg.classes),
        multi_label=cfg.multi_label,
        uncertain=cfg.uncertain,
        views=_items(cfg.view),
    )
    return LabelRequest(Path(cfg.labels).expanduser(), options, rule)


def input_problem(cfg: Any) -> str | None:
    """What is wrong between the input's settings, or None."""
    if cfg.labels and not cfg.data:
        return "--labels needs --data, the folder its paths are read under"
    if cfg.classes is not None and not cfg.labels:
        return "--classes needs --labels (without it the classes are --data's subfolders)"
    return None


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())
