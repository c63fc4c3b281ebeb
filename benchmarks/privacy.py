"""Privacy against quality (issue 25, docs/privacy.md): the default recipe with and without
differentially private training, each audited by `cxrgan privacy`, and a positive control the
audit must catch.

Protocol: benchmarks/quality.py's Kaggle split at 64 px (about 15 % of patients held out, never
trained on; the same folders of links, made by its link_split). Rows, trained one after another
with `cxrgan train --minutes`:

- default-10, default-30: the default recipe (small-data: batch 16, EMA, ADA) for 10 and 30 min;
- dp10-10, dp10-30: the same with --dp-epsilon 10 (ADA at the fixed --dp-ada-p under DP);
- dp1-10, dp1-30: the same with --dp-epsilon 1;
- control: a generator made to memorise: CONTROL_FILMS training films drawn by patient, no
  augmentation, trained CONTROL_MINUTES (thousands of passes over each film).

Every DP row uses δ = 1e-5 (below 1 / the 4,448 training films, 2.2e-4). Its budget is spent
over a number of steps fixed in advance (the noise is chosen for it), so the benchmark first
measures DP training's steps per minute on this machine (a short probe run, kept in
dp_rate.json) and plans PLAN_SHARE of what the minutes allow: the run ends when its budget is
spent, or at its minutes with less spent.

Each row is then judged: held-out FWD, precision and recall of its EMA generator (n = the
held-out count, as quality.py), images/s, ε spent (config.json's stopped.privacy), and the
audit of `cxrgan privacy` (cxrgan.privacy.audit.run_audit: white-box and black-box attacks, AUC
with 95 % bootstrap interval and TPR at 1 % FPR; members are the row's training films,
non-members the held-out patients' films). Outputs: a JSON file per row, table.md with the
targets, and the ROC and privacy-against-quality figures (docs/images/ by default).

    python benchmarks/privacy.py                        # everything (~3 h alone on 2 cores)
    python benchmarks/privacy.py --rows control         # some rows
    python benchmarks/privacy.py --table                # the table of the finished rows
    python benchmarks/privacy.py --minutes 0.3 --subset 200 --n-generated 200 \\
        --out runs/bench-privacy-smoke --images runs/bench-privacy-smoke/images   # smoke test

Finished rows are skipped on the next start; a row cut off mid-training resumes from its
checkpoint. Run it alone: another process on the same cores changes how much each row trains.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import privacy_table as pt
import quality as q

from cxrgan.data.folder import class_labels, load_folder
from cxrgan.data.split import sample_by_patient
from cxrgan.inference.generate import generate_images
from cxrgan.metrics import evaluate_sets

IMAGE_SIZE = 64
DELTA = 1e-5
CONTROL_FILMS = 32  # a few dozen films: above the audit's 20 members, few enough to memorise
CONTROL_MINUTES = 20.0
PLAN_SHARE = 0.9  # of the steps the minutes allow: the budget is spent before the minutes end
PROBE_MINUTES = 1.0
ROC_POINTS = 300  # points kept of each ROC curve in a row's JSON


@dataclass(frozen=True)
class Row:
    name: str
    title: str
    minutes: float  # at the default --minutes 10
    epsilon: float | None = None
    control: bool = False


ROWS = {
    r.name: r
    for r in (
        Row("default-10", "default recipe, 10 min", 10),
        Row("default-30", "default recipe, 30 min", 30),
        Row("dp10-10", "ε=10, 10 min", 10, 10.0),
        Row("dp10-30", "ε=10, 30 min", 30, 10.0),
        Row("dp1-10", "ε=1, 10 min", 10, 1.0),
        Row("dp1-30", "ε=1, 30 min", 30, 1.0),
        Row(
            "control",
            f"positive control ({CONTROL_FILMS} films, no aug.)",
            CONTROL_MINUTES,
            control=True,
        ),
    )
}


def row_minutes(row: Row, minutes: float) -> float:
    """A row's training minutes when the 10-minute rows get `minutes` (--minutes scales all)."""
    return row.minutes * minutes / 10


# ------------------------------------------------------------------------------------------------
# Data


def subset_folder(source: Path, out: Path, n: int) -> Path:
    """`n` films of `source` drawn by patient (whole patients), as a folder of links."""
    if out.is_dir():
        return out
    files = sorted(p for p in source.rglob("*") if not p.is_dir())
    classes = class_labels([f.relative_to(source).as_posix() for f in files])
    names = sorted(set(classes))
    chosen = sample_by_patient(files, [names.index(c) for c in classes], n, seed=q.SPLIT_SEED)
    tmp = out.with_name(out.name + ".tmp")
    for i in chosen:
        link = tmp / classes[i] / files[i].name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(files[i].resolve())
    tmp.rename(out)
    return out


