"""The verdict in plain words, from an attack's AUC interval (docs/privacy.md, "Reading the
verdict").

- leakage: the lower 95 % bound is above 0.5 + MARGIN: the attacker beats chance by more than
  the margin, whatever the sample;
- inconclusive: the lower bound is above 0.5 but within the margin: a slight edge, too small
  to call leakage at this sample size;
- no evidence: the interval reaches 0.5 (or lies below it): the attack does no better than
  chance on these films. That is not proof of privacy: the interval's upper bound says how
  large an edge the sample still allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cxrgan.privacy.defaults import MARGIN

LEAK, INCONCLUSIVE, NO_EVIDENCE = "leakage", "inconclusive", "no evidence"
RULE = (
    f"leakage when the AUC's lower 95 % bound exceeds 0.5 + {MARGIN}; inconclusive when it "
    "exceeds 0.5 by less; otherwise no evidence of leakage"
)


def level(ci95: tuple[float, float] | list[float], margin: float = MARGIN) -> str:
    lower = ci95[0]
    if lower > 0.5 + margin:
        return LEAK
    return INCONCLUSIVE if lower > 0.5 else NO_EVIDENCE


def auc_text(result: Mapping[str, Any]) -> str:
    lo, hi = result["ci95"]
    return f"AUC {result['auc']:.2f} [{lo:.2f}, {hi:.2f}]"


def sentence(result: Mapping[str, Any], margin: float = MARGIN) -> str:
    """One attack's verdict, e.g. "no evidence of membership leakage at this sample size: AUC
    0.51 [0.48, 0.54]"."""
    found = level(result["ci95"], margin)
    if found == LEAK:
        head = "membership leakage: the attack tells training films from held-out ones"
    elif found == INCONCLUSIVE:
        head = f"inconclusive: a slight edge over chance, within the {margin} margin"
    else:
        head = "no evidence of membership leakage at this sample size"
    return f"{head}: {auc_text(result)}"


def overall(attacks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The verdict of the strongest attack that ran (highest lower bound, over all films)."""
    ran = {k: a["overall"] for k, a in attacks.items() if a.get("overall")}
    if not ran:
        return {"level": None, "attack": None, "text": "no attack could run", "rule": RULE}
    key = max(ran, key=lambda k: ran[k]["ci95"][0])
    title = attacks[key]["title"]
    return {
        "level": level(ran[key]["ci95"]),
        "attack": key,
        "text": f"{sentence(ran[key])} ({title}, the strongest attack)",
        "rule": RULE,
    }
