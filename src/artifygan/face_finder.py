"""The photo face detector of the steps that place themselves by faces (clean face skin; a style's plain
background, bigger eyes).

Why its own module: those steps are recorded in a snapshot's config and run on every surface, but many models
have none, so YuNet (and torch, through the file finder) is loaded on first use only, and a missing
detector turns the steps off with one warning instead of failing a translation.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .lazy_model import LazyModel

if TYPE_CHECKING:
    from .faces import Face


class FaceFinder(Protocol):
    def detect(self, rgb: np.ndarray) -> list[Face]: ...


class LazyFaces:
    """YuNet faces, the detector loaded on first use from ``model`` (a file; None: $ARTIFYGAN_YUNET, the
    cache, the download); ``detector`` injects another (tests). Without one: a warning, then no faces.
    Safe to share between threads (one detector, reconfigured per picture size: one picture at a time)."""

    def __init__(self, model: str | os.PathLike | None = None, detector: FaceFinder | None = None) -> None:
        self.model = model  # may be set until the first detection (WildCartoonizer's --yunet)

        def load() -> FaceFinder:
            from .faces import PhotoFaceDetector

            return PhotoFaceDetector(self.model)

        self._faces = LazyModel(load, "the steps placed by faces (clean face skin, a style's plain background "
                                "and eyes) are off: no face detector", loaded=detector)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self._faces.use(lambda d: d.detect(rgb), [])


__all__ = ["FaceFinder", "LazyFaces"]
