"""The report page of one run: diagnosis, curves, the samples filmstrip, real vs generated,
memorisation, reading study, utility, privacy, configuration and history. The larger sections
have modules of their own (run_page_diagnosis, run_page_curves, run_page_samples,
run_page_privacy)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cxrgan.reporting import thresholds as th
from cxrgan.reporting.formatting import as_number, fmt_value
from cxrgan.reporting.html_assets import FILMSTRIP_JS
from cxrgan.reporting.html_images import load_image
from cxrgan.reporting.html_page import (
    SEVERITY,
    chip,
    config_value,
    data_table,
    e,
    img_tag,
    kv_table,
    render_page,
    section,
)
from cxrgan.reporting.run_data import RunData, load_run
from cxrgan.reporting.run_page_curves import curves_section, latest
from cxrgan.reporting.run_page_diagnosis import diagnosis_section
from cxrgan.reporting.run_page_privacy import privacy_section
from cxrgan.reporting.run_page_samples import (
    LATEST_MAX_WIDTH,
    memorisation_section,
    real_vs_generated,
    samples_section,
)
from cxrgan.reporting.run_records import load_events


def build_run_page(path: Path) -> str:
    """The HTML of RUN/report.html."""
    run = load_run(path)
    sections = [
        ("diagnosis", "Diagnosis", diagnosis_section(run)),
        ("curves", "Curves", curves_section(run)),
        ("samples", "Samples", samples_section(run)),
        ("real", "Real vs generated", real_vs_generated(run)),
        ("memorisation", "Memorisation", memorisation_section(run)),
        ("turing", "Reading study", _turing_section(run)),
        ("utility", "Utility", _utility_section(run)),
        ("privacy", "Privacy", privacy_section(run)),
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
        bits.append(f"epoch {last.get('epoch', '?')} · step {fmt_value(last.get('step'))}")
    budget = (info.get("config") or {}).get("dp_epsilon")
    if last.get("dp_epsilon") is not None and budget:
        bits.append(f"differential privacy: ε {fmt_value(last['dp_epsilon'])} of {budget:g} spent")
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
    p = latest(run.train, "augment_p")
    bits.append(f"augment {augment}" + (f" (p {fmt_value(p)})" if math.isfinite(p) else ""))
    ema = as_number(cfg.get("ema_kimg"))
    bits.append(f"EMA {fmt_value(ema)} kimg" if ema > 0 else "no EMA")
    r1 = as_number(cfg.get("r1_gamma"))
    if r1 > 0:
        bits.append(f"R1 γ {fmt_value(r1)}")
    if cfg.get("d_spectral_norm") is True:
        bits.append("D spectral norm")
    return bits


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
                e(fmt_value(h.get("step"))),
                _changes(changes),
            ]
        )
    for r in load_events(run.path, "rollback"):  # --on-nan rollback (docs/reliability.md)
        rates = f"lr → G {fmt_value(r.get('lr_g'))}, D {fmt_value(r.get('lr_d'))}"
        what = f"{r.get('reason', '')}; {rates}"
        step = fmt_value(r.get("step"))
        rows.append(["", "<strong>rollback</strong>", e(r.get("epoch", "")), e(step), e(what)])
    stopped = run.info.get("stopped")
    if isinstance(stopped, dict):
        reason = f"<strong>stopped</strong>: {e(stopped.get('reason', ''))}"
        rows.append(
            ["", reason, e(stopped.get("epoch", "")), e(fmt_value(stopped.get("step"))), ""]
        )
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
