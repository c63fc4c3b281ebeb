"""The decode-once cache: reuse without decoding, invalidation, atomic builds, concurrency."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from image_factory import write_image

from cxrgan.data import cache as cache_mod
from cxrgan.data import decode_parallel as decode_mod
from cxrgan.data import folder as folder_mod
from cxrgan.data.cache import INDEX_FILE, default_cache_dir, resolve_cache_dir
from cxrgan.data.folder import load_folder
from cxrgan.data.source import load_images
from cxrgan.errors import CxrganError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "xrays"
    for i in range(4):
        write_image(root / "NORMAL" / f"n{i}.png", seed=i)
        write_image(root / "PNEUMONIA" / f"p{i}.jpg", 36, 48, seed=10 + i)
    (root / "PNEUMONIA" / "broken.png").write_text("not a png")
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


class Log(list):
    def __call__(self, message: str) -> None:
        self.append(message)

    def has(self, prefix: str) -> bool:
        return any(m.startswith(prefix) for m in self)


def load(root: Path, cache_dir: Path | None, size: int = 16, fit: str = "crop",
         workers: int = 1) -> tuple[folder_mod.ImageSet, Log]:  # fmt: skip
    log = Log()
    data = load_folder(root, size, fit, workers, progress=False, cache_dir=cache_dir, log=log)
    return data, log


def entries(cache_dir: Path) -> list[str]:
    """Cache entries (not temporary folders), as '<slot>/<entry>'."""
    return sorted(
        f"{e.parent.name}/{e.name}" for e in cache_dir.glob("*/*") if not e.name.startswith(".")
    )


def forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kw: object) -> None:
        raise AssertionError("decoded although the cache is valid")

    monkeypatch.setattr(folder_mod, "decode_files", boom)
    for name in ("decode_files", "_decode_one", "read_gray", "describe", "is_image_candidate"):
        monkeypatch.setattr(decode_mod, name, boom)


def test_second_load_reuses_without_decoding(tree, cache_dir, monkeypatch) -> None:
    first, log1 = load(tree, cache_dir)
    assert log1[0].startswith("cache: building ") and "(9 files)" in log1[0]
    assert log1.has("cache: built ") and not log1.has("cache: reusing")
    forbid_decoding(monkeypatch)
    second, log2 = load(tree, cache_dir)
    assert log2 == [f"cache: reusing {second.cache_entry} (8 images)"]
    assert isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(first.images, second.images)
    assert second.skipped == [("PNEUMONIA/broken.png", second.skipped[0][1])]


def test_cached_content_equals_a_plain_load_exactly(tree, cache_dir) -> None:
    plain, log = load(tree, None)
    assert log == [] and not cache_dir.exists()
    built, _ = load(tree, cache_dir)
    reused, _ = load(tree, cache_dir)
    for data in (built, reused):
        assert isinstance(data.images, np.memmap)
        assert data.images.dtype == np.uint8 and data.images.shape == plain.images.shape
        np.testing.assert_array_equal(np.asarray(data.images), plain.images)
        assert data.paths == plain.paths and data.classes == plain.classes
        np.testing.assert_array_equal(data.labels, plain.labels)
        assert data.skipped == plain.skipped and data.fingerprint == plain.fingerprint
    # Copy-on-write: writable (torch.from_numpy is happy) but the cache file never changes.
    reused.images[0] = 0
    again, _ = load(tree, cache_dir)
    np.testing.assert_array_equal(np.asarray(again.images), plain.images)


def test_index_records_paths_labels_sizes_hashes_and_skipped(tree, cache_dir) -> None:
    data, _ = load(tree, cache_dir)
    index = json.loads((data.cache_entry / INDEX_FILE).read_text())
    first = index["images"][0]
    assert first["path"] == "NORMAL/n0.png" and first["label"] == "NORMAL"
    assert (first["width"], first["height"]) == (40, 30) and first["format"] == "PNG"
    import hashlib

    assert first["sha256"] == hashlib.sha256((tree / "NORMAL/n0.png").read_bytes()).hexdigest()
    assert index["images"][-1]["path"] == "PNEUMONIA/p3.jpg"
    assert (index["images"][-1]["width"], index["images"][-1]["height"]) == (36, 48)
    assert index["skipped"][0]["path"] == "PNEUMONIA/broken.png"
    assert "not a recognised image" in index["skipped"][0]["reason"]
    assert index["image_size"] == 16 and index["fit"] == "crop" and index["shape"] == [8, 16, 16]
    assert len(index["files"]) == 9


@pytest.mark.parametrize("change", ["add", "remove", "rewrite", "touch"])
def test_a_changed_folder_rebuilds(tree, cache_dir, change) -> None:
    first, _ = load(tree, cache_dir)
    target = tree / "NORMAL" / "n1.png"
    if change == "add":
        write_image(tree / "NORMAL" / "n9.png", seed=99)
    elif change == "remove":
        target.unlink()
    elif change == "rewrite":
        write_image(target, 44, 30, seed=42)  # other pixels, other size
    else:
        st = target.stat()
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    second, log = load(tree, cache_dir)
    verb = {"add": "added", "remove": "removed", "rewrite": "changed", "touch": "changed"}[change]
    expected_name = "NORMAL/n9.png" if change == "add" else "NORMAL/n1.png"
    assert log[0].startswith("cache: building ")
    assert f"previous cache out of date: 1 file {verb} (e.g. {expected_name})" in log[0]
    assert second.cache_entry != first.cache_entry
    assert len(second) == {"add": 9, "remove": 7}.get(change, 8)
    assert entries(cache_dir) == [f"{second.cache_entry.parent.name}/{second.cache_entry.name}"]
    if change == "rewrite":
        plain, _ = load(tree, None)
        np.testing.assert_array_equal(np.asarray(second.images), plain.images)
    _, log = load(tree, cache_dir)
    assert log[0].startswith("cache: reusing ")


def test_image_size_and_fit_get_their_own_entries(tree, cache_dir) -> None:
    a, _ = load(tree, cache_dir, size=16, fit="crop")
    b, _ = load(tree, cache_dir, size=8, fit="crop")
    c, log = load(tree, cache_dir, size=16, fit="pad")
    assert "out of date" not in log[0]  # another fit is not a stale entry of this one
    assert len({a.cache_entry, b.cache_entry, c.cache_entry}) == 3
    assert b.images.shape == (8, 8, 8)
    assert not np.array_equal(np.asarray(a.images), np.asarray(c.images))
    assert len(entries(cache_dir)) == 3
    for size, fit in ((16, "crop"), (8, "crop"), (16, "pad")):
        _, log = load(tree, cache_dir, size=size, fit=fit)
        assert log[0].startswith("cache: reusing ")


def test_interrupted_build_leaves_no_valid_cache(tree, cache_dir, monkeypatch) -> None:
    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C after images.npy, before index.json

    monkeypatch.setattr(cache_mod, "_write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load(tree, cache_dir)
    monkeypatch.undo()
    slot = next(cache_dir.iterdir())
    assert [p.name for p in slot.iterdir()] == [".lock"]  # no entry, no temporary folder
    data, log = load(tree, cache_dir)
    assert log[0].startswith("cache: building ") and "out of date" not in log[0]
    assert len(data) == 8


def test_a_killed_build_and_a_torn_entry_are_never_used(tree, cache_dir) -> None:
    good, _ = load(tree, cache_dir)
    slot = good.cache_entry.parent
    # A build killed before its rename: a complete-looking .tmp folder must not count.
    leftover = slot / f".tmp-{good.cache_entry.name}-999-dead"
    shutil.copytree(good.cache_entry, leftover)
    shutil.rmtree(good.cache_entry)
    _, log = load(tree, cache_dir)
    assert log[0].startswith("cache: building ")
    assert not leftover.exists()  # cleaned up by the next builder
    # A torn array (e.g. a disk error) is detected and rebuilt, not memory-mapped.
    npy = good.cache_entry / "images.npy"
    npy.write_bytes(npy.read_bytes()[:200])
    data, log = load(tree, cache_dir)
    assert log[0].startswith("cache: building ") and len(data) == 8


def test_concurrent_loads_build_once(tree, cache_dir) -> None:
    results: dict[int, tuple] = {}

    def worker(i: int) -> None:
        results[i] = load(tree, cache_dir)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    logs = [line for _, log in results.values() for line in log]
    assert sum(line.startswith("cache: building ") for line in logs) == 1
    assert sum(line.startswith("cache: reusing ") for line in logs) == 1
    a, b = (np.asarray(results[i][0].images) for i in range(2))
    np.testing.assert_array_equal(a, b)
    assert len(entries(cache_dir)) == 1


def test_unwritable_cache_falls_back_to_decoding(tree, tmp_path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    data, log = load(tree, blocker / "cache")
    assert any("decoding without a cache" in line for line in log)
    assert len(data) == 8 and data.cache_entry is None


def test_all_unreadable_is_an_error_and_caches_nothing(tmp_path, cache_dir) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.png").write_text("text")
    with pytest.raises(CxrganError, match="no readable images"):
        load(tmp_path / "d", cache_dir)
    assert entries(cache_dir) == []


def test_load_images_uses_the_cache_it_is_given(tree, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "cxrgan"
    log = Log()

    def load_with(cache_dir: Path | None):
        return load_images(tree, 32, demo_images=1, seed=0, workers=1, progress=False,
                           cache_dir=cache_dir, log=log)  # fmt: skip

    data = load_with(resolve_cache_dir(None))  # what --cache-dir's default means
    assert log.has("cache: building ") and str(tmp_path / "xdg" / "cxrgan") in log[0]
    assert data.cache_entry is not None
    explicit = tmp_path / "explicit"
    load_with(resolve_cache_dir(str(explicit)))
    assert explicit.is_dir()
    log.clear()
    data = load_with(None)  # --no-cache
    assert log == [] and data.cache_entry is None and len(data) == 8


def test_load_images_without_a_folder_makes_phantoms() -> None:
    data = load_images(None, 32, demo_images=3, seed=0, cache_dir=Path("/nonexistent"))
    assert data.synthetic and len(data) == 3 and data.images.shape == (3, 32, 32)
