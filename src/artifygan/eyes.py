"""Bigger eyes for few-shot styles whose references draw them so: a recorded postprocess (issue 14).

Why: avatar and cartoon styles draw eyes far larger than a photo's, with the whites showing, and a
fine-tune held to the photo by the content loss keeps the photo's eye size (geometry is not what a
style loss changes). When most references show drawn eye whites, ``artifygan adapt`` records
``postprocess.eyes`` and every surface that loads the style magnifies each eye of the output with a
smooth radial warp around the photo's eye landmarks (YuNet). Measured in docs/fewshot-experiments.md
("Bigger eyes"): bitmoji 5 references KID×100 11.22 → 10.16 at scale 1.5; caricature level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from .input_smoothing import entry_settings, recorded_step

if TYPE_CHECKING:
    from .face_finder import FaceFinder
    from .faces import Face

EYE_WHITE = 0.04  # references' median eye-white share at which a style draws big, white eyes (below)
AUTO_SCALE = 1.5  # the magnification ``auto`` records (bitmoji: 1.3 → −0.7 KID, 1.5 → −1.1, 1.8 → −1.4)
WINDOW = 0.3  # the eye window's half side, in eye distances
MIN_EYE_DIST = 6.0  # pixels: smaller faces are left alone


@dataclass(frozen=True)
class BigEyes:
    """``scale``: the magnification at each eye's centre, falling smoothly to 1 at ``radius`` (in eye
    distances; below 0.5 the two eyes' warps never touch)."""

    scale: float = AUTO_SCALE
    radius: float = 0.45

    def __post_init__(self) -> None:
        if not 1.0 < self.scale <= 2.0:
            raise ValueError(f"eyes scale must be in (1, 2], got {self.scale}")
        if not 0.2 <= self.radius <= 0.5:
            raise ValueError(f"eyes radius must be in [0.2, 0.5] eye distances, got {self.radius}")

    def to_meta(self) -> dict[str, Any]:
        return {"scale": self.scale, "radius": self.radius}

    @classmethod
    def from_dict(cls, raw: Any) -> BigEyes:
        """From a snapshot entry; ValueError, starting with the entry's name, on anything else."""
        return entry_settings(raw, "eyes", {"scale", "radius"}, lambda r: cls(
            scale=float(r.get("scale", cls.scale)), radius=float(r.get("radius", cls.radius))))


def recorded_eyes(meta: dict[str, Any]) -> BigEyes | None:
    """The snapshot's ``postprocess.eyes``, or None (the photo's eye size)."""
    return recorded_step(meta, "eyes", BigEyes.from_dict, section="postprocess")


def check_eyes_choice(value: str) -> str:
    """What adapt may be asked for: auto, off or a scale in (1, 2]; a ValueError naming them otherwise."""
    if value not in ("auto", "off"):
        try:
            scale = float(value)
        except ValueError:
            raise ValueError(f"auto, off or a scale in (1, 2], got {value!r}") from None
        try:
            BigEyes(scale=scale)
        except ValueError as exc:
            raise ValueError(f"auto, off or a scale; {exc}") from None
    return value


def eye_white_share(rgb: np.ndarray, face: Face) -> float | None:
    """The share of near-white, unsaturated pixels (brighter than the cheek by 25 grey levels) in a window
    of ±0.3 eye distances around each eye: drawn eye whites. Photos: ~0 (their whites are small and
    shaded); bitmoji: median 0.07; None without landmarks."""
    if face.landmarks is None:
        return None
    eyes = np.asarray(face.landmarks, np.float64)[:2]
    if not np.isfinite(eyes).all():
        return None
    r = round(WINDOW * float(np.linalg.norm(eyes[0] - eyes[1])))
    if r < 2:
        return None
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sat = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
    h, w = grey.shape
    shares = []
    for x, y in np.round(eyes).astype(int):
        x0, x1, y0, y1 = max(0, x - r), min(w, x + r), max(0, y - r), min(h, y + r)
        if x1 <= x0 or y1 <= y0:  # an eye off the picture: negative ends sliced from the far side
            continue
        cheek = grey[max(0, min(h - 1, y + r)):min(h, y + 2 * r), x0:x1]
        level = float(np.median(cheek if cheek.size else grey))
        win = (grey[y0:y1, x0:x1] > level + 25) & (sat[y0:y1, x0:x1] < 60)
        shares.append(float(win.mean()) if win.size else 0.0)
    return float(np.mean(shares)) if shares else None


def references_eye_white(images: Sequence[Image.Image], finder: FaceFinder) -> float | None:
    """The median eye-white share over the references where a face is found; None when none is."""
    found = []
    for img in images:
        rgb = np.asarray(img.convert("RGB"))
        faces = [f for f in finder.detect(rgb) if f.landmarks is not None]
        share = eye_white_share(rgb, max(faces, key=lambda f: f.width)) if faces else None
        if share is not None:
            found.append(share)
    return float(np.median(found)) if found else None


def enlarge_eyes(rgb: np.ndarray, faces: Sequence[Face], settings: BigEyes) -> np.ndarray:
    """``rgb`` with each face's eyes magnified: inside a circle of ``radius`` eye distances a pixel at
    relative distance r samples from r · (1 − (1 − 1/scale)(1 − r²)²) of the way out: 1/scale at the
    centre, continuous with its first derivative at the rim."""
    out = rgb.copy()
    h, w = rgb.shape[:2]
    for face in faces:
        if face.landmarks is None:
            continue
        eyes = np.asarray(face.landmarks, np.float64)[:2]
        dist = float(np.linalg.norm(eyes[0] - eyes[1]))
        if dist < MIN_EYE_DIST:
            continue
        rad = settings.radius * dist
        for cx, cy in eyes:
            x0, x1 = max(0, int(cx - rad)), min(w, int(np.ceil(cx + rad)) + 1)
            y0, y1 = max(0, int(cy - rad)), min(h, int(np.ceil(cy + rad)) + 1)
            if x1 <= x0 or y1 <= y0:
                continue
            ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            dx, dy = xs - np.float32(cx), ys - np.float32(cy)
            r = np.sqrt(dx * dx + dy * dy) / np.float32(rad)
            s = np.where(r < 1, 1 - (1 - 1 / settings.scale) * (1 - np.minimum(r, 1) ** 2) ** 2, 1).astype(np.float32)
            out[y0:y1, x0:x1] = cv2.remap(out, np.float32(cx) + dx * s, np.float32(cy) + dy * s,  # read, then
                                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)  # written
    return out


class EyeStep:
    """Magnifies the eyes of a cartoon around the photo's faces (found by the caller)."""

    def __init__(self, settings: BigEyes) -> None:
        self.settings = settings

    def apply(self, out: Image.Image, faces: Sequence[Face]) -> Image.Image:
        if not faces:
            return out
        return Image.fromarray(enlarge_eyes(np.asarray(out.convert("RGB")), faces, self.settings))


__all__ = ["BigEyes", "EyeStep", "check_eyes_choice", "enlarge_eyes", "eye_white_share", "recorded_eyes",
           "references_eye_white"]
