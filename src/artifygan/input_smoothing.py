"""Edge-preserving smoothing of the photo before the generator (issue 13: the "cracked sketch" look).

Why: the edge-promoting GAN turns fine photo texture on skin (pores, faint wrinkles, JPEG noise) into
thin dark strokes. A bilateral filter at the network's input resolution removes that texture and keeps
the edges a cartoon should draw (contours, eyes, lips, glasses): with the shipped default it lowered the
cheek-stroke share and KID together (MODEL_CARD.md, "Input smoothing"). The filter's sizes are in pixels
of the image the network sees, as the generator's receptive field is.

A snapshot records it in ``config.json`` as ``preprocess.bilateral`` (``{d, sigma_color, sigma_space}``);
the Cartoonizer applies what the snapshot records unless told otherwise. Training can apply the same
filter to its photo crops (``data.photo_smoothing``), so the generator learns on what it will be given;
the snapshots of such a run record it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import cv2
import numpy as np
from PIL import Image

T = TypeVar("T")


def check_sigmas(settings: Any, label: str) -> None:
    """A bilateral filter's ``sigma_color`` and ``sigma_space`` must be numbers in (0, 1000]."""
    for name in ("sigma_color", "sigma_space"):
        v = getattr(settings, name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1000:
            raise ValueError(f"{label} {name} must be a number in (0, 1000], got {v!r}")


def recorded_step(meta: dict[str, Any] | None, key: str, parse: Callable[[Any], T],
                  section: str = "preprocess") -> T | None:
    """The ``<section>.<key>`` entry of a snapshot's config (``preprocess`` before the network,
    ``postprocess`` after it) parsed by ``parse``, or None when absent.

    Raises ValueError on a malformed entry, so a bad config.json fails when the snapshot is loaded.
    """
    steps = (meta or {}).get(section) or {}
    if not isinstance(steps, dict):  # "x", [1] or 5: every surface crashed on it, some later than others
        raise ValueError(f"{section} must be a mapping of steps, got {steps!r:.40}")
    if key not in steps:
        return None
    try:
        return parse(steps[key])
    except ValueError as exc:
        raise ValueError(f"{section}.{exc}") from None


def chosen_step(recorded: T | None, flag: bool | None, default: Callable[[], T]) -> T | None:
    """A recorded pre/postprocess step under a user's auto/on/off: None = as the snapshot records;
    True = its settings, else the defaults; False = not at all."""
    if flag is None:
        return recorded
    return (recorded or default()) if flag else None


def entry_settings(raw: Any, name: str, keys: set[str], build: Callable[[dict[str, Any]], T]) -> T:
    """A recorded step's settings from its snapshot entry: a mapping with keys among ``keys``, made by
    ``build``; a ValueError starting with ``name`` otherwise (``recorded_step`` prefixes the section)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{name} must be a mapping, got {raw!r}")
    if unknown := set(raw) - keys:
        raise ValueError(f"{name}: unknown {name} setting(s) {sorted(unknown)}")
    try:
        return build(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class InputSmoothing:
    """OpenCV bilateral filter settings: ``d`` neighbourhood diameter (pixels), ``sigma_color`` in grey
    levels (0–255; differences well above it count as edges and are kept), ``sigma_space`` in pixels."""

    d: int = 7
    sigma_color: float = 25.0
    sigma_space: float = 6.0

    def __post_init__(self) -> None:
        if not isinstance(self.d, int) or isinstance(self.d, bool) or not 1 <= self.d <= 31:
            raise ValueError(f"bilateral d must be an integer in 1..31, got {self.d!r}")
        check_sigmas(self, "bilateral")

    def apply(self, rgb: Image.Image) -> Image.Image:
        """The smoothed RGB picture (same size)."""
        return Image.fromarray(self.apply_array(np.asarray(rgb.convert("RGB"))))

    def apply_array(self, rgb: np.ndarray) -> np.ndarray:
        """The same on an (H, W, 3) uint8 array: the training loader's crops, without a PIL round trip."""
        a = np.ascontiguousarray(rgb)
        return cv2.bilateralFilter(a, self.d, float(self.sigma_color), float(self.sigma_space))

    @classmethod
    def from_dict(cls, raw: Any) -> InputSmoothing:
        """From a config or snapshot entry; ValueError (naming what is wrong) on anything else."""
        if not isinstance(raw, dict):
            raise ValueError(f"bilateral settings must be an object {{d, sigma_color, sigma_space}}, got {raw!r}")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ValueError(f"bilateral settings: {exc}") from None

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)


def recorded_smoothing(meta: dict[str, Any] | None) -> InputSmoothing | None:
    """The smoothing a snapshot's config records (``preprocess.bilateral``), or None; ValueError if malformed."""
    return recorded_step(meta, "bilateral", InputSmoothing.from_dict)


__all__ = ["InputSmoothing", "check_sigmas", "recorded_smoothing", "recorded_step"]
