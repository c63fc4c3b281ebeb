"""The sweep's axes and values: which settings may vary, each value parsed as its setting's
declaration says (as `cxrgan train` parses it), and the short exact names members get."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from cxrgan.config import BY_NAME, SETTINGS
from cxrgan.errors import CxrganError
from cxrgan.settings import Setting

# Every setting a sweep may vary, in TrainConfig order (the order of member names).
AXES: dict[str, Setting] = {s.name: s for s in SETTINGS if s.sweepable}
# The sweep decides these for every member (where it goes, no progress bars).
NOT_SWEEPABLE = frozenset(s.name for s in SETTINGS if not s.sweepable)
# The learning rates are what sweeps compare: given once they are still an axis, so every
# member's name says its rates (`g_lr=1e-3,d_lr=2e-4`). Other settings given once are simply
# passed to every member.
ALWAYS_AXES = ("g_lr", "d_lr")


def flag(name: str) -> str:
    s = BY_NAME.get(name)
    return s.flag if s else "--" + name.replace("_", "-")


def option_name(text: str) -> str:
    """`g-lr`, `--g-lr` or `g_lr` → `g_lr`, checked against the declared settings."""
    name = text.strip().lstrip("-").replace("-", "_")
    if name not in BY_NAME:
        raise CxrganError(f"unknown setting {text!r}; `cxrgan train --help` lists them")
    if name not in AXES:
        raise CxrganError(f"{text!r} cannot be swept (the sweep sets it for every member)")
    return name


def separator(setting: Setting) -> str:
    """What separates a sweep's values: ',' (`--g-lr 2e-4,1e-3`), or ';' for a setting whose one
    value is itself a comma-separated list (`--classes "No Finding,Effusion;No Finding"`)."""
    return ";" if setting.many else ","


def parse_values(name: str, text: str) -> list[Any]:
    """'2e-4, 1e-3' → [0.0002, 0.001], each parsed and checked (choices, range) as
    `cxrgan train --<name>` would."""
    setting = AXES[name]
    sep = separator(setting)
    items = [item.strip() for item in text.split(sep)]
    if not text.strip() or any(not item for item in items):
        kind = "semicolon" if sep == ";" else "comma"
        raise CxrganError(f"{setting.flag}: expected {kind}-separated values, got {text!r}")
    values = []
    for item in items:
        try:
            values.append(setting.parse(item))
        except ValueError as exc:
            raise CxrganError(f"{setting.flag}: {exc}") from None
        problem = setting.problem(values[-1])
        if problem:
            raise CxrganError(f"{setting.flag} {problem}")
    if len({json.dumps(v) for v in values}) != len(values):
        raise CxrganError(f"{setting.flag}: a value is listed twice in {text!r}")
    return values


def parse_sweep_param(text: str) -> tuple[str, list[Any]]:
    """'name=v1,v2' → (setting, [values])."""
    name, sep, values = text.partition("=")
    if not sep:
        raise CxrganError(f"--sweep-param expects name=v1,v2,..., got {text!r}")
    field_name = option_name(name)
    return field_name, parse_values(field_name, values)


def format_value(value: Any) -> str:
    """Short and exact: 0.0002 → '2e-4', 0.5 → '0.5', True → 'true'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != 0 and math.isfinite(value) and not 1e-2 <= abs(value) < 1e4:
            mantissa, exponent = f"{value:.6e}".split("e")
            text = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
            if float(text) == value:
                return text
        return repr(value)
    return str(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,-]+")


def member_name(params: dict[str, Any]) -> str:
    """'g_lr=1e-3,d_lr=2e-4,seed=1': readable, and safe as a folder name on any OS."""
    parts = []
    for key, value in params.items():
        text = Path(value).name if key in ("data", "cache_dir") else format_value(value)
        parts.append(f"{key}={_UNSAFE.sub('_', text)}")
    return ",".join(parts)[:200]  # file names stop at 255 bytes
