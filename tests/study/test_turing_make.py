"""`turing make`: a balanced, seeded mix; a page that gives nothing away; the key kept apart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import CLASSES, image_folders, page_data

from cxrgan.cli.main import main
from cxrgan.errors import CxrganError
from cxrgan.study.make import make_study


def test_page_holds_only_opaque_ids_and_images(tmp_path: Path) -> None:
    real, fake = image_folders(tmp_path)
    key = make_study(real, fake, 20, tmp_path / "study", seed=3)
    page = (tmp_path / "study" / "study.html").read_text("utf-8")
    data = page_data(tmp_path / "study" / "study.html")

    assert [i["truth"] for i in key["images"]].count("fake") == 10
    assert [i["truth"] for i in key["images"]].count("real") == 10
    assert [i["id"] for i in data["images"]] == [i["id"] for i in key["images"]]
    assert all(set(i) == {"id", "src"} for i in data["images"])
    assert all(re.fullmatch(r"[0-9a-f]{10}", i["id"]) for i in data["images"])
    assert data["study"] == key["study"]
    # Nothing in the page names a file, a folder, a class or an image's side.
    hints = [str(tmp_path), "patient", "generated_", ".png\"", "key.json", "truth", "source",
             *CLASSES, "normal", "pneumonia"]  # fmt: skip
    lower = page.lower()
    assert [h for h in hints if h.lower() in lower] == []
    assert "real" not in json.dumps(data) and "fake" not in json.dumps(data)
    assert "http://" not in page and "https://" not in page  # no network
    # Real and generated images are the same kind of PNG at the same size.
    assert {len(i["src"]) > 100 for i in data["images"]} == {True}
    sizes = {
        p.stat().st_size > 0 and _png_size(p.read_bytes())
        for p in (tmp_path / "study/images").iterdir()
    }
    assert sizes == {(32, 32)}


def _png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_same_seed_same_study_other_seed_other_order(tmp_path: Path) -> None:
    real, fake = image_folders(tmp_path)
    a = make_study(real, fake, 10, tmp_path / "a", seed=1)
    b = make_study(real, fake, 10, tmp_path / "b", seed=1)
    c = make_study(real, fake, 10, tmp_path / "c", seed=2)
    strip = lambda k: [(i["id"], i["truth"], i["source"]) for i in k["images"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_class_folders_of_fakes_balance_both_halves_by_class(tmp_path: Path) -> None:
    real, fake = image_folders(tmp_path, fake_classes=True)
    key = make_study(real, fake, 12, tmp_path / "study")
    assert key["conditional"]
    for truth in ("real", "fake"):
        classes = [i["class"] for i in key["images"] if i["truth"] == truth]
        assert sorted(classes) == ["NORMAL"] * 3 + ["PNEUMONIA"] * 3


def test_unconditional_reals_follow_the_data(tmp_path: Path) -> None:
    real, fake = image_folders(tmp_path)
    key = make_study(real, fake, 24, tmp_path / "study")  # all 12 reals
    reals = [i for i in key["images"] if i["truth"] == "real"]
    assert len({i["source"] for i in reals}) == 12


def test_too_few_images_and_an_existing_study_are_clear_errors(tmp_path: Path) -> None:
    real, fake = image_folders(tmp_path, n_fake=4)
    with pytest.raises(CxrganError, match="need 10 readable fake images"):
        make_study(real, fake, 20, tmp_path / "study")
    make_study(real, fake, 8, tmp_path / "ok")
    with pytest.raises(CxrganError, match="already holds a study"):
        make_study(real, fake, 8, tmp_path / "ok")


def test_cli_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real, fake = image_folders(tmp_path)
    out = tmp_path / "study"
    assert main(["turing", "make", "--real", str(real), "--fake", str(fake), "--n", "10",
                 "--out", str(out)]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert "10 images (5 real, 5 generated) at 32 px" in said
    assert (out / "study.html").is_file() and (out / "key.json").is_file()