def folders(a: argparse.Namespace) -> dict[str, Path]:
    """train (every training patient, or --subset of them), control, heldout."""
    split = q.link_split(a.data, a.out)
    train = split["train"]
    if a.subset:
        train = subset_folder(train, a.out / "data" / f"train-{a.subset}", a.subset)
    control = subset_folder(split["train"], a.out / "data" / "control", CONTROL_FILMS)
    return {"train": train, "control": control, "heldout": split["heldout"]}


# ------------------------------------------------------------------------------------------------
# Training


def train_args(row: Row, data: Path, minutes: float, plan: int | None) -> list[str]:
    args = [
        "--data",
        str(data),
        "--image-size",
        str(IMAGE_SIZE),
        "--minutes",
        f"{minutes:g}",
        "--seed",
        "0",
        "--log-every",
        "50",
    ]
    if row.control:
        args += ["--augment", "none"]
    if row.epsilon is None:
        return [*args, "--epochs", "100000", "--steps-per-epoch", "200"]
    assert plan is not None
    per_epoch = min(200, plan)
    return [
        *args,
        "--epochs",
        str(max(1, plan // per_epoch)),
        "--steps-per-epoch",
        str(per_epoch),
        "--dp-epsilon",
        f"{row.epsilon:g}",
        "--dp-delta",
        f"{DELTA:g}",
    ]


def train(run: Path, args: list[str], minutes: float) -> None:
    """`cxrgan train` in a subprocess, as a user runs it; resumes a run cut off before."""
    config = run / "config.json"
    if config.is_file():
        stopped = json.loads(config.read_text()).get("stopped") or {}
        if str(stopped.get("reason", "")).startswith(("budget", "completed")):
            return
        args = ["--resume", str(run), "--minutes", f"{minutes:g}"]
    else:
        args = [*args, "--out", str(run)]
    cmd = [sys.executable, "-m", "cxrgan", "train", *args, "--no-progress"]
    print(f"  training {run.name}: {' '.join(cmd[3:])}", flush=True)
    run.parent.mkdir(parents=True, exist_ok=True)
    with (run.parent / f"{run.name}.log").open("a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=q.REPO)


def dp_steps_per_minute(a: argparse.Namespace, train_folder: Path) -> float:
    """DP training's steps per minute on this machine: a probe run with a budget planned far
    beyond its minutes (kept in dp_rate.json, so every DP row plans with the same rate)."""
    path = a.out / "dp_rate.json"
    if path.is_file():
        return float(json.loads(path.read_text())["steps_per_minute"])
    minutes = min(PROBE_MINUTES, a.minutes / 2)
    run = a.out / "runs" / "dp-probe"
    probe = Row("dp-probe", "probe", minutes, 10.0)
    train(run, train_args(probe, train_folder, minutes, plan=100_000), minutes)
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if "loss_d" in r][-1]
    rate = last["step"] / max(last["elapsed_s"], 1e-9) * 60
    path.write_text(
        json.dumps(
            {"steps_per_minute": rate, "probe_minutes": minutes, "steps": last["step"]}, indent=2
        )
        + "\n"
    )
    return rate


# ------------------------------------------------------------------------------------------------
# Judging


def audit(run: Path, train_folder: Path, heldout: Path, a: argparse.Namespace) -> dict[str, Any]:
    """`cxrgan privacy RUN --train … --heldout …`'s audit, its privacy.json and ROC plot written
    into the run as the command writes them; the row keeps the figures and thinned curves."""
    from cxrgan.privacy.audit import PrivacyOptions, default_json, run_audit, write_outputs
    from cxrgan.privacy.defaults import ROC_PNG

    options = PrivacyOptions(run, train_folder, heldout, n_generated=a.n_generated, progress=False)
    result = run_audit(options, log=lambda line: None)
    write_outputs(result, default_json(run), run / ROC_PNG)
    attacks = {
        k: {
            "title": v["title"],
            "auc": v["overall"]["auc"],
            "ci95": v["overall"]["ci95"],
            "tpr_at_1pct_fpr": v["overall"]["tpr_at_1pct_fpr"],
        }
        for k, v in result.result["attacks"].items()
        if not v.get("skipped")
    }
    roc = {k: thin(*curve) for k, curve in result.curves.items()}
    return {
        "attacks": attacks,
        "roc": roc,
        "verdict": result.result["verdict"]["text"],
        "counts": {k: result.result["counts"][k] for k in ("members", "nonmembers")},
    }


def thin(fpr: np.ndarray, tpr: np.ndarray) -> dict[str, list[float]]:
    """At most ROC_POINTS points of a curve, its ends and the low false-positive rates kept."""
    if len(fpr) > ROC_POINTS:
        keep = np.unique(np.r_[np.geomspace(1, len(fpr), ROC_POINTS).astype(int) - 1, 0])
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(x), 6) for x in fpr], "tpr": [round(float(x), 6) for x in tpr]}


