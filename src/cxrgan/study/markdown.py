"""Markdown for values that users chose (class folders, reader names, paths, file suffixes):
each is shown as the text it is, never read as HTML or as Markdown syntax.

Markdown passes raw HTML through, so a class folder named `<img src=x onerror=alert(1)>` would
be markup in a model card that a hub renders. `text` makes a value literal in running text and
in table cells; `code` shows one inside a code span, where neither HTML nor Markdown applies.
Control characters (a newline in a file name would end the line and start another block) are
shown as escapes, as Python writes them.
"""

from __future__ import annotations

import html
import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Markdown's inline syntax, and `|`, which ends a table cell.
_SYNTAX = re.compile(r"([\\`*_\[\]|~])")
_TICKS = re.compile(r"`+")


def visible(value: Any) -> str:
    """`value` as one line: control characters as `\\n`, `\\x1b`, ..."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(value))


def text(value: Any) -> str:
    """`value` as literal Markdown text (running text or a table cell): `&`, `<` and `>` as
    HTML entities, Markdown's punctuation backslash-escaped."""
    return _SYNTAX.sub(r"\\\1", html.escape(visible(value), quote=False))


def code(value: Any) -> str:
    """`value` as a Markdown code span (outside tables), fenced by more backticks than it holds
    in a row."""
    shown = visible(value)
    fence = "`" * (1 + max((len(t) for t in _TICKS.findall(shown)), default=0))
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"
