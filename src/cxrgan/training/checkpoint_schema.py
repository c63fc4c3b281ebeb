"""What a checkpoint's JSON metadata holds, checked key by key when a checkpoint is read.

The metadata sits outside the tensors' checksums, and a file of an earlier version has no
checksum over it at all, so a wrongly typed value (`"z_dim": "abc"`) would otherwise surface as
a TypeError deep in a model builder or an optimiser step. The types are declared once: by the
dataclasses the metadata is written from (ModelSpec, Counters) and by the architecture's builder
signature for a spec's kwargs.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

from cxrgan.errors import CxrganError
from cxrgan.models import ModelSpec, architecture

# What a resume reads besides the model spec (TrainState.load_state_dict).
RESUME_KEYS = ("state", "optG_param_groups", "optD_param_groups")
# Sizes below which a model spec's integers mean nothing (any other integer must be >= 0).
AT_LEAST = {"z_dim": 1, "resolution": 1, "channels": 1}
# The Adam settings of each param group that torch uses in arithmetic.
GROUP_NUMBERS = ("lr", "eps", "weight_decay")
EXPECTED = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            list: "a list", dict: "an object"}  # fmt: skip


@dataclass
class Counters:
    """A run's progress, stored in every checkpoint (`state.counters`)."""

    epoch: int = 0  # completed epochs
    step: int = 0  # completed optimiser steps, across resumes
    step_in_epoch: int = 0
    elapsed_s: float = 0.0  # training time (evaluation excluded), across resumes


class _Wrong(Exception):
    """One value that is not what the schema says; its message names the key."""


def meta_problem(meta: dict[str, Any], require: tuple[str, ...] = ()) -> str | None:
    """Why a checkpoint's metadata (checksums removed) is not what cxrgan writes, or None.

    Each known key is checked when present; `require` names the keys the caller needs."""
    try:
        for key in require:
            if key not in meta:
                raise _Wrong(f"it has no {key} (it was not written by cxrgan train)")
        _check_meta(meta)
    except _Wrong as exc:
        return str(exc)
    return None


def _check_meta(meta: dict[str, Any]) -> None:
    if "format" in meta:
        _expect(meta["format"], int, "format")
    if "model_spec" in meta:
        _model_spec(meta["model_spec"])
    if "state" in meta:
        _state(meta["state"])
    for key in ("optG_param_groups", "optD_param_groups"):
        if key in meta:
            _param_groups(meta[key], key)


def _model_spec(spec: Any) -> None:
    _dataclass(spec, ModelSpec, "model_spec")
    try:
        builder = architecture(spec["name"]).builder
    except CxrganError as exc:
        raise _Wrong(f"model_spec.name: {exc}") from None
    hints = typing.get_type_hints(builder)
    for key, value in spec.get("kwargs", {}).items():
        if key in hints:  # an unknown kwarg is reported when the model is built
            _typed(value, hints[key], f"model_spec.kwargs.{key}")


def _state(state: Any) -> None:
    _expect(state, dict, "state")
    for key in ("counters", "sampler"):
        if key not in state:
            raise _Wrong(f"state.{key} is missing")
    _dataclass(state["counters"], Counters, "state.counters")
    sampler = _expect(state["sampler"], dict, "state.sampler")
    _at_least(_expect(sampler.get("pos"), int, "state.sampler.pos"), 0, "state.sampler.pos")
    for key, value in state.items():  # the callbacks' own states (quality tracker, balance)
        if key not in ("counters", "sampler") and value is not None:
            _expect(value, dict, f"state.{key}")


def _param_groups(groups: Any, where: str) -> None:
    for k, group in enumerate(_expect(groups, list, where)):
        at = f"{where}[{k}]"
        _expect(group, dict, at)
        for key in GROUP_NUMBERS:  # inf is what the optimiser had (a run given --g-lr inf)
            if key in group:
                _expect(group[key], float, f"{at}.{key}", finite=False)
        if "betas" in group:
            betas = _expect(group["betas"], list, f"{at}.betas")
            if len(betas) != 2:
                raise _Wrong(f"{at}.betas must hold 2 numbers, got {betas!r}")
            for j, beta in enumerate(betas):
                _expect(beta, float, f"{at}.betas[{j}]")
        for j, index in enumerate(_expect(group.get("params"), list, f"{at}.params")):
            _at_least(_expect(index, int, f"{at}.params[{j}]"), 0, f"{at}.params[{j}]")


def _dataclass(data: Any, cls: type, where: str) -> None:
    """`data` as `cls(**data)` would take it: known keys, each of its field's type."""
    _expect(data, dict, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise _Wrong(f"{where} has an unknown key {key!r}")
    for name, f in fields.items():
        if name in data:
            value = _typed(data[name], hints[name], f"{where}.{name}")
            if isinstance(value, int | float) and not isinstance(value, bool):
                _at_least(value, AT_LEAST.get(name, 0), f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _Wrong(f"{where}.{name} is missing")


def _typed(value: Any, hint: Any, where: str) -> Any:
    """`value` checked against a type hint: a kind, `X | None`, `dict[...]` or `tuple[X, ...]`
    (a JSON list); hints of other shapes are left to the code that uses the value."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return value
        kinds = [a for a in args if a is not type(None)]
        return _typed(value, kinds[0], where) if len(kinds) == 1 else value
    if origin is dict:
        return _expect(value, dict, where)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        for k, item in enumerate(_expect(value, list, where)):
            _typed(item, args[0], f"{where}[{k}]")
        return value
    return _expect(value, hint, where) if hint in EXPECTED else value


def _expect(value: Any, kind: type, where: str, finite: bool = True) -> Any:
    """`value` if it is of `kind` as JSON has it: a bool is no number, an integer is a float,
    and a float is finite unless `finite` is False."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return value
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok:
        raise _Wrong(f"{where} must be {EXPECTED[kind]}, got {value!r}")
    if kind is float and finite and not math.isfinite(value):
        raise _Wrong(f"{where} must be finite, got {value}")
    return value


def _at_least(value: float, low: float, where: str) -> None:
    if value < low:
        raise _Wrong(f"{where} must be at least {low}, got {value}")
