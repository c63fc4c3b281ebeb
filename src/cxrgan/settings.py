"""Settings declared once: `setting()` puts everything about one option into a dataclass field.

A field of `cxrgan.config.TrainConfig` such as

    g_lr: float = setting(2e-4, "generator learning rate", group="optim", resumable=True, above=0)

carries its type (the annotation: int, float, str, bool or `X | None`), default, help, help
group, whether `--resume` may change it, whether a sweep may vary it, its allowed values and
range. `settings_of(TrainConfig)` reads them back as `Setting`s, from which the command-line
parser, TOML loading and writing, validation, the resume rules and the sweep's axes are all
generated, so adding an option is one field declaration.

Two bounds hold for every setting of a kind, declared or not: a float is finite (NaN passes
every comparison with a bound, and a setting with no limit says so with None, as `--minutes`
does), and an int fits in 64 bits (torch's seeds, tensors and counters are int64).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxrgan.errors import CxrganError

# Help groups, in the order `cxrgan train --help` shows them (empty ones are not shown).
GROUPS: dict[str, str] = {
    "data": "data: which images, and how they become training images",
    "model": "model: the networks",
    "loss": "loss: what G and D optimise",
    "augment": "augmentation: what changes the images D sees",
    "optim": "optimisation and budget",
    "eval": "evaluation and early stopping",
    "privacy": "differential privacy: a formal guarantee for the training images",
    "run": "the run: where it goes, on what hardware, what it records",
}
KINDS = (int, float, str, bool)
_KEY = "cxrgan.setting"  # the dataclass field metadata key

# What a value must be, in the words of an error message ("g_lr must be a number").
EXPECTED = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
INT_MAX = 2**63 - 1  # the largest int any setting takes (see the module's docstring)


@dataclass(frozen=True)
class _Declared:
    """What `setting()` knows; the name and the type come from the field itself."""

    help: str
    group: str
    resumable: bool
    sweepable: bool
    choices: Callable[[], Sequence[Any]] | None
    many: bool
    flag: str | None
    min: float | None
    above: float | None
    below: float | None
    max: float | None


def setting(
    default: Any,
    help: str,
    *,
    group: str,
    resumable: bool = False,
    sweepable: bool = True,
    choices: Callable[[], Sequence[Any]] | None = None,
    many: bool = False,
    flag: str | None = None,
    min: float | None = None,
    above: float | None = None,
    below: float | None = None,
    max: float | None = None,
) -> Any:
    """A dataclass field declaring one setting.

    help: one phrase for `--help`; the allowed values and the default are appended to it, so
      leave them out (but say what a None default means).
    group: a key of GROUPS. resumable: `--resume` may change it. sweepable: `cxrgan sweep` may
      vary it between members. choices: returns the allowed values, called only when needed
      (so a registry can be read lazily). many: a text setting that holds a comma-separated
      list ("mlflow,wandb"; of the choices where there are any; see `Setting.items`), so a
      sweep separates its alternatives with ';'. flag: the option name when not
      `--<name-with-dashes>`.
    min and max (inclusive), above and below (exclusive): bounds checked by validation (None
    passes), besides the finite floats and 64-bit ints that every setting keeps to.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown setting group {group!r}; one of {', '.join(GROUPS)}")
    declared = _Declared(help, group, resumable, sweepable, choices, many, flag, min, above, below,
                         max)  # fmt: skip
    return dataclasses.field(default=default, metadata={_KEY: declared})


