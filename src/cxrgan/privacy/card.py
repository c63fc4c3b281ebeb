"""The model card's Privacy section (`cxrgan export`'s README.md), from RUN/privacy.json: the
verdict and each attack's AUC, interval and TPR at 1 % FPR, as Markdown lines whose values are
escaped (study/markdown.py)."""

from __future__ import annotations

import json
from pathlib import Path

from cxrgan.privacy.defaults import PRIVACY_JSON, TPR_KEY
from cxrgan.study.markdown import text


def privacy_card_lines(run: Path) -> list[str]:
    """ "## Privacy" and what the audit found; a "not measured" line without RUN/privacy.json."""
    out = ["## Privacy", ""]
    try:
        p = json.loads((Path(run) / PRIVACY_JSON).read_text("utf-8"))
        counts = p["counts"]
        out += [
            f"Membership-inference audit (`cxrgan privacy`, docs/privacy.md): "
            f"{text(p['verdict']['text'])}.",
            "",
            f"Attacks on {text(counts['members'])} training and {text(counts['nonmembers'])} "
            "held-out films of other patients (ROC AUC with 95 % bootstrap interval; 0.5 is "
            "chance):",
            "",
            "| attack | AUC [95 % interval] | TPR at 1 % FPR |",
            "| --- | --- | --- |",
        ]
        for a in p["attacks"].values():
            s = a.get("overall")
            if a.get("skipped") or not s:
                out.append(f"| {text(a['title'])} | {text(a.get('skipped'))} | |")
                continue
            ci = f"{s['auc']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
            out.append(f"| {text(a['title'])} | {text(ci)} | {text(f'{s[TPR_KEY]:.3f}')} |")
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        out = ["## Privacy", "", f"Not audited (`cxrgan privacy` writes {PRIVACY_JSON})."]
    return [*out, "", *_dp_lines(run)]


def _dp_lines(run: Path) -> list[str]:
    """The differential-privacy guarantee config.json records for a --dp-epsilon run."""
    try:
        info = json.loads((Path(run) / "config.json").read_text("utf-8"))
        dp = (info.get("stopped") or {}).get("privacy")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(dp, dict) or "epsilon" not in dp:
        return ["Trained without differential privacy (no `--dp-epsilon`).", ""]
    spent, target, delta = (f"{dp[k]:.3g}" for k in ("epsilon", "target_epsilon", "delta"))
    fixed = dp.get("ada_fixed_p")
    ada = (
        f" Augmentation at a fixed strength p = {text(f'{fixed:g}')}, not adapted from real images."
        if isinstance(fixed, (int, float))
        else ""
    )
    return [
        "Trained with differential privacy (DP-SGD on the discriminator's real images, "
        f"docs/privacy.md): ε = {text(spent)} spent of {text(target)}, δ = {text(delta)}, "
        f"over {text(dp['steps'])} steps.{ada}",
        "",
    ]
