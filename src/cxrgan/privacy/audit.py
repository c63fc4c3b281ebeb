"""`cxrgan privacy` end to end: open the generator (and the reference), load and check the
films, run every attack, and score each with its AUC, bootstrap interval and TPR at 1 % FPR,
over all films and per class (docs/privacy.md explains privacy.json's keys)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan import __version__
from cxrgan.data.folder import ImageSet, load_folder
from cxrgan.data.labels.options import LabelRequest
from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path, json_ready, json_text
from cxrgan.privacy import defaults as d
from cxrgan.privacy.attacks import Scores, run_attacks
from cxrgan.privacy.chart import plot_roc
from cxrgan.privacy.films import Films, load_films
from cxrgan.privacy.stats import auc, bootstrap_auc, interval, roc_curve, tpr_at_fpr
from cxrgan.privacy.target import Target, open_target
from cxrgan.privacy.verdict import RULE, overall, sentence
from cxrgan.training.device import resolve_device

Log = Callable[[str], None]
FORMAT = 1


@dataclass(frozen=True)
class PrivacyOptions:
    run: Path  # a run directory or an export bundle
    train: Path  # the films the run trained on (members)
    heldout: Path  # films of other patients (non-members)
    reference: Path | None = None  # a generator trained on other patients, for calibration
    n_generated: int = d.N_GENERATED
    bootstrap: int = d.BOOTSTRAP
    seed: int = d.SEED
    checkpoint: str = d.CHECKPOINT
    device: str = "cpu"
    workers: int = 0
    cache_dir: Path | None = None
    progress: bool = True
    labels: LabelRequest | None = None  # a label file gives --train's classes and patients
    heldout_labels: LabelRequest | None = None  # and --heldout's (docs/privacy.md)


@dataclass
class Audit:
    """privacy.json's content, and each attack's ROC curve over all films for the plot."""

    result: dict[str, Any]
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def check_options(o: PrivacyOptions) -> None:
    if o.n_generated < 1:
        raise CxrganError(f"--n-generated must be at least 1, got {o.n_generated}")
    if o.bootstrap < d.MIN_BOOTSTRAP:
        raise CxrganError(f"--bootstrap must be at least {d.MIN_BOOTSTRAP}, got {o.bootstrap}")
    if Path(o.train).resolve() == Path(o.heldout).resolve() and not _other_files(o):
        raise CxrganError("--heldout is the --train folder; it must hold films of other patients")


def _other_files(o: PrivacyOptions) -> bool:
    """Whether the sides read different label files (then one folder may hold both)."""
    if o.labels is None or o.heldout_labels is None:
        return False
    return o.labels.file.resolve() != o.heldout_labels.file.resolve()


def open_reference(o: PrivacyOptions, target: Target, device: str) -> Target | None:
    if o.reference is None:
        return None
    ref = open_target(o.reference, o.checkpoint, device, "--reference")
    if ref.path.resolve() == target.path.resolve():
        raise CxrganError("--reference is the audited run; pass a generator trained on others")
    if ref.spec.resolution != target.spec.resolution:
        raise CxrganError(
            f"--reference {o.reference} draws {ref.spec.resolution} px images, the audited run "
            f"{target.spec.resolution} px; the calibration compares the same films at one size"
        )
    if tuple(ref.spec.classes) != tuple(target.spec.classes):
        raise CxrganError(
            f"--reference {o.reference} draws classes ({', '.join(ref.spec.classes) or 'none'}) "
            f"other than the audited run's ({', '.join(target.spec.classes) or 'none'})"
        )
    return ref


def run_audit(o: PrivacyOptions, log: Log = print) -> Audit:
    check_options(o)
    started = time.perf_counter()
    device = str(resolve_device(o.device))
    target = open_target(o.run, o.checkpoint, device)
    reference = open_reference(o, target, device)

    def load(folder: Path, size: int, fit: str, labels: LabelRequest | None) -> ImageSet:
        return load_folder(folder, size, fit, o.workers, o.progress, o.cache_dir, log, labels)

    films = load_films(o.train, o.heldout, target.spec, target.fit, load, log,
                       (o.labels, o.heldout_labels))  # fmt: skip
    attacks = run_attacks(target, reference, films, o.n_generated, o.seed, device, o.progress, log)
    audit = score_attacks(attacks, films, o.bootstrap, o.seed)
    audit.result = {**_header(o, target, reference, films, device), **audit.result}
    audit.result["seconds"] = round(time.perf_counter() - started, 1)
    audit.result = json_ready(audit.result)
    return audit


def score(members: np.ndarray, nonmembers: np.ndarray, bootstrap: int, seed: int) -> dict:
    """AUC, its 95 % interval, TPR at 1 % FPR and the verdict of one set of scores."""
    result = {
        "auc": auc(members, nonmembers),
        "ci95": list(interval(bootstrap_auc(members, nonmembers, bootstrap, seed))),
        d.TPR_KEY: tpr_at_fpr(members, nonmembers, d.FPR),
        "n_members": len(members),
        "n_nonmembers": len(nonmembers),
    }
    result["verdict"] = sentence(result)
    return result


def score_attacks(attacks: list[Scores], films: Films, bootstrap: int, seed: int) -> Audit:
    """Every attack over all films and, for a conditional run, per class."""
    out: dict[str, dict[str, Any]] = {}
    curves = {}
    for a in attacks:
        entry: dict[str, Any] = {"title": a.title, "skipped": a.skipped}
        if a.members is not None and a.nonmembers is not None:
            entry["overall"] = score(a.members, a.nonmembers, bootstrap, seed)
            curves[a.key] = roc_curve(a.members, a.nonmembers)
            if films.classes:
                assert films.member_classes is not None and films.nonmember_classes is not None
                entry["classes"] = {
                    c: score(
                        a.members[films.member_classes == k],
                        a.nonmembers[films.nonmember_classes == k],
                        bootstrap,
                        seed,
                    )
                    for k, c in enumerate(films.classes)
                }
        out[a.key] = entry
    return Audit({"attacks": out, "verdict": overall(out)}, curves)


def _header(
    o: PrivacyOptions, target: Target, reference: Target | None, films: Films, device: str
) -> dict[str, Any]:
    """privacy.json's keys before the attacks."""
    per_class: dict[str, Any] = {}
    if films.classes:
        assert films.member_classes is not None and films.nonmember_classes is not None
        per_class = {
            c: {
                "members": int(np.sum(films.member_classes == k)),
                "nonmembers": int(np.sum(films.nonmember_classes == k)),
            }
            for k, c in enumerate(films.classes)
        }
    return {
        "format": FORMAT,
        "cxrgan_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "run": str(Path(o.run).resolve()),
            "train": str(Path(o.train).resolve()),
            "heldout": str(Path(o.heldout).resolve()),
            "reference": None if o.reference is None else str(Path(o.reference).resolve()),
            "checkpoint": o.checkpoint,
            "n_generated": o.n_generated,
            "bootstrap": o.bootstrap,
            "seed": o.seed,
            "confidence": d.CONFIDENCE,
            "fpr": d.FPR,
            "margin": d.MARGIN,
            "image_size": target.spec.resolution,
            "fit": target.fit,
            "device": device,
            "labels": _label_files(o, films),
        },
        "generator": target.source,
        "reference": None if reference is None else reference.source,
        "classes": list(films.classes),
        "counts": {
            "members": len(films.members),
            "nonmembers": len(films.nonmembers),
            "classes": per_class,
            "patients": films.patients,
            "patients_from": films.patients_from,
        },
        "statistics": {
            "score": "higher means more likely a member: D's logit, or minus a distance",
            "auc": "Mann-Whitney U / (members x non-members), tied scores counted half",
            "ci95": f"percentile interval of {o.bootstrap} bootstrap resamples, members and "
            f"non-members resampled separately with replacement, seed {o.seed}",
            "tpr": f"share of members above the highest threshold that flags at most "
            f"{d.FPR:.0%} of the non-members",
            "verdict_rule": RULE,
        },
    }


