"""Held-out quality at equal CPU minutes: the tutorial, the blog's setting, the blog's setting
with an EMA generator, and cxrgan's recommended recipe.

Protocol (issue 9): every row trains one after another on this machine for the same budget of
training minutes (`cxrgan train --minutes`), on the Kaggle train split at 64 px with about 15 %
of patients held out (split by the patient ids in the file names) and never trained on. Each
row is then judged with its EMA generator where it has one: FWD, KID and precision/recall
against the held-out images, the memorised share against its training images, images/s, and a
sample grid. The real-vs-real floor is the training images against the held-out ones at the
same n. Regimes: `full` (every training patient), `small` (500 training images drawn by
patient: where D overfits and augmentation matters most) and `full128` (128 px, blog against
the recommended recipe).

Every finished row is kept in the output folder and skipped on the next start, and a row cut
off mid-training resumes from its checkpoint, so the table can be run in parts:

    python benchmarks/quality.py                       # everything (~100 min at the default)
    python benchmarks/quality.py --regime small --recipes blog,blog+ema
    python benchmarks/quality.py --regime small --seeds 1   # the same rows, another seed
    python benchmarks/quality.py --table               # print the table of the finished rows

Run it alone: another process on the same cores changes how much each row trains.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import quality_over_time as qt
import torch

from cxrgan.data.folder import class_labels, load_folder
from cxrgan.data.split import sample_by_patient, split_by_patient
from cxrgan.inference.generate import generate_images
from cxrgan.metrics import evaluate_sets, memorisation
from cxrgan.reporting.plots import make_grid, save_png_atomic

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "kaggle-chest-xray-224" / "train"
HELDOUT = 0.15
SMALL_N = 500
SPLIT_SEED = 0


@dataclass(frozen=True)
class Regime:
    name: str
    image_size: int
    small: bool  # 500 training images drawn by patient, instead of every training patient
    rows: tuple[str, ...]
    minutes: float = 10.0  # training minutes per row (--minutes overrides)
    # Long regimes also evaluate during training, every `eval_minutes` of training time,
    # against the held-out films at n = their count: the quality-over-time figure.
    eval_minutes: float | None = None


ROWS_FILE = Path(__file__).with_name("quality_rows.toml")
ROWS = tomllib.loads(ROWS_FILE.read_text())
REGIMES = {
    r.name: r
    for r in (
        Regime("full", 64, False, tuple(ROWS["regimes"]["full"])),
        Regime("small", 64, True, tuple(ROWS["regimes"]["small"])),
        Regime("full128", 128, False, tuple(ROWS["regimes"]["full128"])),
        Regime("long", 64, False, tuple(ROWS["regimes"]["long"]), minutes=30.0, eval_minutes=5.0),
        Regime(
            "long128", 128, False, tuple(ROWS["regimes"]["long128"]), minutes=30.0, eval_minutes=5.0
        ),
    )
}


def row_settings(row: str) -> dict[str, Any]:
    """A row's settings from quality_rows.toml; an unknown row is refused with the names."""
    if row not in ROWS["rows"]:
        sys.exit(f"unknown row {row!r}: {ROWS_FILE.name} has {', '.join(ROWS['rows'])}")
    return dict(ROWS["rows"][row])


def row_args(row: str) -> list[str]:
    """A row's settings as `cxrgan train` options."""
    return [f"--{k.replace('_', '-')}={v}" for k, v in row_settings(row).items()]


# ------------------------------------------------------------------------------------------------
# Data: patient-disjoint folders of links


def link_split(data: Path, out: Path) -> dict[str, Path]:
    """Folders of symlinks: train (all training patients), small (500 of them), heldout."""
    folders = {name: out / "data" / name for name in ("train", "small", "heldout")}
    done = out / "data" / "split.json"
    if done.is_file():
        return folders
    files = sorted(p for p in data.rglob("*") if p.is_file() and not p.name.startswith("."))
    classes = class_labels([f.relative_to(data).as_posix() for f in files])
    names = sorted(set(classes))
    labels = [names.index(c) for c in classes]
    train, held = split_by_patient(files, labels, HELDOUT, seed=SPLIT_SEED)
    small = train[sample_by_patient([files[i] for i in train], [labels[i] for i in train],
                                    SMALL_N, seed=SPLIT_SEED)]  # fmt: skip
    for name, idx in (("train", train), ("small", small), ("heldout", held)):
        for i in idx:
            link = folders[name] / classes[i] / files[i].name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(files[i].resolve())
    counts = {"train": len(train), "small": len(small), "heldout": len(held)}
    done.write_text(json.dumps({"source": str(data), "heldout": HELDOUT, **counts}, indent=2))
    return folders


