"""benchmarks/privacy_table.py's table, targets and figures on made-up rows (nothing trains)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "privacy_table.py"
spec = importlib.util.spec_from_file_location("privacy_table", BENCH)
pt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pt)


def _attack(title, auc, lo, hi, tpr=0.01):
    return {"title": title, "auc": auc, "ci95": [lo, hi], "tpr_at_1pct_fpr": tpr}


def _row(name, minutes, eps, fwd, white, black, spent=None, control=False):
    return {
        "row": name, "title": name, "minutes": minutes, "epsilon_target": eps,
        "epsilon_spent": spent, "control": control, "steps": 100, "images_per_s": 50.0,
        "fwd": fwd, "recall": 0.5,
        "attacks": {"white_box": _attack("white-box", *white),
                    "black_box_pixels": _attack("black-box, pixels", *black)},
        "roc": {"white_box": {"fpr": [0, 0.01, 0.5, 1], "tpr": [0, 0.02, 0.6, 1]}},
    }


ROWS = [
    _row("default-10", 10, None, 0.040, (0.55, 0.52, 0.58), (0.51, 0.48, 0.54)),
    _row("dp10-10", 10, 10.0, 0.080, (0.50, 0.47, 0.53), (0.52, 0.49, 0.59), spent=9.7),
    _row("dp1-10", 10, 1.0, 0.200, (0.49, 0.46, 0.52), (0.50, 0.47, 0.53), spent=0.98),
    _row("control", 20, None, 0.300, (0.97, 0.93, 1.0), (0.71, 0.6, 0.8), control=True),
]


def test_all_targets_met_on_good_rows():
    found = {name: (met, why) for name, met, why in pt.targets(ROWS)}
    assert [met for met, _ in found.values()] == [True, True, True, True]
    control = found["the audit catches the positive control (AUC ≥ 0.8)"][1]
    assert control == "white-box AUC 0.970"  # the strongest attack: highest lower bound
    assert "highest: black-box, pixels of dp10-10, 0.590" in "".join(w for _, w in found.values())
    assert "dp10-10: ×2.00; dp1-10: ×5.00" in found[next(k for k in found if "FWD" in k)][1]


@pytest.mark.parametrize(
    ("index", "change", "missed"),
    [
        (3, {"attacks": {"white_box": _attack("white-box", 0.79, 0.7, 0.85)}}, "positive control"),
        (1, {"epsilon_spent": 10.01}, "spent ε"),
        (2, {"epsilon_spent": None}, "spent ε"),
        (1, {"attacks": {"white_box": _attack("white-box", 0.55, 0.5, 0.61)}}, "upper bound"),
    ],
)
def test_each_target_is_missed_when_its_figure_is(index, change, missed):
    rows = [dict(r) for r in ROWS]
    rows[index] = {**rows[index], **change}
    results = pt.targets(rows)
    assert [name for name, met, _ in results if met is False] == [
        next(name for name, _, _ in results if missed in name)
    ]


def test_missing_rows_are_not_measured_not_met():
    results = pt.targets([ROWS[0]])
    assert [met for _, met, _ in results] == [None, None, None, None]
    assert all("**not measured**" in line for line in pt.target_lines([ROWS[0]]))


def test_the_table_has_a_line_per_row_with_every_attack(tmp_path):
    text = pt.markdown(ROWS, ["measured on test"])
    lines = [x for x in text.splitlines() if x.startswith("| ") and not x.startswith("| ---")]
    assert len(lines) == 1 + len(ROWS)
    assert "white-box: AUC [95 %] / TPR@1%FPR" in lines[0] and "black-box, pixels" in lines[0]
    assert lines[2] == ("| dp10-10 | 10 | 9.700 | 10 | 100 | 50.0 | 0.0800 | 0.500 | "
                        "0.500 [0.470, 0.530] / 0.010 | 0.520 [0.490, 0.590] / 0.010 |")
    assert lines[1].split(" | ")[1:3] == ["—", "—"]  # no DP: no target, nothing spent
    pt.plot_roc(ROWS, tmp_path / "roc.png")
    pt.plot_tradeoff(ROWS, tmp_path / "tradeoff.png")
    assert (tmp_path / "roc.png").stat().st_size > 10_000
    assert (tmp_path / "tradeoff.png").stat().st_size > 10_000
