"""The report page of one run: diagnosis, curves, the samples filmstrip, real vs generated,
memorisation, configuration and history."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cxrgan.reporting import thresholds as th
from cxrgan.reporting.formatting import as_number
from cxrgan.reporting.formatting import fmt_value as fmt
from cxrgan.reporting.html_assets import FILMSTRIP_JS
from cxrgan.reporting.html_images import Img, load_image, thumbnail
from cxrgan.reporting.html_page import (
    SEVERITY,
    chip,
    config_value,
    data_table,
    e,
    img_tag,
    kv_table,
    prose,
    render_page,
    section,
)
from cxrgan.reporting.run_data import RunData, load_run
from cxrgan.reporting.run_records import best_evaluation, fwd_floor, load_events, per_class_fwd
from cxrgan.reporting.svg_charts import Series, VLine, column, line_chart, raw_and_smooth

MAX_FRAMES = 40  # filmstrip frames at most: every k-th epoch beyond that (first and last kept)
FRAME_BUDGET = 6 * 2**20  # PNG bytes for the filmstrip; fewer frames when grids are large
# Earlier filmstrip frames are shown 560 px wide: wider grids (image_size 128+) are downscaled
# to that once (cached); 64-px grids (530 px) go in as they are. The latest grid keeps up to
# LATEST_MAX_WIDTH, for a closer look.
FRAME_MAX_WIDTH = 560
LATEST_MAX_WIDTH = 1100
C_LOSS_D, C_LOSS_G = "#e8590c", "#1c7ed6"  # the tutorial's colours: D orange, G blue
C_DX, C_DGZ1, C_DGZ2 = "#2f9e44", "#c2255c", "#f783ac"
C_FWD, C_KID, C_DIV = "#7048e8", "#0c8599", "#0c8599"
C_ADA = "#9c36b5"
C_CLASSES = ("#f08c00", "#2b8a3e", "#1971c2", "#e03131", "#5c940d", "#862e9c")


def build_run_page(path: Path) -> str:
    """The HTML of RUN/report.html."""
    run = load_run(path)
    sections = [
        ("diagnosis", "Diagnosis", _diagnosis_section(run)),
        ("curves", "Curves", _curves_section(run)),
        ("samples", "Samples", _samples_section(run)),
        ("real", "Real vs generated", _real_vs_generated(run)),
        ("memorisation", "Memorisation", _memorisation_section(run)),
        ("turing", "Reading study", _turing_section(run)),
        ("utility", "Utility", _utility_section(run)),
        ("config", "Configuration", _config_section(run)),
        ("history", "History", _history_section(run)),
    ]
    sections = [s for s in sections if s[2]]
    body = _synthetic_banner(run.info) + "".join(s[2] for s in sections)
    header = _run_header(run)
    return render_page(
        f"cxrgan · {run.name}", header, [(a, t) for a, t, _ in sections], body, FILMSTRIP_JS
    )


def _run_header(run: RunData) -> str:
    info, last = run.info, (run.train[-1] if run.train else {})
    stopped = info.get("stopped") if isinstance(info.get("stopped"), dict) else None
    if stopped and as_number(stopped.get("step")) >= as_number(last.get("step", 0)):
        reason = str(stopped.get("reason", "stopped"))
        kind = "ok" if reason == "completed" else "warn"
        status = chip(f"{reason} · epoch {stopped.get('epoch', '?')}", kind)
    else:
        status = chip("in progress" if run.train else "no records yet", "info")
    diag = run.diagnosis
    bits = [
        f"cxrgan {info.get('cxrgan_version', '?')}",
        f"torch {info.get('torch_version', '?')}",
        f"device {info.get('device', '?')}",
    ]
    if last:
        bits.append(f"epoch {last.get('epoch', '?')} · step {fmt(last.get('step'))}")
    return (
        f'<div class="title"><h1>{e(run.name)}</h1>{status}'
        f"{chip(diag.title, SEVERITY.get(diag.state, 'info'), diag.hint())}</div>"
        f'<div class="sub recipe">{e(" · ".join(recipe_bits(run)))}</div>'
        f'<div class="sub">{e(" · ".join(bits))} · <span class="path">{e(run.path)}</span></div>'
    )


def recipe_bits(run: RunData) -> list[str]:
    """What makes this GAN, in words: recipe (name v version, what the run overrode), loss,
    augmentation (with ADA's latest p), EMA, R1, spectral norm. Settings a run predates read as
    their old behaviour (no loss key: bce; no augment: none; no ema_kimg: no EMA)."""
    cfg, info = run.cfg, run.info
    bits = []
    record = info.get("recipe") if isinstance(info.get("recipe"), dict) else None
    name = (record or {}).get("name") or cfg.get("recipe")
    if name:
        text = f"recipe {name}"
        if record and record.get("version") is not None:
            text += f" v{record['version']}"
        overridden = record.get("overridden") if record else None
        if isinstance(overridden, dict) and overridden:
            text += f" (overridden: {', '.join(map(str, overridden))})"
        bits.append(text)
    bits.append(f"loss {cfg.get('loss') or th.DEFAULT_LOSS}")
    augment = cfg.get("augment") or "none"
    p = _latest(run.train, "augment_p")
    bits.append(f"augment {augment}" + (f" (p {fmt(p)})" if math.isfinite(p) else ""))
    ema = as_number(cfg.get("ema_kimg"))
    bits.append(f"EMA {fmt(ema)} kimg" if ema > 0 else "no EMA")
    r1 = as_number(cfg.get("r1_gamma"))
    if r1 > 0:
        bits.append(f"R1 γ {fmt(r1)}")
    if cfg.get("d_spectral_norm") is True:
        bits.append("D spectral norm")
    return bits


def _latest(records: Sequence[Mapping[str, Any]], key: str) -> float:
    """The last finite value of `key` (NaN when no record has one)."""
    for r in reversed(records):
        v = as_number(r.get(key))
        if math.isfinite(v):
            return v
    return math.nan


def _synthetic_banner(info: Mapping[str, Any]) -> str:
    dataset = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    if not dataset.get("synthetic"):
        return ""
    what = dataset.get("note") or f"built-in synthetic images ({dataset.get('kind', '?')})"
    return (
        '<div class="banner"><strong>Synthetic demo data.</strong> This run trained on '
        f"{e(what)}, not on chest X-rays: its samples and scores show that the pipeline works, "
        "not what a model of real X-rays would do.</div>"
    )


_T = th.DEFAULT_THRESHOLDS
_EVIDENCE_LABELS = {
    "records": "training records judged",
    "step": "latest step",
    "won_steps": f"steps D has won outright (D(x) ≥ {_T.outright_d_x:g}, "
    f"D(G(z)) ≤ {_T.outright_d_g_z:g})",
    "crushed_steps": f"steps D has crushed G (D(x) ≥ {_T.crush_d_x:g}, "
    f"D(G(z)) ≤ {_T.crush_d_g_z:g})",
    "loss_d": "loss_D (recent median)",
    "loss_g": "loss_G (recent median)",
    "d_x": "D(x) = σ(logit) (recent median)",
    "d_g_z": "D(G(z)) (recent median)",
    "loss_d_trend": "loss_D trend",
    "loss_g_trend": "loss_G trend",
    "swing_d": "loss_D swing",
    "swing_g": "loss_G swing",
    "reversals_d": "loss_D reversals",
    "reversals_g": "loss_G reversals",
    "weak_fraction": "share with D(x) ≈ D(G(z))",
    "nonfinite": "records with NaN/inf",
    "lr_g": "lr G",
    "lr_d": "lr D",
    "augment_p": "ADA p (recent median)",
    "augment_p_latest": "ADA p (latest)",
    "augment_p_before": "ADA p (window start)",
    "augment_p_high_share": "share with ADA p pinned high",
    "r1_penalty": "R1 penalty (recent median)",
    "loss_d_aux": "D's auxiliary loss (recent median)",
    "diversity": "sample diversity (latest)",
    "real_diversity": "diversity of real images",
    "fwd_latest": "FWD (latest)",
    "fwd_best": "FWD (best)",
    "fwd_floor": "FWD real-vs-real floor",
    "fwd_floor_n": "images per side of the floor",
    "fwd_floor_ratio": "best FWD ÷ floor",
    "min_records": "records needed",
}


# Shown first; the rest of the evidence is folded under "all numbers".
_KEY_EVIDENCE = (
    *("loss_d", "loss_g", "d_x", "d_g_z", "lr_g", "lr_d", "augment_p"),
    *("diversity", "real_diversity", "fwd_latest", "fwd_best", "fwd_floor", "fwd_floor_ratio"),
)


def _evidence_table(items: Sequence[tuple[str, float]]) -> str:
    return kv_table(((_EVIDENCE_LABELS.get(k, k), e(fmt(v))) for k, v in items), "kv compact")


def _diagnosis_section(run: RunData) -> str:
    d = run.diagnosis
    sev = SEVERITY.get(d.state, "info")
    reasons = "".join(f"<li>{e(r)}</li>" for r in d.reasons)
    also = ""
    if d.secondary:
        chips = " ".join(chip(th.TITLES.get(s, s), SEVERITY.get(s, "info")) for s in d.secondary)
        also = f'<p class="also">Also applies: {chips}</p>'
    key = [(k, v) for k, v in d.evidence.items() if k in _KEY_EVIDENCE]
    rest = [(k, v) for k, v in d.evidence.items() if k not in _KEY_EVIDENCE]
    evidence = _evidence_table(key or rest)
    if key and rest:
        evidence += f"<details><summary>all numbers</summary>{_evidence_table(rest)}</details>"
    body = (
        f'<div class="diag {sev}"><div class="diag-main">'
        f'<div class="diag-title">{e(d.title)} <code>{e(d.state)}</code></div>'
        f'<p class="advice">{prose(d.advice)}</p>'
        f'<ul class="reasons">{reasons}</ul>{also}'
        f'<pre class="hint">{e(d.hint())}</pre></div>'
        f'<div class="diag-evidence">{evidence}</div></div>'
    )
    note = (
        f"Read from the latest training records of metrics.jsonl on the scale of the run's "
        f"loss ({e(d.loss)}); thresholds are listed in "
        "<code>cxrgan.reporting.diagnose.Thresholds</code>. <code>cxrgan diagnose RUN</code> "
        "prints the same."
    )
    return section("diagnosis", "Diagnosis", body, note)


def _curves_section(run: RunData) -> str:
    charts = [
        _loss_chart(run),
        _d_chart(run),
        _ada_chart(run),
        *_quality_charts(run),
        _diversity_chart(run),
    ]
    charts = [c for c in charts if c]
    if not charts:
        return section("curves", "Curves", '<p class="muted">No training records yet.</p>')
    extra = _trainer_plots(run.path)
    return section("curves", "Curves", f'<div class="charts">{"".join(charts)}</div>{extra}')


def _loss_chart(run: RunData) -> str:
    if not run.train:
        return ""
    x = column(run.train, "step")
    series = raw_and_smooth(x, column(run.train, "loss_d"), "loss_D", C_LOSS_D)
    series += raw_and_smooth(x, column(run.train, "loss_g"), "loss_G", C_LOSS_G)
    vlines = _lr_changes(run.train) + _nonfinite_line(run.train)
    return line_chart(series, title="Losses", vlines=vlines)


def _d_chart(run: RunData) -> str:
    if not run.train:
        return ""
    x = column(run.train, "step")
    series = raw_and_smooth(x, column(run.train, "d_x"), "D(x)", C_DX)
    series += raw_and_smooth(x, column(run.train, "d_g_z1"), "D(G(z)) before D step", C_DGZ1)
    series += raw_and_smooth(x, column(run.train, "d_g_z2"), "D(G(z)) after", C_DGZ2)
    return line_chart(
        series,
        title="Discriminator outputs as probabilities, σ(logit)",
        y_range=(0.0, 1.0),
        hlines=[(0.5, "0.5: D cannot tell")],
        vlines=_lr_changes(run.train),
    )


def _ada_chart(run: RunData) -> str:
    """ADA's augmentation probability p (runs with --augment ada)."""
    p = column(run.train, "augment_p")
    if not np.isfinite(p).any():
        return ""
    high = th.DEFAULT_THRESHOLDS.ada_p_high
    return line_chart(
        [Series("ADA p", column(run.train, "step"), p, C_ADA)],
        title="ADA augmentation probability p",
        y_range=(0.0, 1.0),
        hlines=[(high, f"p ≥ {fmt(high)} for long: D overfits")],
        vlines=_lr_changes(run.train),
        note=f"latest {fmt(_latest(run.train, 'augment_p'))}; near 0 is normal",
    )


def _quality_charts(run: RunData) -> list[str]:
    if not run.evals:
        return []
    x = column(run.evals, "step")
    fwd = column(run.evals, "fwd")
    floor, floor_n = fwd_floor(run.evals)
    notes = [f"best {fmt(np.nanmin(fwd))}"] if np.isfinite(fwd).any() else []
    hlines: list[tuple[float, str]] = []
    if math.isfinite(floor):
        at = f" (n={floor_n})" if floor_n else ""
        hlines.append((floor, f"real-vs-real floor {fmt(floor)}{at}"))
        if np.isfinite(fwd).any():
            notes.append(f"×{fmt(np.nanmin(fwd) / floor)} the real-vs-real floor {fmt(floor)}")
    best = best_evaluation(run.evals)
    if best is not None and "fwd_worst_class" in best:  # conditional: chosen by the worst class
        notes.append(
            f"checkpoints/best: step {best['step']}, worst class's FWD "
            f"{fmt(as_number(best['fwd_worst_class']))}"
        )
    out = [
        line_chart(
            [Series("FWD", x, fwd, C_FWD, markers=True), *_per_class_fwd(run.evals)],
            title="Quality: FWD (lower is better)",
            # From 0 when the floor is drawn: the gap to it is the point.
            y_range=(0.0, None) if hlines else (None, None),
            hlines=hlines,
            note="; ".join(notes),
        )
    ]
    kid = column(run.evals, "kid_mean")
    if np.isfinite(kid).any():
        out.append(
            line_chart([Series("KID", x, kid, C_KID, markers=True)], title="Quality: KID (mean)")
        )
    return out


def _per_class_fwd(evals: list[dict[str, Any]]) -> list[Series]:
    """A conditional run's FWD per class, dashed beside the overall curve."""
    return [
        Series(
            f"FWD {name}",
            np.array(steps, dtype=float),
            np.array(values, dtype=float),
            C_CLASSES[i % len(C_CLASSES)],
            width=1.5,
            dash="5,3",
            markers=True,
        )
        for i, (name, (steps, values)) in enumerate(per_class_fwd(evals).items())
    ]


def _diversity_chart(run: RunData) -> str:
    if len(run.diversity) < 2:
        return ""
    epochs = np.array([ep for ep, _ in run.diversity], dtype=float)
    values = np.array([v for _, v in run.diversity])
    series = [Series("generated", epochs, values, C_DIV, markers=True)]
    hlines = []
    if run.real_diversity is not None:
        hlines.append((run.real_diversity, f"real images {fmt(run.real_diversity)}"))
    t = th.DEFAULT_THRESHOLDS
    limit = t.collapse_ratio * run.real_diversity if run.real_diversity else t.collapse_diversity
    hlines.append((limit, f"mode collapse ≤ {fmt(limit)}"))
    return line_chart(
        series,
        title="Sample diversity (fixed noise)",
        x_label="epoch",
        y_range=(0.0, 1.05),
        hlines=hlines,
    )


def _lr_changes(train: Sequence[Mapping[str, Any]]) -> list[VLine]:
    """Where the learning rates changed (a resume with new rates, or --balance)."""
    out = []
    for prev, cur in itertools.pairwise(train):
        a, b = (prev.get("lr_g"), prev.get("lr_d")), (cur.get("lr_g"), cur.get("lr_d"))
        if a != b and None not in a + b:
            out.append(VLine(as_number(cur.get("step")), f"lr → G {fmt(b[0])}, D {fmt(b[1])}"))
    return out


def _nonfinite_line(train: Sequence[Mapping[str, Any]]) -> list[VLine]:
    for r in train:
        vals = [as_number(r.get(k)) for k in ("loss_d", "loss_g") if k in r]
        if any(not math.isfinite(v) for v in vals):
            return [VLine(as_number(r.get("step")), "NaN/inf", "#cf222e")]
    return []


def _trainer_plots(path: Path) -> str:
    figures = []
    for name in ("losses.png", "quality.png"):
        img = load_image(path / "plots" / name)
        if img is not None:
            figures.append(f"<figure>{img_tag(img, 'plots/' + name, 'plot')}</figure>")
    if not figures:
        return ""
    return (
        '<details class="plots"><summary>The trainer\'s matplotlib plots (plots/*.png)</summary>'
        f'<div class="plotrow">{"".join(figures)}</div></details>'
    )


def _pick_frames(grids: Sequence[tuple[int, Path]]) -> list[tuple[int, Path]]:
    """At most MAX_FRAMES evenly spaced grids (first and last kept), within FRAME_BUDGET."""
    if not grids:
        return []
    sizes = [p.stat().st_size if p.is_file() else 0 for _, p in grids]
    mean = max(1.0, sum(sizes) / len(sizes))
    limit = int(max(2, min(MAX_FRAMES, FRAME_BUDGET // mean)))
    if len(grids) <= limit:
        return list(grids)
    idx = np.unique(np.round(np.linspace(0, len(grids) - 1, limit)).astype(int))
    return [grids[i] for i in idx]


def _samples_section(run: RunData) -> str:
    chosen = _pick_frames(run.grids)
    picked = [
        (ep, p, load_image(p, LATEST_MAX_WIDTH if i == len(chosen) - 1 else FRAME_MAX_WIDTH))
        for i, (ep, p) in enumerate(chosen)
    ]
    shown_frames = [(ep, p, img) for ep, p, img in picked if img is not None]
    if not shown_frames:
        return section("samples", "Samples", '<p class="muted">No sample grids yet.</p>')
    frames = [(ep, p) for ep, p, _ in shown_frames]
    images = [img for _, _, img in shown_frames]
    last_epoch, last_img = frames[-1][0], images[-1]
    thumbs = "".join(
        f'<button type="button" class="thumb" data-i="{i}" title="epoch {ep}">'
        f"{img_tag(thumbnail(p, run.tile), f'epoch {ep}')}<span>{ep}</span></button>"
        for i, (ep, p) in enumerate(frames)
    )
    total = run.grids[-1][0]
    shown = "" if len(frames) == len(run.grids) else f" ({len(frames)} of {len(run.grids)} shown)"
    n = len(frames)
    body = (
        '<div class="film" id="film">'
        f'<figure class="frame">{img_tag(last_img, f"samples at epoch {last_epoch}", "grid")}'
        f'<figcaption id="frame-cap">epoch {last_epoch} of {total}</figcaption></figure>'
        '<div class="controls">'
        '<button type="button" id="prev" aria-label="previous epoch">◀</button>'
        f'<input type="range" id="frame-range" min="0" max="{n - 1}" value="{n - 1}" step="1" '
        'aria-label="epoch">'
        '<button type="button" id="next" aria-label="next epoch">▶</button>'
        '<button type="button" id="play">play</button></div>'
        f'<div class="strip" id="strip">{thumbs}</div></div>'
        f'<script type="application/json" id="frames-data">{_frames_json(frames, images)}'
        "</script>"
    )
    note = (
        "The same fixed noise after every epoch: drag the slider, use ← →, or click a "
        f"thumbnail{e(shown)}. Thumbnails show the top-left 8 images."
    )
    return section("samples", "Samples across epochs", body, note)


def _frames_json(frames: Sequence[tuple[int, Path]], images: Sequence[Img]) -> str:
    """[{"epoch": 1, "src": "data:..."}, ..., {"epoch": N, "src": null}] — built by hand: the
    URIs are base64 (nothing to escape) and json.dumps of megabytes costs a tenth of a second.
    The last frame is the <img> already on the page, so its bytes are not repeated."""
    items = [
        f'{{"epoch":{int(ep)},"src":"{img.uri}"}}'
        for (ep, _), img in zip(frames, images, strict=True)
    ]
    items[-1] = f'{{"epoch":{int(frames[-1][0])},"src":null}}'
    return "[" + ",".join(items) + "]"


def _real_vs_generated(run: RunData) -> str:
    real = run.path / "samples" / "real.png"
    latest = next(
        ((ep, p, img) for ep, p in reversed(run.grids) if (img := load_image(p, LATEST_MAX_WIDTH))),
        None,
    )
    if not real.is_file() and latest is None:
        return ""
    left = img_tag(load_image(real, LATEST_MAX_WIDTH), "real training images", "grid")
    right = (
        img_tag(latest[2], f"generated at epoch {latest[0]}", "grid")
        if latest
        else '<div class="missing">no generated samples yet</div>'
    )
    cap_right = f"generated, epoch {latest[0]}" if latest else "generated"
    div_real = f" · diversity {fmt(run.real_diversity)}" if run.real_diversity else ""
    div_gen = f" · diversity {fmt(run.diversity[-1][1])}" if run.diversity else ""
    body = (
        '<div class="pair">'
        f"<figure>{left}<figcaption>real (samples/real.png){e(div_real)}</figcaption></figure>"
        f"<figure>{right}<figcaption>{e(cap_right)}{e(div_gen)}</figcaption></figure></div>"
    )
    return section("real", "Real vs generated", body)


def _memorisation_section(run: RunData) -> str:
    img = load_image(run.path / "memorisation.png", 2 * LATEST_MAX_WIDTH)
    if img is None:
        return ""
    note = (
        "Each generated image beside its closest training image (written by "
        "<code>cxrgan evaluate</code>). Near-identical pairs mean the generator copies its "
        "training data."
    )
    shown = min(2 * img.width, 1100) if img.width <= 640 else img.width  # small tiles: enlarge
    body = (
        f'<figure class="memo" style="max-width:{shown}px">'
        f"{img_tag(img, 'closest generated/training pairs')}</figure>"
    )
    return section("memorisation", "Memorisation check", body, note)


def _turing_section(run: RunData) -> str:
    """A link to the run's reading study, when `cxrgan turing score` wrote RUN/turing.json."""
    try:
        link = json.loads((run.path / "turing.json").read_text("utf-8"))
        href = os.path.relpath(link["summary"], run.path)
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    acc = link.get("mean_accuracy")
    text = f"{link.get('readers', '?')} reader(s), mean accuracy " + (
        "–" if acc is None else f"{acc:.3f} (0.5 is chance)"
    )
    body = f'<p>{e(text)}: <a href="{e(href)}">the study\'s summary</a></p>'
    note = "Can readers tell real from generated images? (<code>cxrgan turing</code>)"
    return section("turing", "Reading study", body, note)


def _utility_section(run: RunData) -> str:
    """The utility score, when `cxrgan utility` wrote RUN/utility.json and RUN/utility.png."""
    try:
        u = json.loads((run.path / "utility.json").read_text("utf-8"))

        def cell(s: Mapping[str, Any], m: str) -> str:
            sd = "" if s["std"][m] is None else f" ± {s['std'][m]:.3f}"
            return e(f"{s['mean'][m]:.3f}{sd} [{s['ci95'][m][0]:.3f}, {s['ci95'][m][1]:.3f}]")

        metrics = ("accuracy", "balanced_accuracy", "auc")
        rows = [
            [e(s["title"]), e(s["n_images"]), *(cell(s, m) for m in metrics)]
            for s in u["sets"].values()
        ]
        gain = u["gains"]["auc"]
        text = (
            f"TSTR/TRTR AUC ratio {u['ratios']['tstr_trtr_auc']['value']:.3f}; AUC gain of real "
            f"+ synthetic over real {gain['value']:+.3f} [{gain['ci95'][0]:+.3f}, "
            f"{gain['ci95'][1]:+.3f}]; {len(u['settings']['seeds'])} seed(s), tested on "
            f"{u['counts']['n_test']} held-out real images"
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""
    head = ["training set", "images", "accuracy", "balanced accuracy", "ROC AUC"]
    img = load_image(run.path / "utility.png", LATEST_MAX_WIDTH)
    chart = f"<figure>{img_tag(img, 'utility.png', 'plot')}</figure>" if img else ""
    body = f"{data_table(head, rows)}<p>{e(text)}</p>{chart}"
    note = (
        "Does a classifier gain from the generator's images? One fixed CNN, tested on held-out "
        "real images: mean ± std over seeds [95 % bootstrap interval] (<code>cxrgan utility"
        "</code>, docs/utility.md)."
    )
    return section("utility", "Utility for a classifier", body, note)


def _config_section(run: RunData) -> str:
    info = run.info
    top = [
        (k, config_value(info[k]))
        for k in ("cxrgan_version", "torch_version", "python_version", "device")
        if k in info
    ]
    cfg_rows = [(str(k), config_value(v)) for k, v in run.cfg.items()]
    dataset = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    data_rows = [(str(k), config_value(v)) for k, v in dataset.items()]
    recipe = info.get("recipe") if isinstance(info.get("recipe"), dict) else {}
    recipe_rows = [(str(k), config_value(v)) for k, v in recipe.items()]
    blocks = [
        f"<div><h3>Recipe</h3>{kv_table(recipe_rows)}</div>" if recipe_rows else "",
        f"<div><h3>Training settings</h3>{kv_table(cfg_rows)}</div>" if cfg_rows else "",
        f"<div><h3>Dataset</h3>{kv_table(data_rows)}</div>" if data_rows else "",
        f"<div><h3>Software</h3>{kv_table(top)}</div>" if top else "",
    ]
    body = f'<div class="cols">{"".join(blocks)}</div>'
    return section("config", "Configuration", body, "From config.json.")


def _history_section(run: RunData) -> str:
    history = run.info.get("history")
    rows = []
    for h in history if isinstance(history, list) else []:
        if not isinstance(h, dict):
            continue
        changes = h.get("changes") if isinstance(h.get("changes"), dict) else {}
        rows.append(
            [
                e(h.get("time", "")),
                f"<strong>{e(h.get('event', ''))}</strong>",
                e(h.get("epoch", "")),
                e(fmt(h.get("step"))),
                _changes(changes),
            ]
        )
    for r in load_events(run.path, "rollback"):  # --on-nan rollback (docs/reliability.md)
        what = f"{r.get('reason', '')}; lr → G {fmt(r.get('lr_g'))}, D {fmt(r.get('lr_d'))}"
        rows.append(["", "<strong>rollback</strong>", e(r.get("epoch", "")),
                     e(fmt(r.get("step"))), e(what)])  # fmt: skip
    stopped = run.info.get("stopped")
    if isinstance(stopped, dict):
        reason = f"<strong>stopped</strong>: {e(stopped.get('reason', ''))}"
        rows.append(["", reason, e(stopped.get("epoch", "")), e(fmt(stopped.get("step"))), ""])
    if not rows:
        return ""
    table = data_table(["time", "event", "epoch", "step", "changes"], rows)
    return section("history", "History", table, "Starts, resumes and what each one changed.")


def _changes(changes: Mapping[str, Any]) -> str:
    if not changes:
        return '<span class="muted">—</span>'
    items = []
    for key, change in changes.items():
        if isinstance(change, list | tuple) and len(change) == 2:
            items.append(
                f"<code>{e(key)}</code> {config_value(change[0])} → {config_value(change[1])}"
            )
        else:
            items.append(f"<code>{e(key)}</code> {config_value(change)}")
    return "<br>".join(items)
