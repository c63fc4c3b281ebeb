"""Experiment trackers: TensorBoard, MLflow and Weights & Biases, behind one small interface.

A tracker takes a run's settings, scalars by step, sample-grid PNGs and its final numbers
(cxrgan.tracking.base.Tracker); each is imported only when a run asks for it, since all three
are optional extras (docs/trackers.md). `open_tracker` opens one for a run folder and resumes
the tracker run that the folder's trackers.json names.
"""

from __future__ import annotations

from cxrgan.registry import Registry

TRACKERS = Registry(
    "tracker",
    {
        "tensorboard": "cxrgan.tracking.tensorboard_tracker:TensorBoardTracker",
        "mlflow": "cxrgan.tracking.mlflow_tracker:MlflowTracker",
        "wandb": "cxrgan.tracking.wandb_tracker:WandbTracker",
    },
)
