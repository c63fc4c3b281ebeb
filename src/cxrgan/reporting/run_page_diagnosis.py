"""The diagnosis card of a run's report: state, advice, reasons, the hint, and the numbers
behind it with their labels."""

from __future__ import annotations

from collections.abc import Sequence

from cxrgan.reporting import thresholds as th
from cxrgan.reporting.formatting import fmt_value
from cxrgan.reporting.html_page import SEVERITY, chip, e, kv_table, prose, section
from cxrgan.reporting.run_data import RunData

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
    return kv_table(((_EVIDENCE_LABELS.get(k, k), e(fmt_value(v))) for k, v in items), "kv compact")


def diagnosis_section(run: RunData) -> str:
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
        "<code>cxrgan.reporting.thresholds.Thresholds</code>. <code>cxrgan diagnose RUN</code> "
        "prints the same."
    )
    return section("diagnosis", "Diagnosis", body, note)