@dataclass(frozen=True)
class Setting:
    """One setting, as every generated surface (parser, TOML, sweep, resume) sees it."""

    name: str
    kind: type  # int, float, str or bool
    optional: bool  # the annotation is `kind | None`
    default: Any
    help: str
    group: str
    resumable: bool
    sweepable: bool
    flag: str  # "--g-lr"
    choices_of: Callable[[], Sequence[Any]] | None
    min: float | None
    above: float | None
    below: float | None
    max: float | None
    many: bool = False  # a comma-separated list (of the choices, where there are any)

    def choices(self) -> tuple[Any, ...] | None:
        return tuple(self.choices_of()) if self.choices_of else None

    def items(self, value: str | None) -> tuple[str, ...]:
        """A `many` setting's names, in order, once each ("" and None: none)."""
        names = (part.strip() for part in (value or "").split(","))
        return tuple(dict.fromkeys(name for name in names if name))

    def parse(self, text: str) -> Any:
        """One value from the command line (or a sweep's list); ValueError says what is wrong."""
        if self.kind is bool:
            return parse_bool(text)
        if self.kind is int:
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"not a whole number: {text!r}") from None
        if self.kind is float:
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"not a number: {text!r}") from None
        return text

    def coerce(self, value: Any) -> Any:
        """A value read from TOML or JSON, strictly typed; ValueError says what was expected.

        An integer is accepted for a float setting (TOML's `g_lr = 1` means 1.0), nothing else
        is converted: `epochs = 1.5`, `hflip = "no"` and `g_lr = "1e-3"` are errors.
        """
        if value is None and self.optional:
            return None
        ok = isinstance(value, self.kind) and (self.kind is bool or not isinstance(value, bool))
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise ValueError(f"must be {EXPECTED[self.kind]}, got {value!r}")
        return value

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed (type, choices, range), or None when it is."""
        try:
            value = self.coerce(value)
        except ValueError as exc:
            return str(exc)
        if value is None:
            return None
        choices = self.choices()
        if choices is not None and self.many:
            unknown = [name for name in self.items(value) if name not in choices]
            if unknown:
                return f"takes any of {', '.join(choices)}, comma-separated; got {unknown[0]!r}"
        elif choices is not None and value not in choices:
            return f"must be one of {', '.join(map(str, choices))}, got {value!r}"
        if self.kind is float and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        return self._out_of_range(value)

    def _out_of_range(self, value: float) -> str | None:
        top = INT_MAX if self.kind is int and self.max is None else self.max
        if self.min is not None and value < self.min:
            at_least = "must not be negative" if self.min == 0 else f"must be at least {self.min}"
            return f"{at_least}, got {value}"
        if self.above is not None and value <= self.above:
            above = "must be positive" if self.above == 0 else f"must be above {self.above:g}"
            return f"{above}, got {value:g}"
        if self.below is not None and value >= self.below:
            return f"must be below {self.below:g}, got {value:g}"
        if top is not None and value > top:
            return f"must be at most {top}, got {value}"
        return None

    def help_text(self) -> str:
        """The help, then the allowed values and the default: '... (one of a, b; default: a)'."""
        notes = []
        choices = self.choices()
        if choices is not None:
            listed = ", ".join(map(str, choices))
            notes.append(f"any of {listed}, comma-separated" if self.many else f"one of {listed}")
        if self.default is not None:
            notes.append(f"default: {format_default(self.default)}")
        return f"{self.help} ({'; '.join(notes)})" if notes else self.help


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"not true/false: {text!r}")


def format_default(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@functools.cache
def settings_of(cls: type) -> tuple[Setting, ...]:
    """Every field of the dataclass `cls` as a Setting, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_KEY)
        if declared is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting()")
        kind, optional = _kind(hints[f.name], f"{cls.__name__}.{f.name}")
        out.append(
            Setting(
                name=f.name,
                kind=kind,
                optional=optional,
                default=f.default,
                help=declared.help,
                group=declared.group,
                resumable=declared.resumable,
                sweepable=declared.sweepable,
                flag=declared.flag or "--" + f.name.replace("_", "-"),
                choices_of=declared.choices,
                many=declared.many,
                min=declared.min,
                above=declared.above,
                below=declared.below,
                max=declared.max,
            )
        )
    return tuple(out)


def _kind(hint: Any, where: str) -> tuple[type, bool]:
    """int → (int, False); `str | None` → (str, True); anything else is a declaration bug."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and len(args) == 2 and type(None) in args:
        kind = next(a for a in args if a is not type(None))
        if kind in KINDS:
            return kind, True
    elif hint in KINDS:
        return hint, False
    raise TypeError(f"{where}: a setting is int, float, str, bool or one of them | None")


def typed_values(
    by_name: Mapping[str, Setting], values: Mapping[str, Any], where: str = "", whole: bool = False
) -> dict[str, Any]:
    """Check names and types of `values` (keys may use dashes, as on the command line).

    where: how error messages start ("c.toml: " names the file). An int is accepted for a float
    setting and becomes a float; any other mismatch is a one-line CxrganError. whole: check
    choices and ranges too (a recorded config.json is not: a resume may correct its values).
    """
    out: dict[str, Any] = {}
    unknown = []
    for key, value in values.items():
        s = by_name.get(key.replace("-", "_"))
        if s is None:
            unknown.append(key)
            continue
        try:
            out[s.name] = s.coerce(value)
        except ValueError as exc:
            raise CxrganError(f"{where}{key} {exc}") from None
        problem = s.problem(value) if whole else None
        if problem:
            raise CxrganError(f"{where}{key} {problem}")
    if unknown:
        raise CxrganError(f"{where}unknown setting(s): {', '.join(sorted(unknown))}")
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's table, unchecked; a missing or malformed file is a one-line CxrganError."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CxrganError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CxrganError(f"{path} is not valid TOML: {exc}") from None


def dump_toml(values: dict[str, Any], header: str = "") -> str:
    """Scalar settings as TOML that cxrgan.config.load_toml reads back to the same values; None
    is left out (TOML has no null: an absent key means the default)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in values.items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # repr round-trips floats exactly; inf and nan are TOML too
    if isinstance(value, str):
        escaped = "".join(_toml_char(c) for c in value)
        return f'"{escaped}"'
    raise TypeError(f"cannot write {type(value).__name__} as a TOML setting")


def _toml_char(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if ord(c) < 0x20 or c == "\x7f":  # control characters must be escaped in TOML strings
        return f"\\u{ord(c):04x}"
    return c
