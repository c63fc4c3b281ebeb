"""The one typed configuration that flows from CLI/TOML to the trainer, declared once.

Every field is a `setting()` (see cxrgan.settings): its annotation is its type, and the call
gives its default, help, group, whether `--resume` may change it and whether a sweep may vary
it, and its allowed values or range. `cxrgan train`'s options, TOML loading, validation,
RESUMABLE and the sweep's axes are all read from these declarations. To add a setting, add a
field here, e.g.

    loss: str = setting("bce", "what G and D optimise", group="loss", choices=lambda: LOSSES)

(`choices` is called when the names are needed, so a registry filled later is read as it is
then); nothing else needs to change. A setting a recipe governs takes the default recipe's value.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrgan import dp_settings as dp
from cxrgan import input_settings as inputs
from cxrgan.augment import augment_names
from cxrgan.errors import CxrganError
from cxrgan.input_settings import IMAGE_SIZES  # noqa: F401  (re-exported: cxrgan.config.IMAGE_SIZES)
from cxrgan.losses import LOSSES
from cxrgan.models import MODELS
from cxrgan.recipes import DEFAULT_RECIPE, RECIPES, recipe_names, with_recipe
from cxrgan.schedule import SHAPES
from cxrgan.settings import Setting, read_toml, setting, settings_of, typed_values
from cxrgan.tracking import TRACKERS

DEVICES = ("auto", "cpu", "cuda", "mps")
NAN_POLICIES = ("rollback", "stop")
PRECISIONS = ("fp32", "bf16", "fp16")
MAX_ROLLBACKS = 3  # --on-nan rollback: at most this many per train or resume (docs/reliability.md)
RECIPE = RECIPES[DEFAULT_RECIPE].settings  # the defaults of the settings a recipe governs


@dataclass
class TrainConfig:
    """Every setting of a training run. What a recipe governs and is not given takes the values
    of the recipe the settings name (`recipe`, else the default recipe), however it is built:
    `TrainConfig(recipe="tutorial")` is the tutorial's recipe, as `--recipe tutorial` is."""

    recipe: str = setting(
        DEFAULT_RECIPE,
        "a named, tested bundle of the settings that make the GAN (networks, loss, "
        "augmentation, rates, EMA, R1, batch); options you give override it. tutorial: the "
        "DCGAN tutorial's; blog: the tutorial's networks with G at 1e-3; small-data (the "
        "recommended one): the blog's rates with batch 16, an EMA generator and ADA, both rates "
        "held for 16,000 images, then decaying along a cosine to 5 % at the end of the budget",
        group="run",
        choices=recipe_names,
    )
    data: str | None = inputs.DATA
    out: str | None = setting(
        None,
        "run directory to create (default: runs/<date-time>)",
        group="run",
        sweepable=False,  # the sweep puts every member in its own folder
    )
    image_size: int = inputs.IMAGE_SIZE
    fit: str = inputs.FIT
    hflip: bool = setting(
        False,
        "random horizontal flips; a flipped chest X-ray puts the heart on the wrong side",
        group="augment",
    )
    model: str = setting(RECIPE["model"], "architecture", group="model", choices=lambda: MODELS)
    # Widths and latent size: a few times StyleGAN's at most; beyond, memory runs out first.
    nz: int = setting(RECIPE["nz"], "latent vector size", group="model", min=1, max=4096)
    ngf: int = setting(RECIPE["ngf"], "generator width", group="model", min=1, max=1024)
    ndf: int = setting(RECIPE["ndf"], "discriminator width", group="model", min=1, max=1024)
    d_spectral_norm: bool = setting(
        RECIPE["d_spectral_norm"],
        "spectral normalisation of every D layer's weights (Miyato et al. 2018), for any model",
        group="model",
    )
    conditional: bool = setting(
        False,
        "class-conditional GAN: the classes are the data folder's subfolders (e.g. NORMAL/, "
        "PNEUMONIA/); G gets class batch norm, D a projection head (Miyato & Koyama 2018); grids "
        "get one row band per class and FWD/KID are also computed per class",
        group="model",
    )
    class_sampling: str = setting(
        "empirical",
        "with --conditional, the classes of generated images during training: empirical (as "
        "often as in the data) or uniform (every class equally often)",
        group="model",
        choices=lambda: ("empirical", "uniform"),
    )
    ema_kimg: float = setting(
        RECIPE["ema_kimg"],
        "keep an EMA generator with this half-life in thousands of images, ramped up over the "
        "first images (StyleGAN2-ADA: batch × 10/32, e.g. 20 at batch 64); it draws the grids "
        "and is what evaluation, best, generate and evaluate use (0: no EMA)",
        group="model",
        min=0,
    )
    loss: str = setting(
        RECIPE["loss"],
        "what G and D optimise (bce: the tutorial's binary cross-entropy, G non-saturating)",
        group="loss",
        choices=lambda: LOSSES,
    )
    ema_rampup: float = setting(
        RECIPE["ema_rampup"],
        "EMA ramp-up: the half-life is at most this share of the images seen so far, so early "
        "averages forget the random start quickly (StyleGAN2-ADA: 0.05; 0: no ramp-up)",
        group="model",
        min=0,
    )
    r1_gamma: float = setting(
        RECIPE["r1_gamma"],
        "R1 penalty γ on D's gradient at real images, applied lazily every 16 D steps "
        "(StyleGAN2's heuristic: 0.0002 × resolution² / batch; 0: off)",
        group="loss",
        min=0,
    )
    augment: str = setting(
        RECIPE["augment"],
        "differentiable augmentation of every image D sees, real and generated alike "
        "(none: D sees the images as they are)",
        group="augment",
        choices=augment_names,
    )
    g_lr: float = setting(
        RECIPE["g_lr"],
        "generator learning rate; if D overpowers G, raise it (the tutorial's 2e-4 often needs "
        "×5–×10 on chest X-rays; the default recipe's 1e-3 is the blog's)",
        group="optim",
        resumable=True,
        above=0,
    )
    d_lr: float = setting(
        RECIPE["d_lr"], "discriminator learning rate", group="optim", resumable=True, above=0
    )
    beta1: float = setting(
        RECIPE["beta1"], "Adam β1 for both networks", group="optim", min=0, below=1
    )
    beta2: float = setting(
        RECIPE["beta2"], "Adam β2 for both networks", group="optim", min=0, below=1
    )
    batch_size: int = setting(
        RECIPE["batch_size"], "images per step", group="optim", min=1, max=65536
    )
    lr_schedule: str = setting(
        RECIPE["lr_schedule"],
        "how both rates change over the budget (--minutes, else --epochs × steps): constant, "
        "or a decay from --g-lr/--d-lr down to --lr-floor × them (linear, cosine), so that G "
        "settles late in a long run and its EMA averages a settled G instead of blurring",
        group="optim",
        resumable=True,
        choices=lambda: tuple(SHAPES),
    )
    lr_floor: float = setting(
        RECIPE["lr_floor"],
        "the rates at the end of the budget, as a share of --g-lr/--d-lr (with a decaying "
        "--lr-schedule)",
        group="optim",
        resumable=True,
        min=0,
        below=1,
    )
    lr_hold_kimg: float = setting(
        RECIPE["lr_hold_kimg"],
        "with a decaying --lr-schedule, thousands of images trained at --g-lr/--d-lr before "
        "the decay starts; the decay then runs over the rest of the budget, and a budget that "
        "ends sooner keeps the rates constant (0: decay from the first step)",
        group="optim",
        resumable=True,
        min=0,
    )
    minutes: float | None = setting(
        None,
        "stop after this many minutes of training time (across resumes; evaluation excluded), "
        "save checkpoints/last and record why (none: no time budget)",
        group="optim",
        resumable=True,
        above=0,
    )
    epochs: int = setting(
        5,
        "total epochs to train; on --resume, the new total",
        group="optim",
        resumable=True,
        min=1,
    )
    steps_per_epoch: int | None = setting(
        None,
        "optimiser steps per epoch (default: one pass over the data); more or fewer than a "
        "pass is fine",
        group="optim",
        resumable=True,
        min=1,
    )
    seed: int = setting(0, "seed for weights, noise and shuffling", group="run", min=0)
    device: str = setting(
        "auto",
        "where to train (auto: CUDA, then MPS, then CPU)",
        group="run",
        resumable=True,
        choices=lambda: DEVICES,
    )
    workers: int = inputs.WORKERS
    cache: bool = inputs.CACHE
    cache_dir: str | None = inputs.CACHE_DIR
    data_on: str = inputs.DATA_ON
    demo_images: int = inputs.DEMO_IMAGES
    labels: str | None = inputs.LABELS
    labels_format: str = inputs.LABELS_FORMAT
    classes: str | None = inputs.CLASSES
    multi_label: str = inputs.MULTI_LABEL_
    uncertain: str = inputs.UNCERTAIN_
    view: str | None = inputs.VIEW
    official_split: str = inputs.OFFICIAL_SPLIT
    path_column: str = inputs.PATH_COLUMN
    label_column: str = inputs.LABEL_COLUMN
    label_separator: str | None = inputs.LABEL_SEPARATOR
    patient_column: str | None = inputs.PATIENT_COLUMN
    view_column: str | None = inputs.VIEW_COLUMN
    log_every: int = setting(
        10, "steps between lines of metrics.jsonl", group="run", resumable=True, min=1
    )
    checkpoint_every: int = setting(
        0,
        "also keep checkpoints/epoch_NNNN every this many epochs (0: keep only checkpoints/last)",
        group="run",
        resumable=True,
        min=0,
    )
    progress: bool = setting(
        True,
        "progress bars (--no-progress for logs and CI)",
        group="run",
        resumable=True,
        sweepable=False,  # sweep members write to log files: never any bars
    )
    eval_every: int = setting(
        0,
        "compute FWD and KID every this many epochs (or steps, see --eval-unit), log them to "
        "metrics.jsonl, draw plots/quality.png and keep checkpoints/best, the lowest FWD so far "
        "(--conditional: per class too, and best is the lowest FWD of the worst class) (0: off)",
        group="eval",
        resumable=True,
        min=0,
    )
    eval_unit: str = setting(
        "epoch",
        "unit of --eval-every (minutes: of training time, evaluation excluded, as --minutes "
        "counts it: a long run's quality over time)",
        group="eval",
        resumable=True,
        choices=lambda: ("epoch", "step", "minutes"),
    )
    eval_n: int = setting(
        2000,
        "generated and real images per evaluation; FWD depends on n, so compare runs at the same n",
        group="eval",
        resumable=True,
        min=2,
        max=100_000,  # twice FID's customary 50k; each side is held in memory
    )
    eval_data: str | None = setting(
        None,
        "folder of real images to evaluate against (default: the training set)",
        group="eval",
        resumable=True,
    )
    early_stop_patience: int = setting(
        0,
        "stop when FWD has not improved for this many evaluations (needs --eval-every; 0: never)",
        group="eval",
        resumable=True,
        min=0,
    )
    early_stop_min_delta: float = setting(
        0.0,
        "an FWD drop smaller than this does not count as an improvement",
        group="eval",
        resumable=True,
        min=0,
    )
    balance: str = setting(
        "off",
        "auto: adapt G's learning rate while training when D overpowers G or is too weak "
        "(bounded ×/÷10, every change logged in metrics.jsonl)",
        group="optim",
        resumable=True,
        choices=lambda: ("off", "auto"),
    )
    on_nan: str = setting(
        "rollback",
        "what a NaN/inf loss or weight does. rollback: reload checkpoints/last (the last finite "
        f"state), halve both learning rates and go on, at most {MAX_ROLLBACKS} times per train "
        "or resume, each logged in metrics.jsonl; stop: end the run (exit status 3)",
        group="optim",
        resumable=True,
        choices=lambda: NAN_POLICIES,
    )
    track: str | None = setting(
        None,
        "experiment trackers that also get the settings, scalars, sample grids and final numbers "
        "(tensorboard: RUN/tb/; mlflow: RUN/mlruns/ or MLFLOW_TRACKING_URI; wandb: offline in "
        "RUN/wandb/ unless logged in); a resume continues their runs; each needs its extra, see "
        "docs/trackers.md (none: no trackers)",
        group="run", resumable=True, choices=lambda: TRACKERS, many=True,
    )  # fmt: skip
    tensorboard: bool = setting(False, "the same as --track tensorboard", group="run",
                                resumable=True)  # fmt: skip
    precision: str = setting(
        "fp32",
        "arithmetic of the forward passes: bf16 or fp16 autocast (fp16 with a gradient scaler "
        "per network, kept in checkpoints). CUDA; bf16 also on CPUs with AVX-512 BF16 or AMX "
        "(elsewhere emulated and much slower); untested on GPUs",
        group="run",
        resumable=True,
        choices=lambda: PRECISIONS,
    )
    compile: bool = setting(
        False,
        "torch.compile G's and D's forward passes (the first steps compile; needs a C++ "
        "compiler on CPU); untested on GPUs",
        group="run",
        resumable=True,
    )
    dp_epsilon: float | None = dp.DP_EPSILON
    dp_delta: float = dp.DP_DELTA
    dp_max_grad_norm: float = dp.DP_MAX_GRAD_NORM
    dp_ada_p: float = dp.DP_ADA_P
    sync_bn: bool = setting(
        True,
        "with several processes (torchrun, --nproc): batch-norm statistics over the global "
        "batch, as one process computes them (--no-sync-bn: each process's own share)",
        group="model",
        resumable=True,
    )

    def validate(self) -> TrainConfig:
        """Types, choices and bounds of every setting (from the declarations), then the checks
        that involve two settings."""
        for s in SETTINGS:
            problem = s.problem(getattr(self, s.name))
            if problem:
                raise CxrganError(f"{s.flag} {problem}")
        problem = inputs.input_problem(self) or dp.dp_problem(self)
        if problem:
            raise CxrganError(problem)
        if self.early_stop_patience and not self.eval_every:
            raise CxrganError(
                "--early-stop-patience needs --eval-every (early stopping watches FWD)"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """From typed values (config.json, merged TOML and CLI) over the recipe they name (see
        cxrgan.recipes); wrong types are errors."""
        return cls(**typed_settings(values))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes`. A change of recipe brings the new recipe's values, except for
        the settings this config had overridden and those in `changes` (as `--recipe` does)."""
        switch = self._recipe_switch(changes.get("recipe"))
        return dataclasses.replace(self, **{**switch, **changes})

    def _recipe_switch(self, recipe: str | None) -> dict[str, Any]:
        if recipe in (None, self.recipe) or recipe not in RECIPES or self.recipe not in RECIPES:
            return {}
        old = RECIPES[self.recipe].settings
        overridden = {k: getattr(self, k) for k, v in old.items() if getattr(self, k) != v}
        return {**RECIPES[recipe].settings, **overridden}


def _over_the_named_recipe(init: Callable[..., None]) -> Callable[..., None]:
    """The dataclass's __init__, given the named recipe's values under the ones passed: field
    defaults alone would give every recipe the default recipe's governed values. (replace()
    passes every field, so a change of recipe is handled there.)"""

    @functools.wraps(init)
    def __init__(self: TrainConfig, **values: Any) -> None:
        init(self, **with_recipe(values))

    return __init__


TrainConfig.__init__ = _over_the_named_recipe(TrainConfig.__init__)  # type: ignore[method-assign]

SETTINGS: tuple[Setting, ...] = settings_of(TrainConfig)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# Settings a resumed run may change; everything else is fixed by the checkpoint.
RESUMABLE = frozenset(s.name for s in SETTINGS if s.resumable)


def typed_settings(values: dict[str, Any], where: str = "") -> dict[str, Any]:
    """`values` with their names and types checked against TrainConfig's settings (see
    cxrgan.settings.typed_values); ranges are left to `validate`."""
    return typed_values(BY_NAME, values, where)


def load_toml(path: Path) -> dict[str, Any]:
    """A TOML config's settings, each checked whole; keys like the CLI's (`g-lr`) or `g_lr`."""
    return typed_values(BY_NAME, read_toml(path), f"{path}: ", whole=True)
