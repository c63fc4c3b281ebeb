"""`turing score` against hand-computed values: two scripted readers, one at chance (calls
everything fake: right on exactly half) and one always right, on a study of 10 real and 10
generated images; and the statistics on textbook examples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import answers_file, image_folders

from cxrgan.cli.main import main
from cxrgan.errors import CxrganError
from cxrgan.study.make import make_study
from cxrgan.study.score import score_study
from cxrgan.study.stats import binom_two_sided, cohen_kappa, fleiss_kappa, roc_auc


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, dict]:
    real, fake = image_folders(tmp_path)
    key = make_study(real, fake, 20, tmp_path / "study", seed=0)
    return tmp_path / "study", key


def _right(image: dict) -> tuple[str, int]:
    return ("F" if image["truth"] == "fake" else "R"), 5


def _all_fake(image: dict) -> tuple[str, int]:
    return "F", 3


def test_two_scripted_readers(study: tuple[Path, dict], tmp_path: Path) -> None:
    folder, key = study
    files = [
        answers_file(tmp_path / "chance.json", key, "chance", _all_fake),
        answers_file(tmp_path / "right.json", key, "right", _right),
    ]
    s = score_study(folder, files)
    chance, right = s["readers"]
    # Chance: 10 of 20 right. P(X = 10) is the binomial's mode, so every outcome is at most as
    # likely: p = 1. All fakes caught, no real called real; one rating for all: AUC 1/2.
    assert (chance["answered"], chance["correct"], chance["accuracy"]) == (20, 10, 0.5)
    assert (chance["sensitivity"], chance["specificity"]) == (1.0, 0.0)
    assert chance["p_value"] == pytest.approx(1.0)
    assert chance["auc"] == 0.5
    # Always right: 20 of 20; p = P(20) + P(0) = 2 / 2**20.
    assert (right["correct"], right["accuracy"], right["sensitivity"], right["specificity"]) == (
        20, 1.0, 1.0, 1.0,
    )  # fmt: skip
    assert right["p_value"] == pytest.approx(2 / 2**20, rel=1e-12)
    assert right["auc"] == 1.0
    # Cohen: observed agreement 10/20 (the fakes); chance agreement 0.5·1 + 0.5·0 = 0.5 → κ 0.
    # Fleiss (2 raters): P_i = 1 on the fakes, 0 on the reals → P̄ = 0.5; "F" share 30/40 = 0.75,
    # P_e = 0.75² + 0.25² = 0.625 → κ = (0.5 - 0.625) / 0.375 = -1/3.
    ag = s["agreement"]
    assert ag["pairs"][0]["cohen_kappa"] == pytest.approx(0.0)
    assert ag["fleiss_kappa"] == pytest.approx(-1 / 3)
    assert ag["fleiss_images"] == 20
    assert s["mean_accuracy"] == 0.75
    # Every fake was caught by both; the reals were called fake by one reader in two.
    assert [x["called_fake"] for x in s["fakes_caught"]] == [1.0] * 10
    assert [x["called_fake"] for x in s["reals_called_fake"]] == [0.5] * 10
    assert (folder / "fakes_caught.png").is_file() and (folder / "reals_called_fake.png").is_file()
    on_disk = json.loads((folder / "score.json").read_text())
    assert on_disk["readers"][1]["p_value"] == right["p_value"]
    page = (folder / "score.html").read_text()
    assert "Fleiss" in page and page.count("data:image/png;base64,") == 2


def test_partial_answers_and_a_mid_confidence_reader(study: tuple[Path, dict], tmp_path: Path):
    folder, key = study
    # Answers only the first 8 images in page order; calls them all real, certain.
    first = {i["id"] for i in key["images"][:8]}
    path = answers_file(tmp_path / "a.json", key, "partial", lambda i: ("R", 5))
    data = json.loads(path.read_text())
    data["answers"] = {k: v for k, v in data["answers"].items() if k in first}
    path.write_text(json.dumps(data))
    r = score_study(folder, [path])["readers"][0]
    n_real = sum(i["truth"] == "real" for i in key["images"][:8])
    assert r["answered"] == 8 and r["correct"] == n_real
    assert r["p_value"] == pytest.approx(
        sum(math.comb(8, k) for k in range(9) if math.comb(8, k) <= math.comb(8, n_real)) / 256
    )


def test_answers_to_another_study_are_refused(study: tuple[Path, dict], tmp_path: Path) -> None:
    folder, key = study
    path = answers_file(tmp_path / "a.json", {**key, "study": "other"}, "x", _right)
    with pytest.raises(CxrganError, match="another study"):
        score_study(folder, [path])


def test_cli_score(study: tuple[Path, dict], tmp_path: Path, capsys) -> None:
    folder, key = study
    a = answers_file(tmp_path / "a.json", key, "right", _right)
    assert main(["turing", "score", str(folder), str(a)]) == 0
    out = capsys.readouterr().out
    assert "right: 20 answers, accuracy 1.000 (p=1.91e-06), AUC 1.000" in out


# --- the statistics on published examples ---------------------------------------------------


def test_binomial_two_sided_matches_hand_values() -> None:
    assert binom_two_sided(3, 10) == pytest.approx(2 * (1 + 10 + 45 + 120) / 1024)
    assert binom_two_sided(7, 10) == pytest.approx(0.34375)
    assert binom_two_sided(5, 10) == pytest.approx(1.0)
    assert binom_two_sided(0, 0) == 1.0
    # Asymmetric chance: 2 of 10 at p = 0.3 (scipy.stats.binomtest gives 0.8505...).
    expected = sum(
        q
        for k in range(11)
        if (q := math.comb(10, k) * 0.3**k * 0.7 ** (10 - k))
        <= math.comb(10, 2) * 0.3**2 * 0.7**8 * (1 + 1e-7)
    )
    assert binom_two_sided(2, 10, 0.3) == pytest.approx(expected)


def test_cohen_kappa_textbook() -> None:
    # 50 items: both "yes" 20, A yes B no 5, A no B yes 10, both no 15 (Wikipedia): κ = 0.4.
    a = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["F", "F"], ["F", "F"]) == 1.0


def test_fleiss_kappa_textbook() -> None:
    # Wikipedia's example: 10 items, 14 raters, 5 categories → κ = 0.210.
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    ratings = [[str(c) for c, n in enumerate(row) for _ in range(n)] for row in table]
    assert fleiss_kappa(ratings) == pytest.approx(0.2099, abs=1e-4)


def test_auc_counts_ties_half() -> None:
    assert roc_auc([5, 3], [-5, 3]) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert roc_auc([], [1]) is None
