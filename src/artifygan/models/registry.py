"""Small explicit registries: a name maps to a builder and its config dataclass.

Why explicit: a registry filled by ``@register`` decorators at import time is greppable and never
scans module names; each entry carries the config class so a model can be rebuilt from JSON.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn


@dataclass(frozen=True)
class Entry:
    name: str
    config_cls: type
    build: Callable[[Any], nn.Module]


class Registry:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, config_cls: type) -> Callable:
        """Decorator for a builder ``f(config) -> nn.Module`` (or a module class taking the config)."""

        def deco(fn):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = Entry(name, config_cls, fn)
            return fn

        return deco

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}")
        return self._entries[name]

    def make_config(self, name: str, args: dict[str, Any] | None = None):
        cls = self.entry(name).config_cls
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(args or {}) - known
        if unknown:
            raise KeyError(f"{self.kind} {name!r}: unknown argument(s) {sorted(unknown)}; known: {sorted(known)}")
        hints = typing.get_type_hints(cls)
        for key, value in (args or {}).items():  # "ch": 8.0 or "abc" failed deep in torch; "maybe" meant True
            if (why := _kind_mismatch(value, hints.get(key))) is not None:
                raise ValueError(f"{self.kind} {name!r}: {key}={value!r}: {why}")
        return cls(**(args or {}))

    def build(self, name: str, args: dict[str, Any] | Any | None = None) -> nn.Module:
        """Build from a config instance or a dict of its fields."""
        cfg = args if dataclasses.is_dataclass(args) else self.make_config(name, args)
        return self.entry(name).build(cfg)


def _kind_mismatch(value: Any, tp: Any) -> str | None:
    """Why ``value`` is not of the field type ``tp`` (int, float, bool, str or a Literal of words; a size
    must not be negative), or None when it is (or the type is not one of these)."""
    if tp is bool:
        return None if isinstance(value, bool) else "expected true or false"
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return "expected a whole number"
        return None if value >= 0 else "must be 0 or more"
    if tp is float:
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "expected a number"
    if tp is str:
        return None if isinstance(value, str) else "expected a word"
    if typing.get_origin(tp) is Literal:
        return None if value in typing.get_args(tp) else f"expected one of {', '.join(map(str, typing.get_args(tp)))}"
    return None


GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
CONTENT_NETWORKS = Registry("content network")
