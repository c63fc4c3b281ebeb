"""`cxrgan sweep`: grid expansion, naming, resume decisions, ranking, and real sweeps end to end.

The end-to-end tests run the sweep the way a user does (`python -m cxrgan sweep ...` in a
subprocess, members as sub-subprocesses) with TINY settings; each member costs mostly the
interpreter start and `import torch`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cxrgan.cli.main import build_parser, main
from cxrgan.cli.sweep import spec_from_args
from cxrgan.config import load_toml
from cxrgan.errors import CxrganError
from cxrgan.reporting.plots import save_grid
from cxrgan.sweep.folder import open_sweep, write_sweep
from cxrgan.sweep.grid import format_value, member_name, parse_sweep_param, parse_values
from cxrgan.sweep.rank import TIER_BROKEN, TIER_IMBALANCED, TIER_OK, summarise
from cxrgan.sweep.resume import Plan, checkpoint_counters, decide, remove_incomplete
from cxrgan.sweep.runner import child_env, member_command, thread_budget, write_member_config
from cxrgan.sweep.session import compare_only
from cxrgan.sweep.spec import SweepSpec, build_spec, steps_budget

REPO = Path(__file__).resolve().parents[2]
TINY = ["--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16", "--batch-size", "16",
        "--demo-images", "64", "--device", "cpu", "--no-progress"]  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Values, names, grid


def test_values_are_parsed_with_train_option_types():
    assert parse_values("g_lr", "2e-4, 1e-3,2e-3") == [2e-4, 1e-3, 2e-3]
    assert parse_values("batch_size", "16,32") == [16, 32]
    assert all(type(v) is int for v in parse_values("batch_size", "16,32"))
    assert parse_values("model", "dcgan") == ["dcgan"]
    assert parse_sweep_param("batch-size=64,128") == ("batch_size", [64, 128])
    assert parse_sweep_param("hflip=true,false") == ("hflip", [True, False])
    for bad, message in [
        ("g_lr=abc", "not a number"),
        ("batch_size=1.5", "not a whole number"),
        ("g_lr=1e-3,,2e-3", "comma-separated"),
        ("g_lr=1e-3,0.001", "listed twice"),
        ("g_lr=1e-3,nan", "^--g-lr must be a finite number, got nan$"),
        ("g_lr=nan,nan", "^--g-lr must be a finite number, got nan$"),
        ("d_lr=0,1e-3", "^--d-lr must be positive, got 0$"),
        ("batch_size=16,0", "^--batch-size must be at least 1, got 0$"),
        ("learning_rate=1", "unknown setting"),
        ("out=a,b", "cannot be swept"),
        ("g_lr", "name=v1,v2"),
    ]:
        with pytest.raises(CxrganError, match=message):
            parse_sweep_param(bad)


def test_a_list_setting_is_one_value_and_semicolons_separate_members(tmp_path):
    # --track, --classes and --view hold comma lists: `--classes "No Finding,Effusion"` is one
    # member's two classes, not two members of one class each
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("path,label\n")
    args = build_parser().parse_args(
        ["sweep", "--out", str(tmp_path / "S"), "--g-lr", "1e-3", "--d-lr", "2e-4",
         "--track", "tensorboard,mlflow", "--data", str(tmp_path / "images"),
         "--labels", str(tmp_path / "labels.csv"),
         "--classes", "No Finding,Effusion;No Finding", "--view", "PA,AP"]
    )  # fmt: skip
    spec = spec_from_args(args)
    assert spec is not None
    assert spec.grid["classes"] == ["No Finding,Effusion", "No Finding"]
    assert spec.base["track"] == "tensorboard,mlflow"
    assert spec.base["view"] == "PA,AP"
    assert parse_sweep_param("view=PA;PA,AP") == ("view", ["PA", "PA,AP"])
    with pytest.raises(CxrganError, match="semicolon-separated"):
        parse_values("classes", "A;;B")
    with pytest.raises(CxrganError, match=r"takes any of .*got 'nope'"):
        parse_values("track", "tensorboard;tensorboard,nope")
    assert parse_values("g_lr", "2e-4,1e-3") == [2e-4, 1e-3]  # other settings: commas as before


def test_member_names_are_short_exact_and_filesystem_safe():
    assert member_name({"g_lr": 1e-3, "d_lr": 2e-4, "seed": 1}) == "g_lr=1e-3,d_lr=2e-4,seed=1"
    assert member_name({"beta1": 0.5, "hflip": True}) == "beta1=0.5,hflip=true"
    assert member_name({"g_lr": 1.2345e-4}) == "g_lr=1.2345e-4"
    assert member_name({"data": "/x/y/chest xray/train"}) == "data=train"
    assert member_name({"model": "a/b c"}) == "model=a_b_c"
    for value in (2e-4, 1e-3, 3.3e-5, 0.5, 1234.5, 1e5):  # the name reads back as the value
        assert float(format_value(value)) == value


def test_grid_is_the_cartesian_product_in_train_field_order():
    spec = build_spec(
        {"seed": [1, 2], "g_lr": [2e-4, 1e-3, 2e-3], "d_lr": [2e-4]},
        {"epochs": 3, "image_size": 32, "progress": False, "device": "cpu"},
    )
    members = spec.members()
    assert list(spec.grid) == ["g_lr", "d_lr", "seed"]  # TrainConfig order, not typing order
    assert [m.name for m in members] == [
        "g_lr=2e-4,d_lr=2e-4,seed=1", "g_lr=2e-4,d_lr=2e-4,seed=2",
        "g_lr=1e-3,d_lr=2e-4,seed=1", "g_lr=1e-3,d_lr=2e-4,seed=2",
        "g_lr=2e-3,d_lr=2e-4,seed=1", "g_lr=2e-3,d_lr=2e-4,seed=2",
    ]  # fmt: skip
    expected = {"image_size": 32, "g_lr": 1e-3, "d_lr": 2e-4, "epochs": 3, "seed": 2}
    assert members[3].values == expected
    assert spec.runtime == {"device": "cpu"}  # may change between re-runs, so not in `base`
    assert "progress" not in spec.base


def test_steps_budget_is_split_into_evenly_spaced_epochs():
    assert steps_budget(4) == (4, 1)
    assert steps_budget(95) == (5, 19)  # exact beats more grids
    assert steps_budget(2000) == (10, 200)
    assert steps_budget(1009) == (10, 101)  # a prime: one step over, not 1 grid
    assert steps_budget(10, steps_per_epoch=3) == (4, 3)
    spec = build_spec({"g_lr": [1e-3]}, {"steps_per_epoch": 2}, steps=6)
    assert (spec.base["epochs"], spec.base["steps_per_epoch"], spec.steps) == (3, 2, 6)


@pytest.mark.parametrize(
    ("grid", "base", "steps", "message"),
    [
        ({}, {}, None, "nothing to sweep"),
        ({"g_lr": [1e-3]}, {"g_lr": 2e-4}, None, "both swept and given once"),
        ({"g_lr": [1e-3]}, {"epochs": 2}, 10, "drop --epochs"),
        ({"epochs": [1, 2]}, {}, 10, "drop --epochs"),
        ({"image_size": [32, 33]}, {}, None, "--image-size must be one of"),
        ({"g_lr": [1e-3]}, {"data": "/no/such/folder"}, None, "data folder not found"),
        ({"g_lr": [1e-3]}, {}, 0, "--steps must be at least 1"),
    ],
)
def test_bad_sweeps_are_refused_before_training(grid, base, steps, message):
    with pytest.raises(CxrganError, match=message):
        build_spec(grid, base, steps)


def test_member_config_reads_back_as_the_same_train_settings(tmp_path):
    values = {"g_lr": 2e-4, "d_lr": 1.2345e-4, "batch_size": 16, "hflip": True, "cache": False,
              "fit": "pad", "steps_per_epoch": None, "data": str(tmp_path)}  # fmt: skip
    spec = build_spec({"g_lr": [2e-4]}, {k: v for k, v in values.items() if k != "g_lr"})
    member = spec.members()[0]
    path = write_member_config(member, tmp_path, {**spec.runtime, "device": "cpu"})
    assert path == tmp_path / "runs" / "g_lr=2e-4.toml"
    expected = {k: v for k, v in values.items() if v is not None}
    assert load_toml(path) == {**expected, "device": "cpu", "progress": False}
    start = member_command(member, tmp_path, Plan("start", "new"))
    assert start[-4:] == ["--config", str(path), "--out", str(member.run_dir(tmp_path))]
    resume = member_command(member, tmp_path, Plan("resume", "from step 3"))
    assert resume[-4:] == ["--config", str(path), "--resume", str(member.run_dir(tmp_path))]


# ------------------------------------------------------------------------------------------------
# The sweep folder: spec checks and resume decisions


def _spec(**grid) -> SweepSpec:
    return build_spec(grid or {"g_lr": [2e-4, 1e-3, 2e-3]}, {"epochs": 2, "image_size": 32})


def test_a_different_grid_into_the_same_folder_is_refused(tmp_path):
    spec = _spec()
    write_sweep(tmp_path, summarise(tmp_path, spec, {}, None))
    same_reordered = _spec(g_lr=[2e-3, 2e-4, 1e-3])
    assert open_sweep(tmp_path, same_reordered).grid == spec.grid  # stored order kept
    assert open_sweep(tmp_path, None).identity() == spec.identity()  # `cxrgan sweep SWEEP`
    with pytest.raises(CxrganError, match=r"different sweep \(--g-lr swept over 2e-4,1e-3,2e-3, "
                       r"now 2e-4,1e-3\)"):  # fmt: skip
        open_sweep(tmp_path, _spec(g_lr=[2e-4, 1e-3]))
    other_base = build_spec({"g_lr": [2e-4, 1e-3, 2e-3]}, {"epochs": 3, "image_size": 32})
    with pytest.raises(CxrganError, match="--epochs was 2, now 3"):
        open_sweep(tmp_path, other_base)
    runtime_only = build_spec({"g_lr": [2e-4, 1e-3, 2e-3]},
                                 {"epochs": 2, "image_size": 32, "device": "cpu"})  # fmt: skip
    assert open_sweep(tmp_path, runtime_only).runtime == {"device": "cpu"}


def test_a_folder_that_is_not_a_sweep_is_not_used(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CxrganError, match="not a sweep folder"):
        open_sweep(tmp_path, _spec())
    with pytest.raises(CxrganError, match="holds no sweep"):
        open_sweep(tmp_path, None)


def _checkpoint(run: Path, epoch: int) -> None:
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    meta = {"state": json.dumps({"counters": {"epoch": epoch, "step": 3 * epoch}})}
    save_file({"x": torch.zeros(1)}, str(run / "checkpoints" / "last.safetensors"), metadata=meta)


def _config(run: Path, stopped: str | None = None, epochs: int = 2) -> None:
    run.mkdir(parents=True, exist_ok=True)
    info: dict = {"config": {"epochs": epochs}, "history": []}
    if stopped:
        info["stopped"] = {"reason": stopped}
    (run / "config.json").write_text(json.dumps(info))


def test_resume_decisions(tmp_path):
    runs = tmp_path / "runs"
    assert decide(runs / "new").action == "start"
    _config(runs / "done", "completed")
    assert decide(runs / "done") == Plan("skip", "completed")
    _config(runs / "early", "early_stop: FWD plateaued")
    assert decide(runs / "early").action == "skip"
    _config(runs / "killed")
    _checkpoint(runs / "killed", epoch=1)
    assert decide(runs / "killed") == Plan("resume", "from step 3, 1 epoch(s) done")
    _config(runs / "ctrl-c", "interrupted")
    _checkpoint(runs / "ctrl-c", epoch=1)
    assert decide(runs / "ctrl-c").action == "resume"
    _config(runs / "all-epochs")  # killed after the last checkpoint, before `stopped`
    _checkpoint(runs / "all-epochs", epoch=2)
    assert decide(runs / "all-epochs").action == "skip"
    _config(runs / "early-death")
    (runs / "early-death" / "samples").mkdir()
    assert decide(runs / "early-death") == Plan("restart", "no checkpoint yet")


def test_only_checkpointless_member_folders_are_deleted(tmp_path):
    runs = tmp_path / "runs"
    _config(runs / "a")
    (runs / "a" / "train.log").write_text("x")
    remove_incomplete(runs / "a", runs)
    assert not (runs / "a").exists()

    _config(runs / "b")
    _checkpoint(runs / "b", epoch=1)
    with pytest.raises(CxrganError, match="it has checkpoints/last"):
        remove_incomplete(runs / "b", runs)
    _config(runs / "c")
    (runs / "c" / "my-notes.txt").write_text("keep")
    with pytest.raises(CxrganError, match=r"my-notes\.txt"):
        remove_incomplete(runs / "c", runs)
    _config(tmp_path / "elsewhere")
    with pytest.raises(CxrganError, match="not a member folder"):
        remove_incomplete(tmp_path / "elsewhere", runs)
    assert (runs / "b").is_dir() and (runs / "c").is_dir() and (tmp_path / "elsewhere").is_dir()


def test_threads_are_shared_between_jobs(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    assert [thread_budget(j) for j in (1, 2, 3, 16)] == [8, 4, 2, 1]
    env = child_env(3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"


# ------------------------------------------------------------------------------------------------
# Comparison and ranking on hand-made runs (exact numbers, no training)


def _records(n: int, d_x: float, d_g_z: float, loss_d: float, loss_g: float) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        wobble = 1 + 0.02 * rng.standard_normal()
        out.append({"step": 10 * (i + 1), "epoch": 1 + i // 10, "loss_d": loss_d * wobble,
                    "loss_g": loss_g * wobble, "d_x": d_x, "d_g_z1": d_g_z, "d_g_z2": d_g_z,
                    "lr_g": 1e-3, "lr_d": 2e-4})  # fmt: skip
    return out


def fake_run(run: Path, records: list[dict], evals: list[dict] = (), stopped="completed") -> None:
    """A run folder as `cxrgan train` leaves it, with the given metrics."""
    _config(run, stopped, epochs=3)
    lines = [json.dumps(r) for r in [*records, *evals]]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    grid = np.random.default_rng(len(records)).uniform(-1, 1, (16, 1, 8, 8))
    for epoch in (1, 3):
        save_grid(grid, run / "samples" / f"epoch_{epoch:04d}.png")


def _fake_sweep(tmp_path: Path) -> tuple[Path, SweepSpec]:
    spec = build_spec({"g_lr": [2e-4, 1e-3, 2e-3, 5e-3, 1e-2]}, {"epochs": 3, "image_size": 32})
    sweep = tmp_path / "sweep"
    names = [m.name for m in spec.members()]
    runs = {name: sweep / "runs" / name for name in names}
    # 2e-4: D overpowers G (D(x) → 1, D(G(z)) → 0, loss_D ≈ 0, loss_G high): imbalanced.
    fake_run(runs[names[0]], _records(30, 0.99, 0.01, 0.02, 6.0))
    # 1e-3: a balanced game.
    fake_run(runs[names[1]], _records(30, 0.70, 0.30, 1.0, 1.5))
    # 2e-3: closer to balance but stopped early (Ctrl-C): ranks after every finished member.
    fake_run(runs[names[2]], _records(30, 0.60, 0.45, 1.2, 1.1), stopped="interrupted")
    # 5e-3: NaN at the end: broken.
    nan = _records(30, 0.70, 0.30, 1.0, 1.5)
    nan[-1].update(loss_d=math.nan, loss_g=math.inf)
    fake_run(runs[names[3]], nan)
    # 1e-2: never started.
    write_sweep(sweep, {"spec": spec.to_dict(), "members": []})
    return sweep, spec


def _no_nan(token: str) -> None:
    raise AssertionError(f"sweep.json must be strict JSON (browsers read it), found {token}")


def test_loss_heuristic_ranks_balanced_before_imbalanced_before_broken(tmp_path):
    sweep, _ = _fake_sweep(tmp_path)
    result = compare_only(sweep, echo=lambda _: None)
    summary = json.loads((sweep / "sweep.json").read_text(), parse_constant=_no_nan)
    assert summary["ranked_by"] == "loss_heuristic" and result.completed is False
    by_rank = [(m["rank"], m["params"]["g_lr"], m["status"]) for m in summary["members"]]
    assert by_rank == [
        (1, 1e-3, "done"), (2, 2e-4, "done"), (3, 5e-3, "done"),
        (4, 2e-3, "interrupted"), (5, 1e-2, "pending"),
    ]  # fmt: skip
    m = {x["params"]["g_lr"]: x for x in summary["members"]}
    assert m[1e-3]["score"] == pytest.approx(0.40)
    assert m[2e-4]["score"] == pytest.approx(0.98)
    assert m[1e-3]["diagnosis"]["state"] == "healthy" and m[1e-3]["tier"] == TIER_OK
    assert m[2e-4]["diagnosis"]["state"] == "d_overpowers_g"
    assert m[2e-4]["tier"] == TIER_IMBALANCED
    assert m[5e-3]["score"] is None and m[5e-3]["tier"] == TIER_BROKEN
    assert m[5e-3]["final"]["loss_d"] is None  # NaN written as null
    assert m[1e-3]["final"]["step"] == 300 and m[1e-3]["best_fwd"] is None
    assert m[1e-3]["run_dir"] == "runs/g_lr=1e-3" and m[1e-3]["grid"].endswith("epoch_0003.png")
    assert summary["best"] == "g_lr=1e-3"
    for picture in ("grids.png", "losses.png"):
        assert (sweep / picture).stat().st_size > 10_000


def test_fwd_ranks_when_members_have_it(tmp_path):
    sweep, spec = _fake_sweep(tmp_path)
    names = [m.name for m in spec.members()]
    evals = [{"step": 100, "epoch": 1, "fwd": 40.0, "kid_mean": 0.1, "kid_std": 0.01},
             {"step": 200, "epoch": 2, "fwd": 12.5, "kid_mean": 0.05, "kid_std": 0.01},
             {"step": 300, "epoch": 3, "fwd": 15.0, "kid_mean": 0.06, "kid_std": 0.01}]  # fmt: skip
    # The imbalanced member has the best images: FWD outranks the loss heuristic.
    fake_run(sweep / "runs" / names[0], _records(30, 0.99, 0.01, 0.02, 6.0), evals)
    lines: list[str] = []
    summary = compare_only(sweep, echo=lines.append).summary
    assert summary["ranked_by"] == "best_fwd"
    first, second = summary["members"][:2]
    assert (first["name"], first["best_fwd"], first["best_fwd_step"]) == ("g_lr=2e-4", 12.5, 200)
    assert second["name"] == "g_lr=1e-3" and second["best_fwd"] is None
    table = lines[0]
    assert "best FWD" in table and "12.50" in table and "Ranked by best FWD" in table
    assert lines[1:] == []  # no note that report.html was skipped or failed
    assert "g_lr=2e-4" in (sweep / "report.html").read_text()


def test_conditional_members_rank_by_their_worst_class(tmp_path):
    sweep, spec = _fake_sweep(tmp_path)
    names = [m.name for m in spec.members()]

    def evals(overall: list[float], worst: list[float]) -> list[dict]:
        return [{"step": 100 * (i + 1), "epoch": i + 1, "fwd": f, "kid_mean": 0.1,
                 "per_class": {"a": {"fwd": f}, "b": {"fwd": w}}, "fwd_worst_class": w}
                for i, (f, w) in enumerate(zip(overall, worst, strict=True))]  # fmt: skip

    # Member 0 has the better overall FWD but a class that collapsed; member 1's worst class
    # is better, so it ranks first, by its best worst-class FWD and that evaluation's step.
    fake_run(sweep / "runs" / names[0], _records(30, 0.6, 0.4, 0.3, 2.0), evals([5, 4], [30, 40]))
    fake_run(sweep / "runs" / names[1], _records(30, 0.6, 0.4, 0.3, 2.0), evals([9, 8], [12, 10]))
    summary = compare_only(sweep, echo=lambda _line: None).summary
    first, second = summary["members"][:2]
    assert (first["name"], first["best_fwd"], first["best_fwd_step"]) == (names[1], 10, 200)
    assert (second["name"], second["best_fwd"], second["best_fwd_step"]) == (names[0], 30, 100)


# ------------------------------------------------------------------------------------------------
# Real sweeps, end to end, in subprocesses


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


def test_three_member_sweep_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "sweep"
    # The sweep runs in this process (its members are subprocesses): one interpreter fewer.
    rc = main(["sweep", "--out", str(out), "--g-lr", "2e-4,1e-3,2e-3", "--d-lr", "2e-4",
               "--epochs", "1", "--steps-per-epoch", "4", "--log-every", "1", "--jobs", "3",
               *TINY])  # fmt: skip
    table = capsys.readouterr().out
    assert rc == 0, table
    summary = json.loads((out / "sweep.json").read_text())
    names = ["g_lr=2e-4,d_lr=2e-4", "g_lr=1e-3,d_lr=2e-4", "g_lr=2e-3,d_lr=2e-4"]
    assert sorted(m["name"] for m in summary["members"]) == sorted(names)
    assert [m["rank"] for m in summary["members"]] == [1, 2, 3]
    assert {m["status"] for m in summary["members"]} == {"done"}
    assert summary["ranked_by"] == "loss_heuristic"
    assert summary["spec"]["grid"] == {"g_lr": [2e-4, 1e-3, 2e-3], "d_lr": [2e-4]}
    for m in summary["members"]:
        run = out / m["run_dir"]
        info = json.loads((run / "config.json").read_text())
        assert info["config"]["g_lr"] == m["params"]["g_lr"] and info["config"]["d_lr"] == 2e-4
        assert info["config"]["progress"] is False
        assert info["stopped"]["reason"] == "completed" and info["stopped"]["step"] == 4
        assert m["final"]["step"] == 4 and m["final"]["lr_g"] == m["params"]["g_lr"]
        assert m["grid"] == f"{m['run_dir']}/samples/epoch_0001.png"
        assert "completed: 1 epoch(s), 4 steps" in (out / m["log"]).read_text()
        # The score is |D(x) − D(G(z))| of the last third of the 4 records (1 record).
        last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
        assert m["score"] == pytest.approx(abs(last["d_x"] - last["d_g_z1"]))
    scores = [m["score"] for m in summary["members"]]
    assert scores == sorted(scores)
    assert (out / "grids.png").stat().st_size > 5_000
    assert (out / "losses.png").stat().st_size > 5_000
    assert "rank  member" in table and "Ranked by the loss heuristic" in table
    for m in summary["members"]:
        assert f"   {m['rank']}  {m['name']}  done" in table
    assert f"best: {summary['members'][0]['name']}" in table

    # The comparison again, without training; a different grid into the same folder is refused.
    (out / "grids.png").unlink()
    assert main(["sweep", str(out), "--compare-only"]) == 0
    assert (out / "grids.png").is_file()
    assert (
        main(
            [
                "sweep",
                "--out",
                str(out),
                "--g-lr",
                "2e-4,1e-3",
                "--d-lr",
                "2e-4",
                "--epochs",
                "1",
                "--steps-per-epoch",
                "4",
                "--log-every",
                "1",
                *TINY,
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "holds a different sweep (--g-lr swept over 2e-4,1e-3,2e-3, now 2e-4,1e-3)" in err


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300, epoch: int = 0) -> None:
    """Until checkpoint `path` exists (and has trained `epoch` epochs: `train` writes `last`
    before its first step too)."""
    deadline = time.monotonic() + timeout
    while (checkpoint_counters(path) or (-1, -1))[0] < epoch:
        assert proc.poll() is None, "the sweep ended before the checkpoint appeared"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


@pytest.mark.shared_data
def test_killed_sweep_resumes_skips_and_finishes(kaggle224, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "sweep"
    # On the real Kaggle split (decoded once into a cache every member shares).
    # Member 2 trains 2 × 100 steps: after its first checkpoint there is an epoch to kill it in.
    args = ["--out", str(out), "--sweep-param", "steps_per_epoch=2,100,3", "--epochs", "2",
            "--g-lr", "1e-3", *TINY, "--data", str(kaggle224),
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    first = subprocess.Popen([sys.executable, "-m", "cxrgan", "sweep", *args], env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # fmt: skip
    runs = out / "runs"
    one, two, three = (runs / f"g_lr=1e-3,steps_per_epoch={n}" for n in (2, 100, 3))
    try:
        _wait_for(two / "checkpoints" / "last.safetensors", first, epoch=1)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the sweep and its member, at once
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    info = json.loads((two / "config.json").read_text())
    assert "stopped" not in info, "member 2 finished before the kill; give it more steps"
    assert not three.exists()
    one_metrics = (one / "metrics.jsonl").read_bytes()
    one_mtime = (one / "metrics.jsonl").stat().st_mtime_ns

    # The same command again (in this process: one interpreter start fewer), now two members
    # at a time: --jobs says how to run, not what, so it may change between runs.
    rc = main(["sweep", *args, "--jobs", "2"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert f"[1/3] skip     {one.name}  (completed)" in printed
    assert f"[2/3] resume   {two.name}  (from step 100, 1 epoch(s) done;" in printed
    assert f"[3/3] start    {three.name}  (new;" in printed
    assert (one / "metrics.jsonl").read_bytes() == one_metrics
    assert (one / "metrics.jsonl").stat().st_mtime_ns == one_mtime
    info = json.loads((two / "config.json").read_text())
    assert [h["event"] for h in info["history"]] == ["start", "resume"]
    assert info["history"][1]["epoch"] == 1 and info["history"][1]["step"] == 100
    assert info["stopped"] == {**info["stopped"], "reason": "completed", "step": 200}
    log = (runs / f"{two.name}.log").read_text()
    assert log.count("cxrgan sweep: start") == 1 and log.count("cxrgan sweep: resume") == 1
    summary = json.loads((out / "sweep.json").read_text())
    statuses = {m["name"]: m["status"] for m in summary["members"]}
    assert statuses == {one.name: "done", two.name: "done", three.name: "done"}
    steps = {m["name"]: m["final"]["step"] for m in summary["members"]}
    assert steps == {one.name: 4, two.name: 200, three.name: 6}


@pytest.mark.shared_data
def test_sweep_on_the_kaggle_train_split(kaggle224, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "sweep"
    # All three at once: with a cold decode-once cache one member decodes the 5,216 JPEGs
    # while the others wait for its cache entry; with a warm one nobody decodes.
    rc = main(["sweep", "--out", str(out), "--data", str(kaggle224), "--g-lr", "2e-4,1e-3,2e-3",
               "--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
               "--batch-size", "16", "--steps", "4", "--steps-per-epoch", "2",
               "--log-every", "1", "--device", "cpu", "--jobs", "3"])  # fmt: skip
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "(--steps 4 → 2 epochs × 2 steps = 4 steps)" in printed
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["spec"]["base"]["data"] == str(kaggle224.resolve())
    assert [m["status"] for m in summary["members"]] == ["done"] * 3
    for m in summary["members"]:
        info = json.loads((out / m["run_dir"] / "config.json").read_text())
        assert info["dataset"]["count"] == 5216 and info["dataset"]["kind"] == "folder"
        assert info["config"]["epochs"] == 2 and info["config"]["steps_per_epoch"] == 2
        assert info["stopped"]["step"] == 4 and m["final"]["step"] == 4
        assert math.isfinite(m["score"])
    assert (out / "grids.png").is_file() and (out / "losses.png").is_file()
