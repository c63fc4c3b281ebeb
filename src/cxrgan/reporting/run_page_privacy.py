"""The report's Privacy section: what `cxrgan privacy` left in RUN/privacy.json and
RUN/plots/privacy_roc.png (docs/privacy.md). Reporting only reads the files, so it imports
nothing of cxrgan.privacy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cxrgan.reporting.html_images import load_image
from cxrgan.reporting.html_page import chip, data_table, e, img_tag, section
from cxrgan.reporting.run_data import RunData
from cxrgan.reporting.run_page_samples import LATEST_MAX_WIDTH

LEVEL_CHIPS = {"leakage": "bad", "inconclusive": "warn", "no evidence": "ok"}


def _row(title: str, where: str, s: Mapping[str, Any]) -> list[str]:
    lo, hi = s["ci95"]
    return [
        e(title),
        e(where),
        e(f"{s['auc']:.3f} [{lo:.3f}, {hi:.3f}]"),
        e(f"{s['tpr_at_1pct_fpr']:.3f}"),
        e(f"{s['n_members']} / {s['n_nonmembers']}"),
    ]


def privacy_section(run: RunData) -> str:
    """The attacks' table, the verdict and the ROC plot; empty without RUN/privacy.json."""
    try:
        p = json.loads((run.path / "privacy.json").read_text("utf-8"))
        rows = []
        for a in p["attacks"].values():
            if a.get("skipped"):
                rows.append([e(a["title"]), "", e(a["skipped"]), "", ""])
                continue
            parts = {"all": a["overall"], **a.get("classes", {})}
            rows.extend(_row(a["title"], where, s) for where, s in parts.items())
        verdict = p["verdict"]
        level = chip(str(verdict["level"]), LEVEL_CHIPS.get(verdict["level"], "muted"))
        text = f"<p>{level} {e(verdict['text'])}</p>"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""
    head = ["attack", "films", "ROC AUC [95 % interval]", "TPR at 1 % FPR", "members / others"]
    img = load_image(run.path / "plots" / "privacy_roc.png", LATEST_MAX_WIDTH)
    chart = f"<figure>{img_tag(img, 'privacy_roc.png', 'plot')}</figure>" if img else ""
    note = (
        "Can an attacker tell the films the run trained on from films of other patients? "
        "Membership-inference attacks (<code>cxrgan privacy</code>, docs/privacy.md)."
    )
    return section("privacy", "Privacy", text + data_table(head, rows) + chart, note)
