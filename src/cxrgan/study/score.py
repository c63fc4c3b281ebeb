"""`cxrgan turing score`: readers' answers against the key.

A "positive" is a fake: sensitivity is the share of fakes a reader called fake, specificity the
share of real images called real. The ROC AUC ranks images by a reader's suspicion, from
"real, certain" (-5) through "real, guess" (-1) and "fake, guess" (1) to "fake, certain" (5).
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from cxrgan.errors import CxrganError
from cxrgan.files import atomic_path, json_text
from cxrgan.study.make import IMAGES, KEY, write_text
from cxrgan.study.stats import binom_two_sided, cohen_kappa, fleiss_kappa, roc_auc

SCORE_JSON = "score.json"
SCORE_HTML = "score.html"
RUN_LINK = "turing.json"  # in the run: where its study's summary is
GRID_MAX = 16


@dataclass
class Reader:
    name: str
    file: str
    answers: dict[str, dict[str, Any]]  # id -> {"answer": "R"|"F", "confidence": 1..5}


def load_key(study: Path) -> dict[str, Any]:
    path = Path(study) / KEY
    try:
        key = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise CxrganError(
            f"{study} is not a study: no {KEY} (made by `cxrgan turing make`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise CxrganError(f"cannot read {path}: {exc}") from None
    return key


def load_answers(path: Path, key: dict[str, Any]) -> Reader:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CxrganError(f"cannot read answers {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
        raise CxrganError(f"{path}: not an answers file (exported from the study page)")
    if data.get("study") != key["study"]:
        raise CxrganError(f"{path}: answers to another study ({data.get('study')})")
    known = {i["id"] for i in key["images"]}
    answers = {}
    for id_, a in data["answers"].items():
        if id_ not in known:
            raise CxrganError(f"{path}: image id {id_} is not in this study")
        if a.get("answer") not in ("R", "F") or a.get("confidence") not in (1, 2, 3, 4, 5):
            raise CxrganError(f"{path}: answer {a!r} for {id_} is not R/F with confidence 1-5")
        answers[id_] = a
    return Reader(str(data.get("reader") or Path(path).stem), str(path), answers)


def _suspicion(a: dict[str, Any]) -> int:
    return a["confidence"] if a["answer"] == "F" else -a["confidence"]


def reader_scores(reader: Reader, truth: dict[str, str]) -> dict[str, Any]:
    ids = list(reader.answers)
    calls = {i: reader.answers[i]["answer"] == "F" for i in ids}
    fakes = [i for i in ids if truth[i] == "fake"]
    reals = [i for i in ids if truth[i] == "real"]
    correct = sum(calls[i] == (truth[i] == "fake") for i in ids)
    n = len(ids)
    return {
        "reader": reader.name,
        "file": reader.file,
        "answered": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "sensitivity": sum(calls[i] for i in fakes) / len(fakes) if fakes else None,
        "specificity": sum(not calls[i] for i in reals) / len(reals) if reals else None,
        "p_value": binom_two_sided(correct, n, 0.5),
        "auc": roc_auc(
            [_suspicion(reader.answers[i]) for i in fakes],
            [_suspicion(reader.answers[i]) for i in reals],
        ),
    }


def agreement(readers: list[Reader]) -> dict[str, Any]:
    pairs = []
    for a, b in itertools.combinations(readers, 2):
        common = sorted(set(a.answers) & set(b.answers))
        pairs.append(
            {
                "readers": [a.name, b.name],
                "images": len(common),
                "cohen_kappa": cohen_kappa(
                    [a.answers[i]["answer"] for i in common],
                    [b.answers[i]["answer"] for i in common],
                ),
            }
        )
    everyone = sorted(set.intersection(*(set(r.answers) for r in readers))) if readers else []
    fleiss = fleiss_kappa([[r.answers[i]["answer"] for r in readers] for i in everyone])
    return {"pairs": pairs, "fleiss_kappa": fleiss, "fleiss_images": len(everyone)}


def called_fake(readers: list[Reader], key: dict[str, Any], truth: str) -> list[dict[str, Any]]:
    """Images of `truth` by the share of readers who called them fake, highest first."""
    out = []
    for image in key["images"]:
        if image["truth"] != truth:
            continue
        votes = [r.answers[image["id"]]["answer"] for r in readers if image["id"] in r.answers]
        if votes:
            share = votes.count("F") / len(votes)
            out.append(
                {
                    "id": image["id"],
                    "class": image["class"],
                    "called_fake": share,
                    "readers": len(votes),
                }
            )
    return sorted(out, key=lambda x: (-x["called_fake"], x["id"]))


def _grid(study: Path, images: list[dict[str, Any]], out: Path) -> Path | None:
    tiles = []
    for image in images[:GRID_MAX]:
        try:
            tiles.append(Image.open(study / IMAGES / f"{image['id']}.png").convert("L"))
        except OSError:
            continue
    if not tiles:
        return None
    size = max(t.width for t in tiles)
    cols = min(len(tiles), 4)
    rows = math.ceil(len(tiles) / cols)
    grid = Image.new("L", (cols * size + (cols - 1) * 2, rows * size + (rows - 1) * 2), 255)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        grid.paste(tile.resize((size, size)), (c * (size + 2), r * (size + 2)))
    with atomic_path(out, ".png") as tmp:
        grid.save(tmp)
    return out


def score_study(study: Path, answer_files: list[Path]) -> dict[str, Any]:
    """Score every answers file; writes STUDY/score.json, score.html and the two grids."""
    study = Path(study)
    key = load_key(study)
    if not answer_files:
        raise CxrganError("no answers files given")
    readers = [load_answers(p, key) for p in answer_files]
    truth = {i["id"]: i["truth"] for i in key["images"]}
    caught = [x for x in called_fake(readers, key, "fake") if x["called_fake"] > 0]
    suspected = [x for x in called_fake(readers, key, "real") if x["called_fake"] > 0]
    grids = {
        "fakes_caught": _grid(study, caught, study / "fakes_caught.png"),
        "reals_called_fake": _grid(study, suspected, study / "reals_called_fake.png"),
    }
    per_reader = [reader_scores(r, truth) for r in readers]
    summary = {
        "format": 1,
        "study": key["study"],
        "scored": datetime.now(UTC).isoformat(timespec="seconds"),
        "images": len(key["images"]),
        "fakes": sum(t == "fake" for t in truth.values()),
        "reals": sum(t == "real" for t in truth.values()),
        "run": key.get("run"),
        "readers": per_reader,
        "mean_accuracy": _mean([r["accuracy"] for r in per_reader]),
        "agreement": agreement(readers),
        "fakes_caught": caught[:GRID_MAX],
        "reals_called_fake": suspected[:GRID_MAX],
        "grids": {k: v.name if v else None for k, v in grids.items()},
    }
    write_text(study / SCORE_JSON, json_text(summary, indent=1) + "\n")
    write_text(study / SCORE_HTML, summary_page(summary, grids))
    run = _run_of(study, key)
    if run is not None:
        link = {
            "study": str(study.resolve()),
            "summary": str((study / SCORE_HTML).resolve()),
            "score": str((study / SCORE_JSON).resolve()),
            "readers": len(readers),
            "mean_accuracy": summary["mean_accuracy"],
        }
        write_text(run / RUN_LINK, json_text(link, indent=1) + "\n")
    return summary


def _run_of(study: Path, key: dict[str, Any]) -> Path | None:
    """The run the study belongs to: the one it drew from, else one it lives inside."""
    if key.get("run") and (Path(key["run"]) / "config.json").is_file():
        return Path(key["run"])
    for parent in study.resolve().parents:
        if (parent / "config.json").is_file() and (parent / "checkpoints").is_dir():
            return parent
    return None


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if value < 0.001 and value != 0 else f"{value:.{digits}f}"
    return html.escape(str(value))


def _img(path: Path | None) -> str:
    if path is None:
        return "<p>none</p>"
    uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return f'<img class="grid" src="{uri}" alt="{html.escape(path.stem)}">'


def summary_page(s: dict[str, Any], grids: dict[str, Path | None]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r['reader'])}</td><td>{r['answered']}</td>"
        f"<td>{_fmt(r['accuracy'])}</td><td>{_fmt(r['sensitivity'])}</td>"
        f"<td>{_fmt(r['specificity'])}</td><td>{_fmt(r['p_value'])}</td>"
        f"<td>{_fmt(r['auc'])}</td></tr>"
        for r in s["readers"]
    )
    pairs = "".join(
        f"<tr><td>{html.escape(' / '.join(p['readers']))}</td><td>{p['images']}</td>"
        f"<td>{_fmt(p['cohen_kappa'])}</td></tr>"
        for p in s["agreement"]["pairs"]
    )
    ag = s["agreement"]
    if len(s["readers"]) < 2:
        agreement = "<p>Agreement between readers needs two readers or more.</p>"
    else:
        agreement = (
            f"<p>Fleiss' κ over all readers: {_fmt(ag['fleiss_kappa'])} ({ag['fleiss_images']} "
            "images every reader answered).</p><table><tr><th>readers</th><th>images</th>"
            f"<th>Cohen's κ</th></tr>{pairs}</table>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Reading study: results</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;max-width:60em;margin:1em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%;image-rendering:pixelated}}
img.grid{{width:100%;max-width:520px}}
.grids{{display:flex;gap:2em}}.grids div{{flex:1}}</style></head><body>
<h1>Reading study: can readers tell real from generated?</h1>
<p>{s["images"]} images ({s["reals"]} real, {s["fakes"]} generated), {len(s["readers"])}
reader(s); mean accuracy {_fmt(s["mean_accuracy"])} (0.5 is chance). A positive is a generated
image: sensitivity is the share of generated images called fake, specificity the share of real
ones called real. p: exact two-sided binomial test of the reader's accuracy against 0.5. AUC
from the confidence ratings.</p>
<table><tr><th>reader</th><th>answered</th><th>accuracy</th><th>sensitivity</th>
<th>specificity</th><th>p</th><th>AUC</th></tr>{rows}</table>
<h2>Agreement</h2>
{agreement}
<div class="grids"><div><h2>Generated images caught most often</h2>
{_img(grids["fakes_caught"])}</div><div><h2>Real images most often called fake</h2>
{_img(grids["reals_called_fake"])}</div></div>
<p>Study {html.escape(s["study"])}, scored {html.escape(s["scored"])}.</p>
</body></html>
"""