def _label_files(o: PrivacyOptions, films: Films) -> dict[str, Any] | None:
    """The label files that gave the films' classes and patients, their rule, and what the rule
    kept of each side's file (images per class, dropped and why)."""
    if o.labels is None or o.heldout_labels is None:
        return None
    return {"train": str(o.labels.file.resolve()), "heldout": str(o.heldout_labels.file.resolve()),
            "format": o.labels.options.format, "rule": asdict(o.labels.rule),
            "per_side": films.label_records}  # fmt: skip


def default_json(run: Path) -> Path:
    return Path(run) / d.PRIVACY_JSON


def write_outputs(audit: Audit, json_path: Path, png_path: Path) -> None:
    """privacy.json and the ROC plot."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(json_path, ".json") as tmp:
        tmp.write_text(json_text(audit.result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    plot_roc(audit.result, audit.curves, png_path)


def attack_lines(result: Mapping[str, Any]) -> list[str]:
    """The printed summary: one line per attack (and class), then the verdict."""
    lines = []
    for a in result["attacks"].values():
        if a.get("skipped"):
            lines.append(f"{a['title']}: {a['skipped']}")
            continue
        parts = {"all": a["overall"], **a.get("classes", {})}
        for name, s in parts.items():
            where = "" if name == "all" else f" [{name}]"
            lines.append(
                f"{a['title']}{where}: AUC {s['auc']:.3f} [{s['ci95'][0]:.3f}, "
                f"{s['ci95'][1]:.3f}], TPR at {d.FPR:.0%} FPR {s[d.TPR_KEY]:.3f}"
            )
    lines.append(f"verdict: {result['verdict']['text']}")
    return lines
