"""A model file loaded on first use, shared by the optional steps of inference (faces, person segmenter).

Why: a style's recorded steps (plain background, bigger eyes) run on every surface, but most models have none,
so their detectors load only when a picture needs them; and a missing file must turn the step off with one
warning, not fail a translation. One lock covers loading and use: the detectors keep per-picture state.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

from .imageio import one_line

T = TypeVar("T")
R = TypeVar("R")


class LazyModel(Generic[T]):
    """``load()`` on the first ``use``; a failure (one of ``errors``) warns once, ``warning`` + the error,
    and every later ``use`` returns its ``fallback``. ``loaded`` injects a ready model (tests)."""

    def __init__(self, load: Callable[[], T | None], warning: str,
                 errors: tuple[type[Exception], ...] = (FileNotFoundError, ValueError),
                 loaded: T | None = None) -> None:
        self._load, self._warning, self._errors = load, warning, errors
        self.model = loaded
        self._given_up = False
        self._lock = threading.Lock()

    def use(self, run: Callable[[T], R], fallback: R) -> R:
        """``run(model)``, one caller at a time; ``fallback`` when there is no model. ``load`` may return None:
        the step is switched off on purpose (no warning)."""
        with self._lock:
            if self.model is None and not self._given_up:
                try:
                    self.model = self._load()
                except self._errors as exc:
                    warnings.warn(f"{self._warning} ({one_line(exc)})", stacklevel=3)
                self._given_up = self.model is None
            return run(self.model) if self.model is not None else fallback


__all__ = ["LazyModel"]
