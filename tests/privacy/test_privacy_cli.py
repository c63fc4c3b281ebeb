"""`cxrgan privacy` end to end on a tiny conditional run: privacy.json and the ROC plot inside
the run, per class; the export bundle's white-box skip; one line for every bad input."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pytest
from privacy_helpers import film_folder

from cxrgan.cli.main import main
from cxrgan.privacy.card import privacy_card_lines

NOT_AUDITED = "Not audited (`cxrgan privacy` writes privacy.json)."

FAST = ["--n-generated", "64", "--bootstrap", "100", "--no-progress", "--no-cache"]
ATTACKS = ["white_box", "black_box_features", "black_box_pixels"]


def argv(run: Path, train: Path, heldout: Path, *extra: str) -> list[str]:
    return ["privacy", str(run), "--train", str(train), "--heldout", str(heldout), *FAST, *extra]


def refused(capsys, args: list[str]) -> str:
    """The one line a refused command prints (exit status 2)."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_audit_writes_json_and_plot_inside_the_run(audited, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # the default outputs go into the run, never the cwd
    run = audited["run"]
    assert main(argv(run, audited["train"], audited["heldout"])) == 0
    printed = capsys.readouterr().out
    p = json.loads((run / "privacy.json").read_text())
    assert (run / "plots" / "privacy_roc.png").stat().st_size > 10_000
    assert os.listdir(tmp_path) == []
    assert p["settings"]["n_generated"] == 64 and p["settings"]["bootstrap"] == 100
    assert p["classes"] == ["NORMAL", "PNEUMONIA"]
    assert p["counts"]["members"] == 40 and p["counts"]["nonmembers"] == 40
    assert p["counts"]["classes"]["NORMAL"] == {"members": 20, "nonmembers": 20}
    assert p["counts"]["patients"] == {"train": 40, "heldout": 40}
    assert list(p["attacks"]) == ATTACKS  # no --reference: no calibrated attacks
    for a in p["attacks"].values():
        assert a["skipped"] is None
        for s in [a["overall"], *a["classes"].values()]:
            lo, hi = s["ci95"]
            assert 0 <= lo <= s["auc"] <= hi <= 1 and 0 <= s["tpr_at_1pct_fpr"] <= 1
        assert a["classes"]["PNEUMONIA"]["n_members"] == 20
    # one step of training on phantoms memorises nothing: chance is inside every interval
    assert p["verdict"]["level"] in ("no evidence", "inconclusive")
    assert f"verdict: {p['verdict']['text']}" in printed
    report = (run / "report.html").read_text()  # refreshed: its Privacy section
    assert 'id="privacy"' in report and "privacy_roc.png" in report
    assert html.escape(p["verdict"]["text"], quote=False) in report
    card = "\n".join(privacy_card_lines(run))  # what the model card's Privacy section shows
    assert card.startswith("## Privacy\n\nMembership-inference audit (`cxrgan privacy`")
    assert "Attacks on 40 training and 40 held-out films" in card
    s = p["attacks"]["black_box_pixels"]["overall"]
    assert f"| {s['auc']:.3f} \\[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}\\] |" in card
    assert privacy_card_lines(tmp_path) == ["## Privacy", "", NOT_AUDITED, ""]


def test_json_option_and_reference_add_the_calibrated_attacks(audited, tmp_path, capsys) -> None:
    out = tmp_path / "elsewhere" / "p.json"
    run, reference = audited["run"], audited["root"] / "run"  # the same run is refused ...
    args = argv(run, audited["train"], audited["heldout"], "--reference", str(reference))
    assert "--reference is the audited run" in refused(capsys, args)
    bundle = tmp_path / "bundle"  # ... its export (G only) serves as a stand-in reference
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    args = argv(run, audited["train"], audited["heldout"], "--reference", str(bundle))
    assert main([*args, "--json", str(out)]) == 0
    p = json.loads(out.read_text())
    assert list(p["attacks"]) == [*ATTACKS, *(f"{a}_calibrated" for a in ATTACKS)]
    skipped = p["attacks"]["white_box_calibrated"]["skipped"]
    assert skipped == (
        "skipped: the reference has no discriminator (an export bundle holds the generator "
        "only, not the discriminator)"
    )
    assert p["attacks"]["black_box_pixels_calibrated"]["overall"]["n_members"] == 40
    assert p["reference"]["kind"] == "bundle"


def test_a_bundle_is_audited_black_box_only(audited, tmp_path, capsys) -> None:
    bundle = tmp_path / "bundle"
    assert main(["export", str(audited["run"]), "--out", str(bundle)]) == 0
    capsys.readouterr()
    assert main(argv(bundle, audited["train"], audited["heldout"])) == 0
    printed = capsys.readouterr().out
    p = json.loads((bundle / "privacy.json").read_text())
    white = p["attacks"]["white_box"]
    assert white["skipped"] == (
        "skipped: an export bundle holds the generator only, not the discriminator"
    )
    assert "overall" not in white and p["attacks"]["black_box_features"]["overall"]["auc"] >= 0
    assert f"white-box: D's logit (LOGAN): {white['skipped']}" in printed


def test_shared_patients_are_refused_naming_them(audited, tmp_path, capsys) -> None:
    leaky = film_folder(tmp_path / "leaky", range(30, 70), seed=1)  # persons 30-39 trained on
    err = refused(capsys, argv(audited["run"], audited["train"], leaky))
    assert "--train and --heldout share 10 patient(s) (person30, person31, person32, person33, " \
           "person34 and 5 more)" in err  # fmt: skip
    same = refused(capsys, argv(audited["run"], audited["train"], audited["train"]))
    assert "--heldout is the --train folder" in same


def test_a_film_in_both_folders_is_refused(audited, tmp_path, capsys) -> None:
    held = tmp_path / "held"
    film_folder(held, range(100, 140), seed=1)
    src = next((audited["train"] / "NORMAL").glob("*.png"))
    (held / "NORMAL" / "scan.png").symlink_to(src)  # no patient id in its name, same file
    assert "share 1 film(s)" in refused(capsys, argv(audited["run"], audited["train"], held))


def test_too_few_films_are_refused_with_the_minimum(audited, tmp_path, capsys) -> None:
    few = film_folder(tmp_path / "few", range(200, 224), per_class=12, seed=2)
    err = refused(capsys, argv(audited["run"], audited["train"], few))
    assert err.endswith(
        "too few films for the bootstrap of class NORMAL: 20 in --train and 12 in --heldout; "
        "the audit needs at least 20 of each (more for a useful interval, docs/privacy.md)"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--checkpoint", "nope"], "no checkpoint 'nope'"),
        (["--reference", "/no/such/run"], "--reference /no/such/run does not exist"),
    ],
)
def test_bad_inputs_get_one_line(audited, capsys, extra: list[str], message: str) -> None:
    args = argv(audited["run"], audited["train"], audited["heldout"], *extra)
    assert message in refused(capsys, args)


def test_missing_folders_and_non_runs_get_one_line(audited, tmp_path, capsys) -> None:
    run, train = audited["run"], audited["train"]
    assert "--heldout /nope does not exist" in refused(capsys, argv(run, train, Path("/nope")))
    err = refused(capsys, argv(tmp_path, train, audited["heldout"]))
    assert "is neither a run (no config.json) nor an export bundle" in err
    with pytest.raises(SystemExit) as exit_:  # argparse: --heldout is required
        main(["privacy", str(run), "--train", str(train)])
    assert exit_.value.code == 2
    assert "the following arguments are required: --heldout" in capsys.readouterr().err
