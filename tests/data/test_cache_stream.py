"""The streamed cache build: images go to disk a chunk at a time, and training reads the
memory-mapped entry without copying it (docs/performance.md, Scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from image_factory import write_image
from tiny import TINY_CONFIG

from cxrgan.config import TrainConfig
from cxrgan.data import npy_stream
from cxrgan.data.folder import load_folder
from cxrgan.data.npy_stream import NpyRowWriter
from cxrgan.metrics.memorisation import thumbnails
from cxrgan.training import quality as quality_mod
from cxrgan.training import setup as setup_mod
from cxrgan.training.session import start_run


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "xrays"
    for i in range(6):
        write_image(root / "NORMAL" / f"n{i}.png", 40, 44, seed=i)
        write_image(root / "PNEUMONIA" / f"p{i}.jpg", 48, 36, seed=20 + i)
    (root / "NORMAL" / "n2-broken.png").write_text("not a png")  # mid-stream: rows shift
    return root


def test_npy_writer_shrinks_to_the_rows_written(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).integers(0, 256, (7, 5, 5), dtype=np.uint8)
    writer = NpyRowWriter(tmp_path / "a.npy", capacity=10, size=5, chunk_bytes=2 * 25)
    writer.extend(rows)
    assert writer.close() == 7 and writer.chunks_written == 4  # 2 + 2 + 2 + 1 rows
    back = np.load(tmp_path / "a.npy")  # a plain load: the header says 7 rows
    np.testing.assert_array_equal(back, rows)
    assert (tmp_path / "a.npy").stat().st_size == writer.offset + 7 * 25
    with pytest.raises(ValueError, match="more than the 2 rows"):
        NpyRowWriter(tmp_path / "b.npy", 2, 5).extend(rows[:3])


def test_chunked_build_equals_the_in_memory_decode(tree, tmp_path, monkeypatch) -> None:
    written: list[int] = []
    close = NpyRowWriter.close

    def counting(self: NpyRowWriter) -> int:
        rows = close(self)
        written.append(self.chunks_written)
        return rows

    monkeypatch.setattr(NpyRowWriter, "close", counting)
    monkeypatch.setattr(npy_stream, "CHUNK_BYTES", 3 * 32 * 32)  # 3 images per write
    plain = load_folder(tree, 32, workers=1, progress=False)
    cached = load_folder(tree, 32, workers=1, progress=False, cache_dir=tmp_path / "c")
    assert written == [4]  # 12 readable images: four chunks of three
    assert isinstance(cached.images, np.memmap) and not isinstance(plain.images, np.memmap)
    assert cached.images.dtype == np.uint8 and cached.images.shape == (12, 32, 32)
    np.testing.assert_array_equal(np.asarray(cached.images), plain.images)  # bit-identical
    assert cached.paths == plain.paths and cached.skipped == plain.skipped
    assert cached.labels.tolist() == plain.labels.tolist()
    again = load_folder(tree, 32, workers=1, progress=False, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(np.asarray(again.images), plain.images)


def test_thumbnails_in_chunks_equal_all_at_once() -> None:
    images = np.random.default_rng(1).integers(0, 256, (9, 40, 40), dtype=np.uint8)
    whole = thumbnails(images, 8, chunk=100)
    assert torch.equal(thumbnails(images, 8, chunk=4), whole)


def _mapped_file(address: int) -> str:
    """The file whose mapping holds this address in this process ('' if anonymous)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        if lo <= address < hi:
            return fields[5].strip() if len(fields) == 6 else ""
    return ""


def test_training_from_a_cache_entry_reads_batches_from_the_memmap(tree, tmp_path, monkeypatch):
    samplers: list = []

    class Recording(setup_mod.BatchSampler):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            samplers.append(self)

    monkeypatch.setattr(setup_mod, "BatchSampler", Recording)
    cfg = {**TINY_CONFIG, "image_size": 32, "batch_size": 4}
    run = tmp_path / "run"
    start_run(TrainConfig(data=str(tree), out=str(run), epochs=1, steps_per_epoch=3,
                          conditional=True, cache_dir=str(tmp_path / "c"), **cfg))  # fmt: skip
    (sampler,) = samplers
    images = sampler.images
    assert images.dtype == torch.uint8 and tuple(images.shape) == (12, 32, 32)
    # The batches are gathered from the cache file's mapping, not from a copy of it.
    assert _mapped_file(images.data_ptr()).endswith("images.npy")
    assert sampler.pos > 0  # batches were drawn
    assert (run / "checkpoints" / "last.safetensors").is_file()


def test_class_reference_reads_only_the_rows_it_draws(tmp_path: Path) -> None:
    images = np.lib.format.open_memmap(tmp_path / "a.npy", "w+", np.uint8, (24, 16, 16))
    images[:] = np.random.default_rng(2).integers(0, 256, images.shape, dtype=np.uint8)
    labels = np.arange(24) % 3
    rows = quality_mod.ClassRows(images, np.flatnonzero(labels == 1))
    assert len(rows) == 8
    np.testing.assert_array_equal(rows[np.array([0, 3])], images[[1, 10]])
    ref = quality_mod.ClassReference.build(images, labels, ("a", "b", "c"), n=4, seed=0)
    copied = quality_mod.QualityEvaluator(images[labels == 1], n=4, seed=0)  # the old way
    assert ref.evaluators[1].fwd_floor == copied.fwd_floor
