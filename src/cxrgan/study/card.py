"""The model card (README.md of a release bundle): facts read from the run's files only."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.privacy.card import privacy_card_lines
from cxrgan.study.card_front_matter import front_matter
from cxrgan.study.markdown import code, text

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
# The settings the card names (all of them are in training_config.json).
SETTINGS_SHOWN = ("recipe", "model", "loss", "augment", "hflip", "ema_kimg", "g_lr", "d_lr",
                  "batch_size", "epochs", "steps_per_epoch", "minutes", "seed")  # fmt: skip
# A license id as model hubs spell them (cc-by-4.0, apache-2.0, openrail++, other).
LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")


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
    run: Path,
    spec: dict[str, Any],
    checkpoint: str,
    ema: bool,
    license_id: str | None,
    weights_sha256: str,
) -> str:
    """README.md of a bundle. Every value a user chose (class folders, reader names, paths) is
    escaped (study/markdown.py): the card shows it as text, never as markup."""
    f = training_facts(run)
    kermany = is_kermany(f["dataset"])
    evaluation = read_json(run / EVALUATION)
    metrics = (evaluation or {}).get("metrics") or {}
    sections = (
        _front_matter(spec, f, kermany, license_id, metrics),
        _files(spec, checkpoint, ema, weights_sha256),
        _training_data(f, spec, kermany),
        _recipe(f["config"], spec),
        _time_and_hardware(f),
        _quality(evaluation, metrics, f["last_eval"]),
        _memorisation(metrics),
        _utility(read_json(run / UTILITY)),
        _turing(read_json(run / TURING)),
        privacy_card_lines(run),
        _use(f["info"]),
    )
    return "\n".join(line for section in sections for line in section)


def check_license(license_id: str | None) -> None:
    """--license goes into the card's YAML unquoted: one plain token, or a one-line error."""
    if license_id is not None and not LICENSE_ID.fullmatch(license_id):
        raise CxrganError(
            f"--license {license_id!r} is not a license id: use letters, digits and . + - only "
            "(e.g. cc-by-4.0, apache-2.0, other)"
        )


def _front_matter(
    spec: dict[str, Any],
    f: dict[str, Any],
    kermany: bool,
    license_id: str | None,
    held_out: dict[str, Any],
) -> list[str]:
    """The hub's metadata: the held-out numbers of `cxrgan evaluate` when the run has them,
    else its last evaluation during training (on training images)."""
    check_license(license_id)
    lic = license_id or (KERMANY["license"] if kermany else "other")
    if kermany:
        dataset = {"name": KERMANY["name"], "type": KERMANY["hub"], "hub": KERMANY["hub"]}
    elif f["dataset"].get("synthetic"):
        dataset = {"name": "cxrgan's built-in phantoms (demo data, not X-rays)",
                   "type": "cxrgan-phantoms"}  # fmt: skip
    else:
        dataset = {"name": "the run's training folder (not named)", "type": "imagefolder"}
    quality = ("held-out", held_out) if held_out else None
    if quality is None and f["last_eval"]:
        quality = ("train", f["last_eval"])
    return front_matter(spec, dataset, lic, quality)


def _files(spec: dict[str, Any], checkpoint: str, ema: bool, sha256: str) -> list[str]:
    weights = " (the EMA copy, G_ema)" if ema else " (the trained G; the run kept no EMA copy)"
    return [
        f"# Synthetic chest X-ray generator ({text(spec['name'])}, {spec['resolution']} px)",
        "",
        "**Not for clinical use or diagnosis.** The images this model makes are synthetic: they "
        "show no patient, carry no diagnosis, and must not be used to diagnose, screen or treat "
        "anyone, nor presented as real radiographs.",
        "",
        "## Files",
        "",
        f"- `generator.safetensors`: the generator's weights{weights}, from checkpoint "
        f"{code(checkpoint)}; the model spec and a checksum per tensor are in its metadata",
        f"- SHA-256 of `generator.safetensors`: `{sha256}`",
        "- `model_spec.json`: the architecture and its arguments",
        "- `generator.py`: the architecture as plain PyTorch (no cxrgan needed)",
        "- `load.py`: loads the bundle with torch + safetensors and writes sample PNGs",
        "- `verify.py`: what `load.py` checks first: the SHA-256 above and the tensors' "
        "checksums; it refuses weights that fail either",
        "- `samples.png`: 16 images from seed 0",
        "",
        "```",
        "pip install torch safetensors",
        "python load.py          # writes sample_00.png ... sample_15.png",
        "```",
        "",
    ]


def _training_data(f: dict[str, Any], spec: dict[str, Any], kermany: bool) -> list[str]:
    ds, cfg = f["dataset"], f["config"]
    synthetic = " (synthetic phantoms, not X-rays)" if ds.get("synthetic") else ""
    out = ["## Training data", "", f"- images: {text(ds.get('count', 'unknown'))}{synthetic}"]
    for cls, count in (ds.get("classes") or {}).items():
        out.append(f"  - {text(cls) if cls else '(no class)'}: {text(count)}")
    if ds.get("skipped"):
        out.append(f"- skipped (unreadable) files: {text(ds['skipped'])}")
    formats = file_formats(ds.get("root"))
    if formats:
        out.append("- file formats: " + ", ".join(f"{text(k)}: {v}" for k, v in formats.items()))
    out.append(
        f"- preprocessing: grayscale, fitted to {text(cfg.get('image_size', spec['resolution']))}"
        f" px by {code(cfg.get('fit', 'crop'))}"
    )
    if ds.get("fingerprint"):
        out.append(f"- fingerprint (sha256 of the sorted file list): {code(ds['fingerprint'])}")
    if kermany:
        out += [
            f"- source: {KERMANY['name']}",
            f"- licence: {KERMANY['licence_text']}; attribution required. Cite: "
            f"{KERMANY['citation']}",
        ]
    else:
        out.append("- source and licence: not recorded; state them before publishing")
    return [*out, ""]