# ------------------------------------------------------------------------------------------------
# Training a row (a subprocess per row, as a user would run it; resumable)


def run_name(regime: Regime, row: str, seed: int) -> str:
    """`full-blog`, and `full-blog-s1` for another training seed (seed 0 keeps the plain name)."""
    return f"{regime.name}-{row}" + (f"-s{seed}" if seed else "")


def train_row(run: Path, sets: RegimeImages, row: str, minutes: float, seed: int) -> None:
    config = run / "config.json"
    regime = sets.regime
    if config.is_file():
        stopped = json.loads(config.read_text()).get("stopped") or {}
        if str(stopped.get("reason", "")).startswith("budget"):
            return
        args = ["--resume", str(run), "--minutes", str(minutes)]
    else:
        args = [*row_args(row), "--data", str(sets.train_folder), "--image-size",
                 str(regime.image_size), "--minutes", str(minutes), "--epochs", "100000",
                 "--steps-per-epoch", "200", "--seed", str(seed), "--log-every", "50",
                 "--out", str(run)]  # fmt: skip
        if regime.eval_minutes:
            args += ["--eval-every", f"{regime.eval_minutes:g}", "--eval-unit", "minutes",
                     "--eval-data", str(sets.heldout_folder),
                     "--eval-n", str(len(sets.heldout))]  # fmt: skip
    cmd = [sys.executable, "-m", "cxrgan", "train", *args, "--no-progress"]
    print(f"  training {run.name}: {' '.join(cmd[3:])}", flush=True)
    run.parent.mkdir(parents=True, exist_ok=True)
    with (run.parent / f"{run.name}.log").open("a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def throughput(run: Path) -> float:
    """Training images per second over the whole run (evaluation excluded)."""
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "loss_d" in r]
    batch = json.loads((run / "config.json").read_text())["config"]["batch_size"]
    return train[-1]["step"] * batch / max(train[-1]["elapsed_s"], 1e-9)


# ------------------------------------------------------------------------------------------------
# Provenance: what a row's numbers depend on besides its settings


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def commit() -> str:
    """HEAD's short hash, with `+dirty` when src/ or benchmarks/ differ from it."""
    dirty = git("status", "--porcelain", "--", "src", "benchmarks")
    return (git("rev-parse", "--short=10", "HEAD") or "unknown") + ("+dirty" if dirty else "")


