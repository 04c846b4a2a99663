"""A small explicit registry of image-set metrics (name → function), filled by @register."""

from __future__ import annotations

from collections.abc import Callable

METRICS: dict[str, Callable] = {}


def register(name: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = fn
        return fn

    return deco
