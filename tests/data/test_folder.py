"""load_folder without the cache: labels, skipped files with reasons, errors, real layouts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from image_factory import write_image

from cxrgan.data.decode import read_gray
from cxrgan.data.folder import load_folder
from cxrgan.data.preprocess import fit_square
from cxrgan.data.scan import class_labels, scan_files
from cxrgan.errors import CxrganError


def truncated_jpeg(path: Path) -> Path:
    write_image(path.with_suffix(".tmp.jpg"), 64, 64, seed=9).rename(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "xrays"
    for i in range(3):
        write_image(root / "NORMAL" / f"n{i}.png", seed=i)
    for i in range(2):
        write_image(root / "PNEUMONIA" / f"p{i}.jpg", 50, 35, seed=10 + i)
    truncated_jpeg(root / "PNEUMONIA" / "cut.jpg")
    (root / "PNEUMONIA" / "empty.png").write_bytes(b"")
    (root / "NORMAL" / "notes.png").write_text("this is a text file, not a PNG\n" * 20)
    (root / "NORMAL" / "readme.txt").write_text("labels from the folder names")
    write_image(root / ".thumbs" / "hidden.png")  # hidden folders are not data
    write_image(root / "NORMAL" / ".hidden.png")
    return root


def test_labels_come_from_subfolders(tree: Path) -> None:
    data = load_folder(tree, 16, workers=1, progress=False)
    assert data.classes == ["NORMAL", "PNEUMONIA"]
    assert data.class_counts == {"NORMAL": 3, "PNEUMONIA": 2}
    assert data.paths == ["NORMAL/n0.png", "NORMAL/n1.png", "NORMAL/n2.png",
                          "PNEUMONIA/p0.jpg", "PNEUMONIA/p1.jpg"]  # fmt: skip
    assert data.images.shape == (5, 16, 16) and data.images.dtype == np.uint8
    assert data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.root == tree.resolve() and data.cache_entry is None
    # The pixels are exactly what the decoder + fit give for each file.
    expected = fit_square(read_gray(tree / "PNEUMONIA/p1.jpg", 16), 16, "crop")
    np.testing.assert_array_equal(data.images[4], expected)


def test_unreadable_files_are_skipped_with_reasons(tree: Path) -> None:
    data = load_folder(tree, 16, workers=1, progress=False)
    reasons = dict(data.skipped)
    assert sorted(reasons) == ["NORMAL/notes.png", "NORMAL/readme.txt",
                               "PNEUMONIA/cut.jpg", "PNEUMONIA/empty.png"]  # fmt: skip
    assert "truncated" in reasons["PNEUMONIA/cut.jpg"]
    assert "empty file (0 bytes)" in reasons["PNEUMONIA/empty.png"]
    assert "not a recognised image file" in reasons["NORMAL/notes.png"]
    assert reasons["NORMAL/readme.txt"] == "not an image file"
    # Reasons name no absolute path: the relative path beside them says which file.
    assert not any(str(tree) in r for r in reasons.values())


def test_all_unreadable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_text("not an image")
    with pytest.raises(CxrganError, match=r"no readable images .*2 files skipped.*a\.png"):
        load_folder(tmp_path, 16, workers=1, progress=False)


def test_empty_or_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CxrganError, match="empty"):
        load_folder(tmp_path, 16, progress=False)
    (tmp_path / ".DS_Store").write_bytes(b"x")  # hidden files do not count
    with pytest.raises(CxrganError, match="empty"):
        load_folder(tmp_path, 16, progress=False)
    with pytest.raises(CxrganError, match="not found"):
        load_folder(tmp_path / "nope", 16, progress=False)
    with pytest.raises(CxrganError, match="fit must be one of"):
        load_folder(tmp_path, 16, fit="stretch", progress=False)


def test_parallel_decode_matches_serial(tree: Path) -> None:
    serial = load_folder(tree, 16, workers=1, progress=False)
    parallel = load_folder(tree, 16, workers=2, progress=False)
    np.testing.assert_array_equal(serial.images, parallel.images)
    assert serial.skipped == parallel.skipped


def test_class_labels_for_common_layouts() -> None:
    assert class_labels(["NORMAL/a.png", "PNEUMONIA/b.png", "c.png"]) == ["NORMAL", "PNEUMONIA", ""]
    assert class_labels(["a.png", "b.png"]) == ["", ""]
    # One class folder: still its name (the files are not at the top level).
    assert class_labels(["NORMAL/a.png", "NORMAL/b.png"]) == ["NORMAL", "NORMAL"]
    # Kaggle tree from the top: the wrapper and the split folders are skipped.
    kaggle = ["chest_xray/test/NORMAL/a.jpeg", "chest_xray/train/PNEUMONIA/b.jpeg"]
    assert class_labels(kaggle) == ["NORMAL", "PNEUMONIA"]
    # MedMNIST download layout from the top.
    assert class_labels(["train/NORMAL/1.png", "val/PNEUMONIA/2.png"]) == ["NORMAL", "PNEUMONIA"]
    # Folders that are not splits stay the class.
    assert class_labels(["siteA/x/1.png", "siteB/y/2.png"]) == ["siteA", "siteB"]


@pytest.mark.shared_data
def test_kaggle_layout_on_originals(originals: Path) -> None:
    train = originals / "chest_xray" / "train"
    data = load_folder(train, 32, progress=False)
    assert data.classes == ["NORMAL", "PNEUMONIA"]
    assert data.class_counts == {"NORMAL": 34, "PNEUMONIA": 84}
    assert data.skipped == [] and data.images.shape == (118, 32, 32)
    # The whole tree, from its top, is labelled by the same class folders (stat only here).
    paths = [e.rel for e in scan_files(originals)]
    labels = class_labels(paths)
    assert len(paths) == 150
    assert {name: labels.count(name) for name in set(labels)} == {"NORMAL": 40, "PNEUMONIA": 110}


def test_symlinked_class_folders_are_followed_once(tmp_path: Path) -> None:
    real = tmp_path / "store" / "NORMAL"
    write_image(real / "a.png")
    root = tmp_path / "data"
    root.mkdir()
    os.symlink(real, root / "NORMAL")
    os.symlink(root, root / "NORMAL" / "loop")  # must not recurse forever
    data = load_folder(root, 8, workers=1, progress=False)
    assert data.paths == ["NORMAL/a.png"]