def code_version() -> str:
    """What a row's numbers depend on: the files of src/ and benchmarks/ at HEAD (their git
    hashes, hashed), without quality_rows.toml, so adding a row or changing only docs or tests
    keeps measured rows comparable; `+dirty` when those files differ from HEAD."""
    rows_file = ROWS_FILE.relative_to(REPO).as_posix()
    listing = [line for line in git("ls-tree", "-r", "HEAD", "src", "benchmarks").splitlines()
               if not line.endswith("\t" + rows_file)]  # fmt: skip
    if not listing:
        return "unknown"
    digest = hashlib.sha1("\n".join(listing).encode()).hexdigest()[:10]
    dirty = git("status", "--porcelain", "--", "src", "benchmarks", f":!{rows_file}")
    return digest + ("+dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def provenance() -> dict[str, Any]:
    """Recorded when a row starts training; `load_after` joins it when the row ends. Load
    averages are the 1-minute ones: above the core count, something else shared the cores."""
    return {
        "commit": commit(),
        "code": code_version(),
        "torch": torch.__version__,
        "machine": f"{platform.node()}: {cpu_model()}, {os.cpu_count()} cores",
        "load_before": round(os.getloadavg()[0], 2),
        "measured": datetime.now(UTC).isoformat(timespec="minutes"),
    }


def conditions(rows: list[dict[str, Any]]) -> str:
    """When the rows were measured and the machine's load meanwhile, for a figure's caption:
    '2026-12-07, load 0.8-2.0 (1-minute average, 2 cores), commit 5ba85edff9'."""
    origins = [r["provenance"] for r in rows if r.get("provenance")]
    days = sorted({o["measured"][:10] for o in origins if o.get("measured")})
    loads = [
        v for o in origins for k in ("load_before", "load_after") if (v := o.get(k)) is not None
    ]
    commits = sorted({o["commit"] for o in origins if o.get("commit")})
    parts = [" to ".join(dict.fromkeys([days[0], days[-1]])) if days else "date not recorded",
             f"load {min(loads):.1f}-{max(loads):.1f} (1-minute average, {os.cpu_count()} cores)"
             if loads else "load not recorded"]  # fmt: skip
    if commits:
        parts.append(f"commit {', '.join(commits)}")
    return ", ".join(parts)


def check_one_commit(rows: list[dict[str, Any]], allow_mix: bool) -> None:
    """Rows measured on different code are not comparable: refuse to tabulate them together.
    Rows recorded before `code` was kept compare by commit."""
    origins = [r.get("provenance", {}) for r in rows if r.get("steps") is not None]
    codes = sorted({o.get("code") or o.get("commit", "unknown") for o in origins})
    if len(codes) > 1 and not allow_mix:
        commits = sorted({o.get("commit", "unknown") for o in origins})
        sys.exit(f"rows come from different code (commits {', '.join(commits)}): rerun them on "
                 "one commit, or pass --mix-commits to tabulate them anyway")  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Judging a row


def judge(run: Path, row: str, heldout: np.ndarray, train: np.ndarray, out: Path) -> dict[str, Any]:
    fake = generate_images(run, len(heldout), seed=1)  # G_ema where the run kept one
    scores = evaluate_sets(heldout, fake, n=len(heldout), seed=0)
    info = json.loads((run / "config.json").read_text())
    save_png_atomic_grid(fake[:64], out / f"{run.name}.png")
    return {
        "row": row,
        "seed": info["config"]["seed"],
        "fwd": scores["fwd"],
        "fwd_log": scores["fwd_log"],
        "laplacian_ratio": scores["laplacian_ratio"],
        "kid": scores["kid_mean"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "memorised_share": memorisation(train, fake).share,
        "images_per_s": throughput(run),
        "steps": info["stopped"]["step"],
        "minutes": info["config"]["minutes"],
        "ema": info["config"]["ema_kimg"] > 0,
        "settings": row_settings(row),
        "recipe": f"{info['recipe']['name']} v{info['recipe']['version']}",
    }


def floor(heldout: np.ndarray, train: np.ndarray) -> dict[str, Any]:
    """Training images against held-out ones; its memorised share is that of held-out images
    against the training set: what new X-rays of new patients score, the level to read rows by."""
    rng = np.random.default_rng(0)
    real = train[rng.choice(len(train), size=min(len(heldout), len(train)), replace=False)]
    scores = evaluate_sets(heldout, real, n=len(heldout), seed=0)
    return {"row": "real vs real (floor)", "fwd": scores["fwd"], "fwd_log": scores["fwd_log"],
            "laplacian_ratio": scores["laplacian_ratio"], "kid": scores["kid_mean"],
            "precision": scores["precision"], "recall": scores["recall"],
            "memorised_share": memorisation(train, heldout).share,
            "images_per_s": None, "steps": None}  # fmt: skip


def save_png_atomic_grid(images: np.ndarray, path: Path) -> None:
    from PIL import Image

    save_png_atomic(Image.fromarray(make_grid(images)), path)


def side_by_side(rows: list[dict[str, Any]], grids: Path, path: Path, caption: str = "") -> None:
    """One figure: every row's sample grid, named, left to right, each at its full size (one
    figure pixel per image pixel), so texture is judged as it is, not as a thumbnail; the
    caption below says when and on what load it was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    dpi = 100
    shown = [r for r in rows if (grids / f"{r['run']}.png").is_file()]
    images = [Image.open(grids / f"{r['run']}.png") for r in shown]
    width, height = images[0].size
    fig, axes = plt.subplots(1, len(shown), squeeze=False,
                             figsize=(len(shown) * width / dpi, height / dpi + 0.75))  # fmt: skip
    for ax, r, image in zip(axes[0], shown, images, strict=True):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        score = "" if r["fwd"] is None else f"\nFWD {r['fwd']:.3f}"
        ax.set_title(f"{r['row']}{score}", fontsize=9)
        ax.axis("off")
    total = height + 75
    fig.subplots_adjust(left=0, right=1, bottom=25 / total, top=(height + 25) / total, wspace=0.02)
    if caption:
        fig.text(0.5, 8 / total, caption, ha="center", va="bottom", fontsize=8)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------
# The table


def fmt(value: Any, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def with_seed_means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row as measured; after a row trained with several seeds, their mean (the label says
    how many) and the seed-to-seed spread of FWD."""
    out: list[dict[str, Any]] = []
    names = list(dict.fromkeys(r["row"] for r in rows))
    for name in names:
        runs = [r for r in rows if r["row"] == name]
        out += [{**r, "row": f"{name} (seed {r.get('seed', 0)})" if len(runs) > 1 else name}
                for r in runs]  # fmt: skip
        if len(runs) > 1:
            mean = {k: float(np.mean([r[k] for r in runs]))
                    for k in ("fwd", "fwd_log", "laplacian_ratio", "kid", "precision", "recall",
                              "memorised_share", "images_per_s")}  # fmt: skip
            spread = max(r["fwd"] for r in runs) - min(r["fwd"] for r in runs)
            out.append({**mean, "row": f"**{name}, mean of {len(runs)} seeds** "
                        f"(FWD range {spread:.4f})", "steps": None})  # fmt: skip
    return out


def origin_columns(r: dict[str, Any]) -> str:
    """The row's commit and the 1-minute load average before → after its training."""
    o = r.get("provenance")
    if not o:
        return "— | —" if r.get("steps") is not None else " | "
    return f"{o['commit']} | {o['load_before']:.2f} → {o.get('load_after', float('nan')):.2f}"


def machines(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    seen = {(o["machine"], o["torch"]) for rows in results.values() for r in rows
            if (o := r.get("provenance"))}  # fmt: skip
    return [f"measured on {m} with torch {t}" for m, t in sorted(seen)]


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = machines(results)
    for regime, rows in results.items():
        rows = with_seed_means(rows)
        lines += [
            f"\n{regime}",
            "| row | FWD ↓ | log-FWD ↓ | texture ~1 | KID ↓ | precision ↑ | recall ↑ "
            "| memorised ↓ | img/s | steps | commit | load |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for r in rows:
            lines.append(
                f"| {r['row']} | {fmt(r['fwd'], '.4f')} | {fmt(r.get('fwd_log'), '.2f')} | "
                f"{fmt(r.get('laplacian_ratio'), '.2f')} | {fmt(r['kid'], '.3f')} | "
                f"{fmt(r['precision'], '.3f')} | {fmt(r['recall'], '.3f')} | "
                f"{fmt(r['memorised_share'], '.3f')} | {fmt(r['images_per_s'], '.1f')} | "
                f"{fmt(r['steps'], 'd')} | {origin_columns(r)} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=None,
                   help="training minutes per row (default: the regime's, 10 or 30)")  # fmt: skip
    p.add_argument("--regime", default="full,small,full128",
                   help=f"comma list of {', '.join(REGIMES)} (long and long128: 30 minutes "
                   "per row, evaluated every 5)")  # fmt: skip
    p.add_argument(
        "--recipes",
        default=None,
        help="comma list of rows from quality_rows.toml (default: the regime's list there)",
    )
    p.add_argument("--seeds", default="0",
                   help="comma list of training seeds to run each row with (the table shows "
                   "every seed's row and their mean)")  # fmt: skip
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench-quality")
    p.add_argument("--table", action="store_true", help="only print the finished rows")
    p.add_argument(
        "--mix-commits",
        action="store_true",
        help="tabulate rows measured on different commits (refused by default)",
    )
    a = p.parse_args()
    if not a.data.is_dir():
        sys.exit(f"data not found: {a.data}")
    folders = link_split(a.data, a.out)
    results: dict[str, list[dict[str, Any]]] = {}
    for name in a.regime.split(","):
        regime = REGIMES[name]
        rows = a.recipes.split(",") if a.recipes else list(regime.rows)
        seeds = [int(x) for x in a.seeds.split(",")]
        results[name] = run_regime(a, folders, regime, rows, seeds)
    check_one_commit([r for rows in results.values() for r in rows], a.mix_commits)
    text = table(results)
    print(text)
    (a.out / "table.md").write_text(text + "\n")


def run_regime(a: argparse.Namespace, folders: dict[str, Path], regime: Regime,
               rows: list[str], seeds: list[int]) -> list[dict[str, Any]]:  # fmt: skip
    out = a.out / regime.name
    out.mkdir(parents=True, exist_ok=True)
    sets = RegimeImages(folders, regime)
    done = []
    for row in rows:
        for seed in trained_seeds(out, regime, row) if a.table else seeds:
            name = run_name(regime, row, seed)
            path = out / f"{name[len(regime.name) + 1 :]}.json"
            if not path.is_file() and not a.table:
                result = train_and_judge(a, sets, row, seed)
                path.write_text(json.dumps(result, indent=2) + "\n")
            if path.is_file():
                done.append(with_measured(json.loads(path.read_text()), path))
    floor_path = out / "floor.json"
    if not floor_path.is_file() and not a.table:
        floor_path.write_text(json.dumps(floor(sets.heldout, sets.train), indent=2) + "\n")
    firsts = [r for r in done if not r.get("seed")]  # the grids of seed 0
    if firsts:
        if not (out / "real.png").is_file():
            save_png_atomic_grid(sets.heldout[:64], out / "real.png")
        real = {"row": "held-out films", "run": "real", "fwd": None}
        caption = f"{regime.name}, {regime.image_size} px: measured {conditions(done)}"
        side_by_side([real, *firsts], out, out / "side_by_side.png", caption)
    floor_row = json.loads(floor_path.read_text()) if floor_path.is_file() else None
    if regime.eval_minutes and done:
        over_time(out, regime, rows, done, floor_row)
    return done + ([floor_row] if floor_row else [])


def over_time(out: Path, regime: Regime, rows: list[str], done: list[dict[str, Any]],
              floor_row: dict[str, Any] | None) -> None:  # fmt: skip
    """The long regime's quality-over-time figure and its table at 5, 10, 20, 30 minutes."""
    runs = out / "runs"
    curves = {row: [qt.curve(runs / r["run"]) for r in done if r["row"] == row] for row in rows}
    curves = {row: seeds for row, seeds in curves.items() if seeds}
    qt.figure(curves, floor_row, f"{regime.name}: {regime.image_size} px, full split",
              conditions(done), out / "over_time.png")  # fmt: skip
    (out / "over_time.md").write_text("\n".join(qt.marks_table(curves)) + "\n")


def with_measured(row: dict[str, Any], path: Path) -> dict[str, Any]:
    """Rows from before `measured` was recorded: their file's time stands in for it."""
    origin = row.get("provenance")
    if origin is not None and "measured" not in origin:
        stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        origin["measured"] = stamp.isoformat(timespec="minutes")
    return row


def trained_seeds(out: Path, regime: Regime, row: str) -> list[int]:
    """Seed 0 and every other seed `row` has a run directory for (run_name's `-sN`)."""
    base = run_name(regime, row, 0)
    tails = [d.name.rsplit("-s", 1)[1] for d in (out / "runs").glob(f"{base}-s*")]
    return [0, *sorted(int(t) for t in tails if t.isdigit())]


class RegimeImages:
    """A regime's held-out and training images, decoded on first use."""

    def __init__(self, folders: dict[str, Path], regime: Regime):
        self.regime = regime
        self.heldout_folder = folders["heldout"]
        self.train_folder = folders["small" if regime.small else "train"]

    @cached_property
    def heldout(self) -> np.ndarray:
        return load_folder(self.heldout_folder, self.regime.image_size, progress=False).images

    @cached_property
    def train(self) -> np.ndarray:
        return load_folder(self.train_folder, self.regime.image_size, progress=False).images


def train_and_judge(a: argparse.Namespace, sets: RegimeImages, row: str, seed: int) -> dict:
    regime = sets.regime
    run = a.out / regime.name / "runs" / run_name(regime, row, seed)
    start, origin = time.perf_counter(), provenance()
    train_row(run, sets, row, a.minutes or regime.minutes, seed)
    origin["load_after"] = round(os.getloadavg()[0], 2)
    result = {**judge(run, row, sets.heldout, sets.train, a.out / regime.name), "run": run.name,
              "wall_s": round(time.perf_counter() - start, 1), "provenance": origin,
              **qt.decline(qt.curve(run))}  # fmt: skip
    print(f"  {run.name}: FWD {result['fwd']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
