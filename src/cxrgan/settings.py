"""Settings declared once: `setting()` puts everything about one option into a dataclass field.

A field of `cxrgan.config.TrainConfig` such as

    g_lr: float = setting(2e-4, "generator learning rate", group="optim", resumable=True, above=0)

carries its type (the annotation: int, float, str, bool or `X | None`), default, help, help
group, whether `--resume` may change it, whether a sweep may vary it, its allowed values and
bounds. `settings_of(TrainConfig)` reads them back as `Setting`s, from which the command-line
parser, TOML loading, validation, the resume rules and the sweep's axes are all generated, so
adding an option is one field declaration.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Help groups, in the order `cxrgan train --help` shows them (empty ones are not shown).
GROUPS: dict[str, str] = {
    "data": "data: which images, and how they become training images",
    "model": "model: the networks",
    "loss": "loss: what G and D optimise",
    "augment": "augmentation: what changes the images D sees",
    "optim": "optimisation and budget",
    "eval": "evaluation and early stopping",
    "run": "the run: where it goes, on what hardware, what it records",
}
KINDS = (int, float, str, bool)
_KEY = "cxrgan.setting"  # the dataclass field metadata key

# What a value must be, in the words of an error message ("g_lr must be a number").
EXPECTED = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class _Declared:
    """What `setting()` knows; the name and the type come from the field itself."""

    help: str
    group: str
    resumable: bool
    sweepable: bool
    choices: Callable[[], Sequence[Any]] | None
    flag: str | None
    min: float | None
    above: float | None
    below: float | None


def setting(
    default: Any,
    help: str,
    *,
    group: str,
    resumable: bool = False,
    sweepable: bool = True,
    choices: Callable[[], Sequence[Any]] | None = None,
    flag: str | None = None,
    min: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> Any:
    """A dataclass field declaring one setting.

    help: one phrase for `--help`; the allowed values and the default are appended to it, so
      leave them out (but say what a None default means).
    group: a key of GROUPS. resumable: `--resume` may change it. sweepable: `cxrgan sweep` may
      vary it between members. choices: returns the allowed values, called only when needed
      (so a registry can be read lazily). flag: the option name when not `--<name-with-dashes>`.
    min (inclusive), above and below (exclusive): bounds checked by validation (None passes).
    """
    if group not in GROUPS:
        raise ValueError(f"unknown setting group {group!r}; one of {', '.join(GROUPS)}")
    declared = _Declared(help, group, resumable, sweepable, choices, flag, min, above, below)
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

    def choices(self) -> tuple[Any, ...] | None:
        return tuple(self.choices_of()) if self.choices_of else None

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
        """Why `value` is not allowed (type, choices, bounds), or None when it is."""
        try:
            value = self.coerce(value)
        except ValueError as exc:
            return str(exc)
        if value is None:
            return None
        choices = self.choices()
        if choices is not None and value not in choices:
            return f"must be one of {', '.join(map(str, choices))}, got {value!r}"
        if self.min is not None and value < self.min:
            at_least = "must not be negative" if self.min == 0 else f"must be at least {self.min}"
            return f"{at_least}, got {value}"
        if self.above is not None and value <= self.above:
            above = "must be positive" if self.above == 0 else f"must be above {self.above:g}"
            return f"{above}, got {value:g}"
        if self.below is not None and value >= self.below:
            return f"must be below {self.below:g}, got {value:g}"
        return None

    def help_text(self) -> str:
        """The help, then the allowed values and the default: '... (one of a, b; default: a)'."""
        notes = []
        choices = self.choices()
        if choices is not None:
            notes.append(f"one of {', '.join(map(str, choices))}")
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
                min=declared.min,
                above=declared.above,
                below=declared.below,
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
