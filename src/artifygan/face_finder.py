"""The photo face detector of the steps that place themselves by faces (a style's plain background, bigger eyes).

Why its own module: those steps are recorded in a style's config and run on every surface, but most models
have none, so YuNet (and torch, through the file finder) is loaded on first use only, and a missing
detector turns the steps off with one warning instead of failing a translation.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from .faces import Face


class FaceFinder(Protocol):
    def detect(self, rgb: np.ndarray) -> list[Face]: ...


class LazyFaces:
    """YuNet faces, the detector loaded on first use from ``model`` (a file; None: $ARTIFYGAN_YUNET, the
    cache, the download); ``detector`` injects another (tests). Without one: a warning, then no faces.
    Safe to share between threads (one detector, reconfigured per picture size: one picture at a time)."""

    def __init__(self, model: str | os.PathLike | None = None, detector: FaceFinder | None = None) -> None:
        self.model = model
        self.detector = detector
        self._unavailable = False
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        with self._lock:
            if self.detector is None and not self._unavailable:
                from .faces import PhotoFaceDetector

                try:
                    self.detector = PhotoFaceDetector(self.model)
                except (FileNotFoundError, ValueError) as exc:
                    self._unavailable = True
                    warnings.warn(f"the style's plain background and eyes are off: no face detector ({exc})",
                                  stacklevel=2)
            return self.detector.detect(rgb) if self.detector is not None else []


__all__ = ["FaceFinder", "LazyFaces"]
