"""Atomic writes: whole file or old file, never half, and readable like a plain open()."""

import os
import stat

import pytest

from cxrgan import files
from cxrgan.files import atomic_path


def test_written_file_has_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "config.json"
    with atomic_path(target) as tmp:
        tmp.write_text("{}")
    assert target.read_text() == "{}"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert list(target.parent.iterdir()) == [target]


def test_failure_keeps_old_content_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "last.safetensors"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("full")))
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_suffix_reaches_writers_that_pick_a_format_from_it(tmp_path):
    from PIL import Image

    target = tmp_path / "grid.png"
    with atomic_path(target, ".png") as tmp:
        assert tmp.suffix == ".png"
        Image.new("L", (4, 4)).save(tmp)
    assert Image.open(target).format == "PNG"
