"""Training straight from awkward real inputs: the Kaggle originals and DICOM exports."""

from __future__ import annotations

import json

import numpy as np
from dicom_factory import PATIENT_ID, write_dicom

from cxrgan.cli.main import main
from cxrgan.data.folder import load_folder

TINY = ["--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16", "--batch-size", "8",
        "--device", "cpu", "--no-progress", "--epochs", "1", "--steps-per-epoch", "2"]  # fmt: skip


def test_train_on_kaggle_originals(tmp_path, originals):
    run = tmp_path / "run"
    train = originals / "chest_xray" / "train"
    assert main(["train", "--data", str(train), *TINY, "--cache-dir", str(tmp_path / "c"),
                 "--out", str(run)]) == 0  # fmt: skip
    info = json.loads((run / "config.json").read_text())
    assert info["dataset"]["classes"] == {"NORMAL": 34, "PNEUMONIA": 84}
    assert info["dataset"]["skipped"] == 0
    assert info["stopped"]["reason"] == "completed"


def _window(x: np.ndarray, center: float, width: float, bits: int) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 LINEAR window onto [0, 2^bits - 1], then onto 0..255."""
    top = 2**bits - 1
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * top
    y = np.where(x <= center - 0.5 - (width - 1) / 2, 0, y)
    y = np.where(x > center - 0.5 + (width - 1) / 2, top, y)
    return y / top * 255


def test_train_on_dicom_folder_with_expected_pixels(tmp_path):
    data = tmp_path / "dicom" / "XR"
    data.mkdir(parents=True)
    ramp8 = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))  # 32×32, 0..248
    ramp12 = (np.tile(np.arange(32), (32, 1)) * 128 + 40).astype(np.uint16)  # 40..4008
    win = (2000.0, 2001.0)
    cases = {
        "a_mono2_8bit": (dict(pixels=ramp8, photometric="MONOCHROME2"), ramp8.astype(float)),
        "b_mono1_8bit": (dict(pixels=ramp8, photometric="MONOCHROME1"), 255.0 - ramp8),
        "c_mono2_12bit_nowindow": (
            dict(pixels=ramp12, photometric="MONOCHROME2", bits_stored=12),
            (ramp12 - 40.0) / (4008 - 40) * 255,
        ),
        "d_mono2_12bit_window": (
            dict(pixels=ramp12, photometric="MONOCHROME2", bits_stored=12, window=win),
            _window(ramp12.astype(float), *win, bits=12),
        ),
        "e_mono1_12bit_window": (
            dict(pixels=ramp12, photometric="MONOCHROME1", bits_stored=12, window=win),
            255 - _window(ramp12.astype(float), *win, bits=12),
        ),
    }
    for name, (kwargs, _) in cases.items():
        write_dicom(data / f"{name}.dcm", **kwargs)

    images = load_folder(data.parent, 32, progress=False)
    assert images.paths == [f"XR/{name}.dcm" for name in cases]
    for got, (name, (_, expected)) in zip(images.images, cases.items(), strict=True):
        diff = np.abs(got.astype(float) - expected)
        assert diff.max() <= 1.0, (name, diff.max())

    run = tmp_path / "run"
    assert main(["train", "--data", str(data.parent), *TINY, "--no-cache", "--out", str(run)]) == 0
    info = json.loads((run / "config.json").read_text())
    assert info["dataset"]["count"] == 5 and info["dataset"]["classes"] == {"XR": 5}
    for name in ("train.log", "config.json", "metrics.jsonl"):
        text = (run / name).read_text()
        assert "Testperson" not in text and PATIENT_ID not in text  # no patient data leaks
