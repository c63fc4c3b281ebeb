"""Fault injection, bad input: settings that are not finite numbers, non-finite numbers in the
JSON files a run writes, and file names that would forge a log line (docs/reliability.md).

Each bad setting is refused in one line with exit status 2 before anything is written; every
JSON file stays strict JSON (RFC 8259: no NaN or Infinity literals); a name is printed with its
control characters escaped.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from PIL import Image
from tiny import TINY_ARGS

from cxrgan.cli.main import main
from cxrgan.config import SETTINGS
from cxrgan.errors import printable
from cxrgan.files import json_ready, json_text
from cxrgan.reporting.diagnose import diagnose_run
from cxrgan.training.rundir import EXIT_DIVERGED

TINY = [*TINY_ARGS, "--no-cache", "--log-every", "1"]
FLOATS = [s for s in SETTINGS if s.kind is float]


def _strict(text: str):
    """json.loads as a strict reader (a browser's JSON.parse, jq): NaN and Infinity refused."""

    def refuse(literal: str):
        raise ValueError(f"{literal} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _refused(capsys, argv: list[str]) -> str:
    """The one line on stderr of a command that exits 2."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


# ------------------------------------------------------------------------------------------------
# Settings: finite numbers in their declared ranges, checked before anything is written


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_rate_is_one_line_and_leaves_no_run_folder(tmp_path, capsys, value):
    run = tmp_path / "run"
    err = _refused(capsys, ["train", *TINY, f"--g-lr={value}", "--out", str(run)])
    assert err == f"cxrgan train: error: --g-lr must be a finite number, got {value}"
    toml = tmp_path / "c.toml"
    toml.write_text(f"g_lr = {value}\n")
    err = _refused(capsys, ["train", *TINY, "--config", str(toml), "--out", str(run)])
    assert err == f"cxrgan train: error: {toml}: g_lr must be a finite number, got {value}"
    assert not run.exists()


@pytest.mark.parametrize("s", FLOATS, ids=lambda s: s.name)
def test_every_float_option_refuses_nan_and_infinity(tmp_path, capsys, s):
    for value in ("nan", "inf"):
        err = _refused(capsys, ["train", s.flag, value, "--out", str(tmp_path / "r")])
        assert err.endswith(f"{s.flag} must be a finite number, got {value}")
    assert not (tmp_path / "r").exists()


def test_a_non_finite_rate_on_resume_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*argv, "--out", str(run)]) == 0
    before = {p: p.read_bytes() for p in (run / "config.json", run / "metrics.jsonl")}
    capsys.readouterr()
    err = _refused(capsys, ["train", "--resume", str(run), "--epochs", "2", "--g-lr", "nan"])
    assert err.endswith("--g-lr must be a finite number, got nan")
    assert {p: p.read_bytes() for p in before} == before


# ------------------------------------------------------------------------------------------------
# Strict JSON: non-finite numbers are written as null, and readers take null as missing


def test_json_text_writes_non_finite_numbers_as_null():
    value = {"a": math.nan, "b": [1.5, math.inf, -math.inf], "c": {"d": np.float64("nan")},
             "e": np.float32(0.5), "f": np.int64(3), 4: "four", "g": (None, True, "x")}  # fmt: skip
    text = json_text(value)
    assert _strict(text) == {"a": None, "b": [1.5, None, None], "c": {"d": None}, "e": 0.5,
                             "f": 3, "4": "four", "g": [None, True, "x"]}  # fmt: skip
    assert json_ready(value)["b"] == [1.5, None, None]
    assert json_text({"x": 1}, indent=2) == '{\n  "x": 1\n}'


def test_nan_losses_are_logged_as_null_and_every_json_file_is_strict(tmp_path, capsys):
    """A rate far too high (finite, so accepted) makes G's weights overflow: the losses of the
    next step are NaN, logged as null; the run stops as diverged and diagnose still says so."""
    run = tmp_path / "run"
    argv = ["train", *TINY, "--demo-images", "32", "--epochs", "1", "--steps-per-epoch", "4"]
    assert main([*argv, "--g-lr", "1e30", "--on-nan", "stop", "--out", str(run)]) == EXIT_DIVERGED
    records = [_strict(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["loss_g"] is None and records[-1]["loss_d"] is None
    assert all(r["loss_g"] is not None for r in records[:-1])
    stopped = _strict((run / "config.json").read_text())["stopped"]
    assert stopped["reason"] == f"diverged: non-finite loss at step {records[-1]['step']}"
    for path in run.rglob("*.json"):
        _strict(path.read_text())
    assert diagnose_run(run).state == "diverged"  # a null loss reads as not finite
    capsys.readouterr()
    assert main(["report", str(run)]) == 0


# ------------------------------------------------------------------------------------------------
# Names with control characters cannot forge a log line

FORGED = "2026-12-07T00:00:00+00:00 completed: all good"


def test_printable_escapes_what_would_break_a_line_and_keeps_the_rest():
    assert printable("NORMAL/ä b.png") == "NORMAL/ä b.png"
    assert printable(f"evil\n{FORGED}.jpeg") == f"evil\\n{FORGED}.jpeg"
    assert printable("a\rb\tc\x1b[2J\u202ed\u2028") == "a\\rb\\tc\\x1b[2J\\u202ed\\u2028"
    assert printable("undecodable \udcff") == "undecodable \\udcff"  # os.fsdecode of a bad byte
    assert printable(printable("x\ny")) == printable("x\ny")


def test_a_newline_in_a_file_name_cannot_forge_a_train_log_line(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(20):
        pixels = rng.integers(0, 255, (40, 40), dtype=np.uint8)
        Image.fromarray(pixels).save(data / "A" / f"{i}.png")
    (data / "A" / f"evil\n{FORGED}.jpeg").write_bytes(b"")
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), *TINY, "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*argv, "--out", str(run)]) == 0
    log = (run / "train.log").read_text().splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d ")
    assert all(stamp.match(line) for line in log), log
    assert not any(line.startswith(FORGED[:25]) for line in log), log
    skipped = f"  skipped A/evil\\n{FORGED}.jpeg: empty file (0 bytes)"
    assert any(line.endswith(skipped) for line in log), log
    out = capsys.readouterr().out.splitlines()
    assert skipped in out
    assert not any(line.startswith(FORGED[:25]) for line in out)


def test_a_conditional_class_of_two_images_is_warned_about(tmp_path, capsys):
    """--conditional with a class far below the documented minimum trains, with one warning
    line per such class on stderr and in train.log."""
    rng = np.random.default_rng(0)
    for name, count in (("NORMAL", 2), ("PNEUMONIA", 40)):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (36, 36), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / name / f"{i}.png")
    run = tmp_path / "run"
    rc = main(["train", *TINY, "--data", str(tmp_path / "data"), "--conditional", "--epochs", "1",
               "--steps-per-epoch", "1", "--out", str(run)])  # fmt: skip
    assert rc == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("warning: --conditional")]
    assert warned == [
        "warning: --conditional: class 'NORMAL' has 2 image(s), fewer than 100: its samples "
        "will likely copy its training images and its per-class FWD is noise at that size; "
        "gather more, or merge it into another class",
        "warning: --conditional: class 'PNEUMONIA' has 40 image(s), fewer than 100: its samples "
        "will likely copy its training images and its per-class FWD is noise at that size; "
        "gather more, or merge it into another class",
    ]
    assert warned[0] in (run / "train.log").read_text()
