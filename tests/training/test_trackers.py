"""--track mlflow and --track wandb: what they log, read back with each library's own reader;
a resume continues the same tracker run; a missing extra is one line; a failing store is
warned about once and training goes on."""

import importlib.util
import json
import shutil

import pytest
from run_files import records as _records
from tiny import TINY_CONFIG
from wandb_records import offline_runs, read_run

from cxrgan.config import TrainConfig
from cxrgan.errors import CxrganError
from cxrgan.training.session import resume_run, start_run
from cxrgan.training.track import tracker_names

TINY = {**TINY_CONFIG, "demo_images": 96, "steps_per_epoch": 2, "log_every": 1, "cache": False}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One run tracked by MLflow and W&B: 1 epoch, then resumed to 2 (4 steps in all)."""
    run = tmp_path_factory.mktemp("tracked") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("WANDB_MODE", "offline")  # never the network, logged in or not
        mp.setenv("WANDB_SILENT", "true")
        cfg = TrainConfig(out=str(run), epochs=1, track="mlflow,wandb", eval_every=1, eval_n=32,
                          **TINY)  # fmt: skip
        start_run(cfg)
        first = json.loads((run / "trackers.json").read_text())
        resume_run(run, {"epochs": 2})
    return run, first


def _training(run):
    return [r for r in _records(run) if "loss_d" in r]


def _same(logged, expected):
    """(step, value) pairs: the same steps, the same values (float32 through JSON)."""
    assert [step for step, _ in logged] == [step for step, _ in expected]
    assert [value for _, value in logged] == pytest.approx([value for _, value in expected])


def test_mlflow_logs_settings_scalars_grids_and_final_numbers_into_one_run(tracked):
    from mlflow.tracking import MlflowClient

    run, first = tracked
    ids = json.loads((run / "trackers.json").read_text())
    assert ids["mlflow"] == first["mlflow"]  # the resume went on in the same MLflow run
    store = f"sqlite:///{(run / 'mlruns' / 'mlflow.db').resolve()}"
    assert ids["mlflow"]["uri"] == store
    client = MlflowClient(tracking_uri=store)
    logged = client.get_run(ids["mlflow"]["run_id"])
    assert logged.info.status == "FINISHED"
    config = json.loads((run / "config.json").read_text())["config"]
    # Settings as params (their first values); the resume's change as a tag.
    assert logged.data.params["g_lr"] == str(config["g_lr"]) == "0.0002"
    assert logged.data.params["track"] == "mlflow,wandb"
    assert logged.data.params["epochs"] == "1"
    assert logged.data.tags["resumed.epochs"] == "2"
    history = client.get_metric_history(logged.info.run_id, "train/loss_d")
    expected = [(r["step"], r["loss_d"]) for r in _training(run)]
    _same(sorted((m.step, m.value) for m in history), expected)
    assert [s for s, _ in expected] == [1, 2, 3, 4]
    evals = [r for r in _records(run) if "fwd" in r]
    fwd = client.get_metric_history(logged.info.run_id, "quality/fwd")
    _same(sorted((m.step, m.value) for m in fwd), [(r["step"], r["fwd"]) for r in evals])
    assert logged.data.metrics["final/step"] == 4
    assert logged.data.metrics["best/fwd"] == pytest.approx(min(r["fwd"] for r in evals))
    grids = [a.path for a in client.list_artifacts(logged.info.run_id, "samples")]
    assert grids == ["samples/epoch_0001.png", "samples/epoch_0002.png"]
    assert (run / "mlruns" / "artifacts").is_dir()  # the store and its files stay in the run


def test_wandb_runs_offline_and_a_resume_continues_its_run(tracked):
    run, first = tracked
    sessions = [read_run(path) for path in offline_runs(run)]
    assert len(sessions) == 2
    run_id = json.loads((run / "trackers.json").read_text())["wandb"]["run_id"]
    assert run_id == first["wandb"]["run_id"] == sessions[0]["id"] == sessions[1]["id"]
    assert sessions[0]["config"]["g_lr"] == 0.0002 and sessions[1]["config"]["epochs"] == 2
    rows = [row for s in sessions for row in s["history"] if "train/loss_d" in row]
    expected = [(r["step"], r["loss_d"]) for r in _training(run)]
    _same([(row["step"], row["train/loss_d"]) for row in rows], expected)
    grids = [row for s in sessions for row in s["history"] if "samples/path" in row]
    assert [(row["step"], row["samples/caption"]) for row in grids] == [
        (2, "epoch_0001.png"), (4, "epoch_0002.png")]  # fmt: skip
    evals = [r for r in _records(run) if "fwd" in r]
    fwd = [(row["step"], row["quality/fwd"]) for s in sessions for row in s["history"]
           if "quality/fwd" in row]  # fmt: skip
    _same(fwd, [(r["step"], r["fwd"]) for r in evals])
    summary = sessions[1]["summary"]
    assert summary["final/step"] == 4 and summary["stopped"] == "completed"
    assert summary["best/fwd"] == pytest.approx(min(r["fwd"] for r in evals))


def test_a_failing_tracking_store_is_warned_about_once_and_training_goes_on(
    tracked, tmp_path, monkeypatch
):
    """A store named by MLFLOW_TRACKING_URI (a copy of the tracked run's, to skip creating one)
    with an experiment whose artifact folder cannot be made: the first grid upload fails."""
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    shutil.copy(tracked[0] / "mlruns" / "mlflow.db", db)
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    (tmp_path / "blocked").write_text("a file where the artifact folder would go")
    client.create_experiment("broken", artifact_location=(tmp_path / "blocked" / "a").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "broken")
    run = tmp_path / "run"
    start_run(TrainConfig(out=str(run), epochs=2, track="mlflow", **TINY))
    assert json.loads((run / "config.json").read_text())["stopped"]["reason"] == "completed"
    assert len(_training(run)) == 4
    warnings = [line for line in (run / "train.log").read_text().splitlines() if "mlflow" in line]
    assert len(warnings) == 1 and "tracking failed in image" in warnings[0], warnings
    run_id = json.loads((run / "trackers.json").read_text())["mlflow"]["run_id"]
    history = client.get_metric_history(run_id, "train/loss_d")
    assert sorted(m.step for m in history) == [1, 2]  # before the failure, nothing after


def test_a_missing_extra_is_one_line_naming_it_before_anything_is_written(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "wandb" else real(name, *a))  # fmt: skip
    with pytest.raises(CxrganError, match=r"pip install -e '\.\[wandb\]'") as error:
        start_run(TrainConfig(out=str(tmp_path / "run"), track="wandb", **TINY))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_track_names_trackers_and_tensorboard_is_one_of_them():
    assert tracker_names(TrainConfig()) == ()
    assert tracker_names(TrainConfig(track="wandb, mlflow,wandb")) == ("wandb", "mlflow")
    assert tracker_names(TrainConfig(track="mlflow", tensorboard=True)) == ("mlflow", "tensorboard")
    assert tracker_names(TrainConfig(track="tensorboard", tensorboard=True)) == ("tensorboard",)
    with pytest.raises(CxrganError, match="--track takes any of tensorboard, mlflow, wandb"):
        TrainConfig(track="mlflow,neptune").validate()