def judge(run: Path, heldout: np.ndarray) -> dict[str, Any]:
    fake = generate_images(run, len(heldout), seed=1)  # G_ema, as quality.py judges
    scores = evaluate_sets(heldout, fake, n=len(heldout), seed=0)
    info = json.loads((run / "config.json").read_text())
    privacy = info["stopped"].get("privacy") or {}
    return {
        "fwd": scores["fwd"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "n_judged": len(heldout),
        "images_per_s": q.throughput(run),
        "steps": info["stopped"]["step"],
        "stopped": info["stopped"]["reason"],
        "epsilon_spent": privacy.get("epsilon"),
        "privacy": privacy or None,
    }


def measure(a: argparse.Namespace, row: Row, data: dict[str, Path], heldout: np.ndarray) -> dict:
    minutes = row_minutes(row, a.minutes)
    train_folder = data["control" if row.control else "train"]
    plan = None
    if row.epsilon is not None:
        plan = max(2, int(PLAN_SHARE * dp_steps_per_minute(a, data["train"]) * minutes))
    run = a.out / "runs" / row.name
    start, origin = time.perf_counter(), q.provenance()
    train(run, train_args(row, train_folder, minutes, plan), minutes)
    origin["load_after"] = round(os.getloadavg()[0], 2)
    result = {
        "row": row.name,
        "title": row.title,
        "minutes": row.minutes,
        "trained_minutes": minutes,
        "epsilon_target": row.epsilon,
        "delta": DELTA if row.epsilon else None,
        "planned_steps": plan,
        "control": row.control,
        "run": row.name,
        **judge(run, heldout),
        **audit(run, train_folder, data["heldout"], a),
        "wall_s": round(time.perf_counter() - start, 1),
        "provenance": origin,
    }
    print(f"  {row.name}: FWD {result['fwd']:.4f}, {result['verdict']}", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", default=",".join(ROWS), help="comma list of the rows to run")
    p.add_argument(
        "--minutes",
        type=float,
        default=10.0,
        help="training minutes of the 10-minute rows; the others scale with it",
    )
    p.add_argument(
        "--subset",
        type=int,
        default=0,
        help="train on this many training films drawn by patient (smoke tests)",
    )
    p.add_argument("--n-generated", type=int, default=2000, help="cxrgan privacy's --n-generated")
    p.add_argument("--data", type=Path, default=q.DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=q.REPO / "runs" / "bench-privacy")
    p.add_argument(
        "--images",
        type=Path,
        default=q.REPO / "docs" / "images",
        help="where the ROC and trade-off figures go",
    )
    p.add_argument("--table", action="store_true", help="only tabulate the finished rows")
    p.add_argument(
        "--mix-commits",
        action="store_true",
        help="tabulate rows measured on different code (refused by default)",
    )
    a = p.parse_args()
    if not a.data.is_dir():
        sys.exit(f"data not found: {a.data}")
    unknown = [r for r in a.rows.split(",") if r not in ROWS]
    if unknown:
        sys.exit(f"unknown rows {', '.join(unknown)}: the rows are {', '.join(ROWS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    data = folders(a)
    heldout = None
    done = []
    for name in a.rows.split(","):
        path = a.out / f"{name}.json"
        if not path.is_file() and not a.table:
            if heldout is None:
                heldout = load_folder(data["heldout"], IMAGE_SIZE, progress=False).images
            path.write_text(json.dumps(measure(a, ROWS[name], data, heldout), indent=2) + "\n")
        if path.is_file():
            done.append(json.loads(path.read_text()))
    q.check_one_commit(done, a.mix_commits)
    report(done, a)


def report(rows: list[dict[str, Any]], a: argparse.Namespace) -> None:
    origins = [o for r in rows if (o := r.get("provenance"))]
    header = [
        f"measured on {m} with torch {t}"
        for m, t in sorted({(o["machine"], o["torch"]) for o in origins})
    ]
    header += [
        f"trained minutes: {a.minutes:g} per 10-minute row; δ = {DELTA:g}; "
        f"cxrgan privacy --n-generated {a.n_generated}"
    ]
    text = pt.markdown(rows, header)
    print(text)
    (a.out / "table.md").write_text(text)
    if rows:
        pt.plot_roc(rows, a.images / "privacy_roc_benchmark.png")
        pt.plot_tradeoff(rows, a.images / "privacy_tradeoff.png")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
