"""Name → "module:attribute" tables for the pluggable parts (models, losses, augmentations).

A registry names its entries without importing them: listing the choices (for `--help`, the
settings schema and sweeps) costs nothing, and an entry's module is imported when it is used.
Adding an entry is one line: `"name": "package.module:ATTRIBUTE"`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from cxrgan.errors import CxrganError


class Registry(Mapping[str, str]):
    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind  # "model", "loss", ...: for error messages
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> str:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, name: str) -> Any:
        """The registered object, imported now; a one-line error for an unknown name."""
        if name not in self._entries:
            raise CxrganError(f"unknown {self.kind} {name!r}; known: {', '.join(self) or 'none'}")
        module, _, attribute = self._entries[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
