"""Stronger smoothing on the skin of heavily textured faces, after the input bilateral (issue 13's worst case).

Why: the recorded bilateral filter (``input_smoothing``) removes pores and sensor noise but keeps deep
wrinkles, which are edges to it; the generator draws them as a web of dark cracks, worst on older faces
(Grace Hopper in the model card). Smoothing every face's skin harder costs KID on the young, smooth
selfies it was scored on (docs/default-model-experiments.md "Inference-time changes": +1.1 to +1.9), so
this step first measures how much fine dark texture is left on the skin (the share of skin pixels at least
``threshold`` grey levels darker than their 9×9 median) and flattens the skin only in proportion to it:
nothing below ``start``, fully from ``full``. Skin is found without a detector: a face crop's centre square is mostly
cheeks and nose, so pixels whose YCrCb chroma is near its median count, when that median is a skin chroma
at all (a grey or strongly tinted centre gets no skin step). A snapshot records it as ``preprocess.skin``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np
from PIL import Image

from .input_smoothing import check_sigmas, recorded_step

# the centre's median chroma must fall here to be taken as skin (YCrCb, 0–255): Chai & Ngan's box,
# widened (red-filtered selfies reach Cr 205); grey (Cr = Cb = 128) is outside
SKIN_CR = (131.0, 205.0)
SKIN_CB = (70.0, 138.0)


def chroma_stats(seed: np.ndarray, floor: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """The median (Cr, Cb) of the ``seed`` pixels (N, 2) and their spread (the MAD as a σ, at least ``floor``)."""
    med = np.median(seed, 0)
    return med, np.maximum(np.median(np.abs(seed - med), 0) * 1.4826, floor)


def chroma_likeness(chroma: np.ndarray, med: np.ndarray, spread: np.ndarray, k: float = 2.5) -> np.ndarray:
    """How much each pixel's (Cr, Cb) (H, W, 2) is the seed's (:func:`chroma_stats`), 0–1: fully within
    ``k`` spreads, fading out to 0 at 2k."""
    d2 = (((chroma - med) / spread) ** 2).sum(-1)
    return (np.exp(-0.5 * np.maximum(d2 - k * k, 0) / 4.0) * (d2 < (2 * k) ** 2)).astype(np.float32)


def skin_mask(rgb: np.ndarray, k: float = 2.5, floor: float = 4.0, centre: float = 0.3,
              gate: bool = True) -> np.ndarray:
    """A soft mask (H, W) in 0–1 of pixels whose chroma is near that of the picture's centre square.

    The centre square (``centre`` of each side) gives the skin chroma (median; spread: the MAD, at least
    ``floor`` levels); a pixel within ``k`` spreads counts fully and fades out to 2k. The darkest pixels
    (pupils, brows, shadows) are left out. All zeros when the centre is not skin-coloured (``gate``).
    """
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    h, w = rgb.shape[:2]
    y0, y1, x0, x1 = (int(n * (0.5 + s * centre / 2)) for n in (h, w) for s in (-1, 1))
    box = ycc[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    med, spread = chroma_stats(box[..., 1:].reshape(-1, 2), floor)
    if gate and not (SKIN_CR[0] <= med[0] <= SKIN_CR[1] and SKIN_CB[0] <= med[1] <= SKIN_CB[1]):
        return np.zeros((h, w), np.float32)
    m = chroma_likeness(ycc[..., 1:], med, spread, k)
    m *= np.clip((ycc[..., 0] - 0.6 * np.percentile(box[..., 0], 5)) / 10, 0, 1)
    return cv2.GaussianBlur(m.astype(np.float32), (0, 0), 2.0)


def texture_share(rgb: np.ndarray, mask: np.ndarray, threshold: int = 12) -> float:
    """Share of skin pixels (mask > 0.5) at least ``threshold`` grey levels darker than their 9×9 median."""
    skin = mask > 0.5
    n = int(skin.sum())
    if n == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    dark = cv2.medianBlur(grey, 9).astype(np.int16) - grey.astype(np.int16) >= threshold
    return float((dark & skin).sum()) / n


@dataclass(frozen=True)
class SkinSmoothing:
    """``start`` / ``full``: texture shares where the step begins and reaches full strength; ``threshold``:
    grey levels that count as dark texture; ``passes`` bilateral passes of ``d`` / ``sigma_color`` /
    ``sigma_space`` (pixels of the picture the network sees) make the flattened skin."""

    start: float = 0.04
    full: float = 0.10
    threshold: int = 12
    passes: int = 3
    d: int = 9
    sigma_color: float = 80.0
    sigma_space: float = 7.0
    strokes: bool = False  # also erase the thin dark strokes the network draws there, by the same weight

    def __post_init__(self) -> None:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (self.start, self.full)) \
                or not 0 <= self.start < self.full <= 1:
            raise ValueError(f"skin start and full must be numbers with 0 <= start < full <= 1, got "
                             f"{self.start!r}, {self.full!r}")
        for name, lo, hi in (("threshold", 1, 255), ("passes", 1, 8), ("d", 1, 31)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"skin {name} must be an integer in {lo}..{hi}, got {v!r}")
        check_sigmas(self, "skin")
        if not isinstance(self.strokes, bool):
            raise ValueError(f"skin strokes must be true or false, got {self.strokes!r}")

    def weight(self, texture: float) -> float:
        """How much of the flattened skin replaces the input skin: 0 below ``start``, 1 from ``full``."""
        return float(np.clip((texture - self.start) / (self.full - self.start), 0.0, 1.0))

    def flatten(self, original: np.ndarray, smoothed: np.ndarray) -> tuple[np.ndarray, float]:
        """(``smoothed`` with its skin flattened in proportion to the texture left on it, the weight used:
        0 for a smooth face, left as it was). ``smoothed``: the bilateral output, uint8 H×W×3; the skin is
        found on ``original`` (the picture before any filter)."""
        mask = skin_mask(original)
        w = self.weight(texture_share(smoothed, mask, self.threshold))
        if w == 0.0:
            return smoothed, w
        flat = np.ascontiguousarray(smoothed)
        for _ in range(self.passes):
            flat = cv2.bilateralFilter(flat, self.d, float(self.sigma_color), float(self.sigma_space))
        m = (w * mask)[..., None]
        out = m * flat.astype(np.float32) + (1 - m) * smoothed.astype(np.float32)
        return out.round().clip(0, 255).astype(np.uint8), w

    def apply_array(self, original: np.ndarray, smoothed: np.ndarray) -> np.ndarray:
        """:meth:`flatten`'s picture alone (the training loader's form)."""
        return self.flatten(original, smoothed)[0]

    def apply(self, original: Image.Image, smoothed: Image.Image) -> tuple[Image.Image, float]:
        """:meth:`flatten` on PIL pictures of one size: (picture, weight); the weight also scales the stroke
        erasing after the network (``strokes``)."""
        out, w = self.flatten(np.asarray(original.convert("RGB")), np.asarray(smoothed.convert("RGB")))
        return Image.fromarray(out), w

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> SkinSmoothing:
        """From a snapshot entry; ValueError (naming what is wrong) on anything else."""
        known = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - known:
            raise ValueError(f"skin settings must be an object with keys among {sorted(known)}, got {raw!r}")
        return cls(**raw)


def recorded_skin_smoothing(meta: dict[str, Any] | None) -> SkinSmoothing | None:
    """The skin step a snapshot's config records (``preprocess.skin``), or None; ValueError if malformed."""
    return recorded_step(meta, "skin", SkinSmoothing.from_dict)


__all__ = ["SkinSmoothing", "chroma_likeness", "chroma_stats", "recorded_skin_smoothing", "skin_mask",
           "texture_share"]
