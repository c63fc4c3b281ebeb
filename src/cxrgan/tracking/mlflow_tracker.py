"""MLflow: a local store in RUN/mlruns/ (SQLite, with the artifacts beside it), or the tracking
server or store that MLFLOW_TRACKING_URI names; RUN/trackers.json keeps the run id to resume."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cxrgan.tracking.base import Tracker, clean_stop, need, save_ids, saved_ids

EXPERIMENT = "cxrgan"  # unless MLFLOW_EXPERIMENT_NAME names another
STORE = "mlruns"  # RUN/mlruns/mlflow.db and RUN/mlruns/artifacts/


def local_store(root: Path) -> str:
    return f"sqlite:///{(root / STORE / 'mlflow.db').resolve()}"


class MlflowTracker(Tracker):
    name = "mlflow"

    @classmethod
    def required(cls) -> tuple[str, ...]:
        """MLflow, and for the local store (SQLite) SQLAlchemy and Alembic, which it uses."""
        local = not os.environ.get("MLFLOW_TRACKING_URI")
        return ("mlflow", "sqlalchemy", "alembic") if local else ("mlflow",)

    def __init__(self, root: Path, config: dict[str, Any]):
        for module in self.required():
            need(module, "mlflow")
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI") or ""
        local = not uri
        if local:  # SQLite: the local store MLflow recommends (its file store is deprecated)
            (root / STORE).mkdir(exist_ok=True)
            uri = local_store(root)
        self.client = MlflowClient(tracking_uri=uri)
        saved = saved_ids(root).get(self.name) or {}
        self.run_id = self._existing(saved.get("run_id")) if saved.get("uri") == uri else None
        if self.run_id is None:
            self.run_id = self._create(root, local, config)
            save_ids(root, self.name, {"run_id": self.run_id, "uri": uri})
        else:
            self.client.update_run(self.run_id, status="RUNNING")
            self._log_changed(config)

    def _existing(self, run_id: str | None) -> str | None:
        if not run_id:
            return None
        try:
            return self.client.get_run(run_id).info.run_id
        except Exception:  # gone from the store (or another store): a new run
            return None

    def _create(self, root: Path, local: bool, config: dict[str, Any]) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:  # a local store keeps its artifacts in the run folder too, not in the cwd
            where = (root / STORE / "artifacts").resolve().as_uri() if local else None
            experiment_id = self.client.create_experiment(name, artifact_location=where)
        run = self.client.create_run(experiment_id, run_name=root.name,
                                     tags={"cxrgan.run_dir": str(root.resolve())})  # fmt: skip
        self._log_params(run.info.run_id, config)
        return run.info.run_id

    def _log_params(self, run_id: str, config: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(key, str(value)) for key, value in config.items()]
        self.client.log_batch(run_id, params=params)

    def _log_changed(self, config: dict[str, Any]) -> None:
        """A resume: settings new to the run become params; MLflow keeps a param's first value,
        so a setting the resume changed is a tag `resumed.<name>` with its new value."""
        logged = self.client.get_run(self.run_id).data.params
        new = {k: v for k, v in config.items() if k not in logged}
        if new:
            self._log_params(self.run_id, new)
        for key, value in config.items():
            if key in logged and logged[key] != str(value):
                self.client.set_tag(self.run_id, f"resumed.{key}", str(value))

    def scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def image(self, tag: str, path: Path, step: int) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=tag)

    def summary(self, values: dict[str, float], step: int) -> None:
        self.scalars(values, step)

    def close(self, reason: str) -> None:
        self.client.set_tag(self.run_id, "cxrgan.stopped", reason)
        status = "FINISHED" if clean_stop(reason) else "KILLED"
        self.client.set_terminated(self.run_id, status=status)
