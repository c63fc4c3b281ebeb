"""The model card (README.md of a release bundle): facts read from the run's files only."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

KERMANY = {
    "name": "Kermany chest X-ray pneumonia set (Guangzhou Women and Children's Medical Center)",
    "hub": "kermany-chest-xray",
    "license": "cc-by-4.0",
    "licence_text": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
    "citation": "Kermany DS, Zhang K, Goldbaum M. Labeled Optical Coherence Tomography (OCT) and "
    "Chest X-Ray Images for Classification. Mendeley Data, v2, 2018. doi:10.17632/rscbjbr9sj.2. "
    "See also Kermany DS, Goldbaum M, et al. Identifying Medical Diagnoses and Treatable Diseases "
    "by Image-Based Deep Learning. Cell 172(5):1122-1131, 2018.",
}
# Written by `cxrgan evaluate --real HELDOUT --fake RUN --json RUN/evaluation.json`.
EVALUATION = "evaluation.json"
UTILITY = "utility.json"
TURING = "turing.json"


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def records(run: Path) -> list[dict[str, Any]]:
    out = []
    try:
        lines = (run / "metrics.jsonl").read_text("utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def is_kermany(dataset: dict[str, Any]) -> bool:
    root = str(dataset.get("root") or "").lower()
    classes = set(dataset.get("classes") or {})
    return (
        "kermany" in root
        or "chest_xray" in root
        or "chest-xray" in root
        or (classes == {"NORMAL", "PNEUMONIA"})
    )


def file_formats(root: str | None) -> dict[str, int]:
    """Files per extension under the training folder (when it is still there)."""
    if not root or not Path(root).is_dir():
        return {}
    counts: Counter[str] = Counter()
    for path in Path(root).rglob("*"):
        if path.is_file() and not any(p.startswith(".") for p in path.parts):
            counts[path.suffix.lower().lstrip(".") or "(none)"] += 1
    return dict(counts.most_common())


def training_facts(run: Path) -> dict[str, Any]:
    info = read_json(run / "config.json") or {}
    recs = records(run)
    train = [r for r in recs if "loss_d" in r]
    evals = [r for r in recs if "fwd" in r]
    stopped = info.get("stopped") or {}
    return {
        "info": info,
        "config": info.get("config") or {},
        "dataset": info.get("dataset") or {},
        "steps": stopped.get("step", train[-1]["step"] if train else 0),
        "epochs": stopped.get("epoch", train[-1]["epoch"] if train else 0),
        "stop": stopped.get("reason", "unknown"),
        "elapsed_s": max((r.get("elapsed_s") or 0 for r in train), default=None),
        "last_eval": evals[-1] if evals else None,
    }


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _share(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "unknown"
    h, rest = divmod(round(seconds), 3600)
    return (f"{h} h " if h else "") + f"{rest // 60} min {rest % 60} s"


def model_card(
    run: Path, spec: dict[str, Any], checkpoint: str, ema: bool, license_id: str | None
) -> str:
    f = training_facts(run)
    cfg, ds, info = f["config"], f["dataset"], f["info"]
    kermany = is_kermany(ds)
    lic = license_id or (KERMANY["license"] if kermany else "other")
    classes = ds.get("classes") or {}
    formats = file_formats(ds.get("root"))
    front = [
        "---",
        f"license: {lic}",
        "library_name: pytorch",
        "tags:",
        "  - gan",
        "  - medical-imaging",
        "  - chest-x-ray",
        "  - synthetic-data",
        "  - image-generation",
        "  - cxrgan",
        "  - not-for-clinical-use",
    ]
    if kermany:
        front += ["datasets:", f"  - {KERMANY['hub']}"]
    front += [
        "pipeline_tag: unconditional-image-generation"
        if not spec.get("c_dim")
        else "pipeline_tag: image-generation",
        "---",
        "",
    ]
    out = [
        *front,
        f"# Synthetic chest X-ray generator ({spec['name']}, {spec['resolution']} px)",
        "",
        "**Not for clinical use or diagnosis.** The images this model makes are synthetic: they "
        "show no patient, carry no diagnosis, and must not be used to diagnose, screen or treat "
        "anyone, nor presented as real radiographs.",
        "",
        "## Files",
        "",
        "- `generator.safetensors`: the generator's weights"
        + (" (the EMA copy, G_ema)" if ema else " (the trained G; the run kept no EMA copy)")
        + f", from checkpoint `{checkpoint}`; the model spec is in its metadata too",
        "- `model_spec.json`: the architecture and its arguments",
        "- `generator.py`: the architecture as plain PyTorch (no cxrgan needed)",
        "- `load.py`: loads the bundle with torch + safetensors and writes sample PNGs",
        "- `samples.png`: 16 images from seed 0",
        "",
        "```",
        "pip install torch safetensors",
        "python load.py          # writes sample_00.png ... sample_15.png",
        "```",
        "",
        "## Training data",
        "",
        f"- images: {ds.get('count', 'unknown')}"
        + (" (synthetic phantoms, not X-rays)" if ds.get("synthetic") else ""),
    ]
    for cls, count in classes.items():
        out.append(f"  - {cls or '(no class)'}: {count}")
    if ds.get("skipped"):
        out.append(f"- skipped (unreadable) files: {ds['skipped']}")
    if formats:
        out.append("- file formats: " + ", ".join(f"{k}: {v}" for k, v in formats.items()))
    out.append(
        f"- preprocessing: grayscale, fitted to {cfg.get('image_size', spec['resolution'])}"
        f" px by `{cfg.get('fit', 'crop')}`"
    )
    if ds.get("fingerprint"):
        out.append(f"- fingerprint (sha256 of the sorted file list): `{ds['fingerprint']}`")
    if kermany:
        out += [
            f"- source: {KERMANY['name']}",
            f"- licence: {KERMANY['licence_text']}; attribution required. Cite: "
            f"{KERMANY['citation']}",
        ]
    else:
        out.append("- source and licence: not recorded; state them before publishing")
    out += [
        "",
        "## Recipe and settings",
        "",
        f"- architecture: `{spec['name']}`, z_dim {spec['z_dim']}, {spec['resolution']} px, "
        f"{spec.get('channels', 1)} channel(s)"
        + (f", {spec['c_dim']} classes" if spec.get("c_dim") else ", unconditional")
        + (f", {spec['kwargs']}" if spec.get("kwargs") else ""),
    ]
    keys = (
        "recipe",
        "model",
        "loss",
        "augment",
        "hflip",
        "ema_kimg",
        "g_lr",
        "d_lr",
        "batch_size",
        "epochs",
        "steps_per_epoch",
        "minutes",
        "seed",
    )
    shown = [f"{k} {cfg[k]}" for k in keys if k in cfg and cfg[k] is not None]
    if shown:
        out.append("- settings: " + ", ".join(shown))
    out.append(
        "- all settings: `config.json` of the training run (copied here as `training_config.json`)"
    )
    out += [
        "",
        "## Training time and hardware",
        "",
        f"- {f['steps']} steps over {f['epochs']} epoch(s); stopped: {f['stop']}",
        f"- training time: {_duration(f['elapsed_s'])}",
        f"- device: {info.get('device', 'unknown')}; torch {info.get('torch_version', '?')}, "
        f"cxrgan {info.get('cxrgan_version', '?')}, Python {info.get('python_version', '?')}",
        "",
        "## Quality on held-out images",
        "",
    ]
    ev = read_json(run / EVALUATION)
    metrics = (ev or {}).get("metrics") or {}
    if metrics:
        out += [
            f"Measured by `cxrgan evaluate` against `{ev.get('real')}` at "
            f"{ev.get('image_size')} px (`{EVALUATION}` of the run):",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        for k in ("fwd", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"):
            if k in metrics:
                out.append(f"| {k} | {_num(metrics[k])} |")
    else:
        out.append(
            "Not measured yet. Run `cxrgan evaluate --real HELDOUT_DIR --fake RUN --json "
            f"RUN/{EVALUATION}` on images the model never saw, then export again."
        )
    if f["last_eval"]:
        e = f["last_eval"]
        out += [
            "",
            f"During training (step {e['step']}, on training images): FWD "
            f"{_num(e.get('fwd'))}, KID {_num(e.get('kid_mean'))}"
            + (f", real-vs-real FWD floor {_num(e['fwd_floor'])}" if e.get("fwd_floor") else ""),
        ]
    out += ["", "## Memorisation", ""]
    if metrics.get("memorised_share") is not None:
        out.append(
            f"Memorised share: {_num(metrics['memorised_share'])} of generated images are nearer "
            "a training image than 99 % of training pairs are (`cxrgan evaluate` against the "
            "training folder)."
        )
    else:
        out.append(f"Not measured (`cxrgan evaluate` writes `memorised_share` to {EVALUATION}).")
    utility = read_json(run / UTILITY)
    if isinstance(utility, dict):
        out += ["", "## Utility", ""]
        out += [f"- {k}: {_num(v)}" for k, v in utility.items() if isinstance(v, int | float)]
    turing = read_json(run / TURING)
    score = (
        read_json(Path(turing["score"]))
        if isinstance(turing, dict) and turing.get("score")
        else None
    )
    if isinstance(score, dict):
        ag = score.get("agreement") or {}
        out += [
            "",
            "## Visual Turing test",
            "",
            f"{len(score.get('readers', []))} reader(s) judged {score.get('images')} images "
            f"({score.get('reals')} real, {score.get('fakes')} generated): mean accuracy "
            f"{_share(score.get('mean_accuracy'))} (0.5 is chance); Fleiss' κ "
            f"{_share(ag.get('fleiss_kappa'))}.",
            "",
            "| reader | accuracy | sensitivity | specificity | p | AUC |",
            "|---|---|---|---|---|---|",
        ]
        for r in score.get("readers", []):
            out.append(
                f"| {r['reader']} | {_share(r['accuracy'])} | {_share(r['sensitivity'])} | "
                f"{_share(r['specificity'])} | {_num(r['p_value'], 3)} | {_share(r['auc'])} |"
            )
    out += [
        "",
        "## Intended use",
        "",
        "Research on generative models and synthetic data: augmenting or balancing training "
        "sets for machine-learning research, teaching, and testing image pipelines. Judge any "
        "use with the quality and memorisation numbers above.",
        "",
        "## Out of scope",
        "",
        "- Not for clinical use or diagnosis, nor as evidence of any finding in a patient.",
        "- Not a source of real disease prevalence: the class mix follows the training data.",
        "- Generated images may reproduce training images (see Memorisation); do not treat "
        "them as free of the training data's licence or of patient data.",
        "",
        f"Made with cxrgan {info.get('cxrgan_version', '')} (`cxrgan export`).",
        "",
    ]
    return "\n".join(out)