def _recipe(cfg: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    classes = f", {spec['c_dim']} classes" if spec.get("c_dim") else ", unconditional"
    kwargs = f", {text(spec['kwargs'])}" if spec.get("kwargs") else ""
    out = [
        "## Recipe and settings",
        "",
        f"- architecture: {code(spec['name'])}, z_dim {spec['z_dim']}, {spec['resolution']} px, "
        f"{spec.get('channels', 1)} channel(s){classes}{kwargs}",
    ]
    shown = [f"{k} {text(cfg[k])}" for k in SETTINGS_SHOWN if cfg.get(k) is not None]
    if shown:
        out.append("- settings: " + ", ".join(shown))
    out += [
        "- all settings: `config.json` of the training run (copied here as `training_config.json`)",
        "",
    ]
    return out


def _time_and_hardware(f: dict[str, Any]) -> list[str]:
    info = f["info"]
    versions = (
        f"torch {text(info.get('torch_version', '?'))}, cxrgan "
        f"{text(info.get('cxrgan_version', '?'))}, Python {text(info.get('python_version', '?'))}"
    )
    return [
        "## Training time and hardware",
        "",
        f"- {text(f['steps'])} steps over {text(f['epochs'])} epoch(s); stopped: {text(f['stop'])}",
        f"- training time: {_duration(f['elapsed_s'])}",
        f"- device: {text(info.get('device', 'unknown'))}; {versions}",
        "",
    ]


def _quality(
    evaluation: Any, metrics: dict[str, Any], last_eval: dict[str, Any] | None
) -> list[str]:
    out = ["## Quality on held-out images", ""]
    if metrics:
        out += [
            f"Measured by `cxrgan evaluate` against {code(evaluation.get('real'))} at "
            f"{text(evaluation.get('image_size'))} px (`{EVALUATION}` of the run):",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        keys = ("fwd", "kid_mean", "kid_std", "precision", "recall", "density", "coverage")
        out += [f"| {k} | {text(_num(metrics[k]))} |" for k in keys if k in metrics]
    else:
        out.append(
            "Not measured yet. Run `cxrgan evaluate --real HELDOUT_DIR --fake RUN --json "
            f"RUN/{EVALUATION}` on images the model never saw, then export again."
        )
    if last_eval:
        e = last_eval
        floor = e.get("fwd_floor")
        out += [
            "",
            f"During training (step {text(e['step'])}, on training images): FWD "
            f"{text(_num(e.get('fwd')))}, KID {text(_num(e.get('kid_mean')))}"
            + (f", real-vs-real FWD floor {text(_num(floor))}" if floor else ""),
        ]
    return [*out, ""]


def _memorisation(metrics: dict[str, Any]) -> list[str]:
    out = ["## Memorisation", ""]
    if metrics.get("memorised_share") is not None:
        out.append(
            f"Memorised share: {text(_num(metrics['memorised_share']))} of generated images are "
            "nearer a training image than 99 % of training pairs are (`cxrgan evaluate` against "
            "the training folder)."
        )
    else:
        out.append(f"Not measured (`cxrgan evaluate` writes `memorised_share` to {EVALUATION}).")
    return [*out, ""]


def _utility(utility: Any) -> list[str]:
    if not isinstance(utility, dict):
        return []
    numbers = [(k, v) for k, v in utility.items() if isinstance(v, int | float)]
    return ["## Utility", "", *(f"- {text(k)}: {text(_num(v))}" for k, v in numbers), ""]


def _turing(link: Any) -> list[str]:
    score = read_json(Path(link["score"])) if isinstance(link, dict) and link.get("score") else None
    if not isinstance(score, dict):
        return []
    agreement = score.get("agreement") or {}
    readers = score.get("readers", [])
    out = [
        "## Visual Turing test",
        "",
        f"{len(readers)} reader(s) judged {text(score.get('images'))} images "
        f"({text(score.get('reals'))} real, {text(score.get('fakes'))} generated): mean accuracy "
        f"{_share(score.get('mean_accuracy'))} (0.5 is chance); Fleiss' κ "
        f"{_share(agreement.get('fleiss_kappa'))}.",
        "",
        "| reader | accuracy | sensitivity | specificity | p | AUC |",
        "|---|---|---|---|---|---|",
    ]
    for r in readers:
        out.append(
            f"| {text(r['reader'])} | {_share(r['accuracy'])} | {_share(r['sensitivity'])} | "
            f"{_share(r['specificity'])} | {text(_num(r['p_value'], 3))} | {_share(r['auc'])} |"
        )
    return [*out, ""]


def _use(info: dict[str, Any]) -> list[str]:
    return [
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
        f"Made with cxrgan {text(info.get('cxrgan_version', ''))} (`cxrgan export`).",
        "",
    ]
