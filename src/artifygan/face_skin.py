"""Clean face skin: the lines the generator draws across cheeks and foreheads, smoothed away after the network.

Why: issue 13's first complaint is the "cracked sketch filter" look, thin dark lines along tone borders on
the skin, where anime draws flat skin. The skin step before the network (``skin_smoothing``) removes the
photo texture they come from, but the generator also draws them on smooth, young skin at its own tone
borders, where the photo is not flat, so the photo-flatness weight of ``--clean-strokes`` misses them.
This step places itself by the photo's face landmarks instead: inside the face (an oval through the
forehead, cheeks and chin), on skin, and away from the eyes, brows, nose tip and mouth, the output is
replaced by a bilateral-filtered copy, with a share ``lines`` of a greyscale closing first (which
lifts the lines to their surroundings). Contours, eyes, brows and mouth keep the network's lines.

Measured on issue 13's hold-outs (MODEL_CARD "Clean face skin"), the default with ``lines`` 0.4 and textured
faces given more, as it records: selfies: cheek strokes 3.8% → 2.2%, NME 0.101 → 0.093, YuNet faces 86% →
87%, KID +0.37; CelebA: strokes 4.9% → 2.4%, NME 0.096 → 0.088, faces 93% → 98%, KID +0.23. The strokes
are measured in boxes on the cheeks, inside the part this step smooths.
The filter sizes are set at a 70-pixel eye distance (the 256² selfies' median is 74) and grow with each
face, so a face of any size in any picture gets the same cleaning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from .input_smoothing import chosen_step, entry_settings, recorded_step
from .skin_smoothing import SkinSmoothing, skin_mask, texture_share
from .skin_tone import SkinTone, keep_skin_tone

if TYPE_CHECKING:
    from .faces import Face

REF_EYE_DIST = 70.0  # pixels: the eye distance at which the sizes below were chosen (256² selfies)
CLOSE_K = 7  # the closing's diameter: lines thinner than this are lifted
BILATERAL = (9, 30.0, 5.0)  # d, sigma_color, sigma_space
MIN_EYE_DIST = 12.0  # pixels: smaller faces are left alone
MAX_FACES = 64  # a bound for a crowd's worth of detections; face mode translates at most 16 by default
MAX_SCALE = 1.5  # faces larger than this many times the reference are filtered at this scale
# the face, in eye distances d: an oval centred between the eyes and the mouth, moved up by UP towards the
# forehead; half axes across and along the face
UP, OVAL = 0.35, (0.95, 1.6)
TEXTURE = SkinSmoothing()  # the input skin step's texture ramp (dark texture share 0.04 → 0.10 of the skin)


@dataclass(frozen=True)
class FaceSkin:
    """``lines``: the share of line erasing (a greyscale closing) in the smoothed skin, 0–1; the skin is
    bilateral-filtered at every value (0 smooths without lifting lines). ``textured``: a face whose photo
    skin is textured (older, wrinkled: the input skin step's measure) gets more of it, up to all its lines
    lifted, in proportion to that texture. ``tone``: the photo's skin tone given back after the cleaning
    (``artifygan.skin_tone``; None: the network's tone as it is)."""

    lines: float = 0.4
    textured: bool = True
    tone: SkinTone | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.lines <= 1.0:
            raise ValueError(f"face_skin lines must be in [0, 1], got {self.lines}")
        if not isinstance(self.textured, bool):
            raise ValueError(f"face_skin textured must be true or false, got {self.textured!r}")
        if self.tone is not None and not isinstance(self.tone, SkinTone):
            raise ValueError(f"face_skin tone must be a SkinTone or None, got {self.tone!r}")

    def to_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"lines": self.lines, "textured": self.textured}
        return {**meta, "tone": self.tone.to_meta()} if self.tone is not None else meta

    @classmethod
    def from_dict(cls, raw: Any) -> FaceSkin:
        """From a snapshot entry; ValueError, starting with the entry's name, on anything else."""
        return entry_settings(raw, "face_skin", {"lines", "textured", "tone"}, lambda r: cls(
            lines=float(r.get("lines", cls.lines)), textured=r.get("textured", cls.textured),
            tone=SkinTone.from_dict(r["tone"]) if r.get("tone") is not None else None))


def recorded_face_skin(meta: dict[str, Any]) -> FaceSkin | None:
    """The snapshot's ``postprocess.face_skin``, or None (the network's skin as it is)."""
    return recorded_step(meta, "face_skin", FaceSkin.from_dict, section="postprocess")


def chosen_face_skin(recorded: FaceSkin | None, choice: bool | float | None) -> FaceSkin | None:
    """The step under a user's choice: None = as recorded; False = off; True = the recorded settings, else
    the defaults; a number = that share of line erasing on every face (0 still smooths the skin, lifting
    no line; a textured face gets no more), with the recorded skin tone kept."""
    if choice is None or isinstance(choice, bool | np.bool_):
        return chosen_step(recorded, None if choice is None else bool(choice), FaceSkin)
    if not isinstance(choice, int | float | np.integer | np.floating):
        raise ValueError(f"clean_face: None (as recorded), True, False or a share of line erasing in [0, 1], "
                         f"got {choice!r}")
    # the share asked for, as it is: the textured faces' extra (up to every line lifted) would override it
    return FaceSkin(lines=round(float(choice), 6), textured=False,
                    tone=recorded.tone if recorded is not None else None)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


def face_weight(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """The share (H, W, 0–1) of each pixel to clean for one face: the face oval
    minus the eyes with their brows, the nose tip and the mouth, feathered (not yet times the skin)."""
    e1, e2, nose, m1, m2 = np.asarray(landmarks, np.float64)
    across = e2 - e1
    d = float(np.linalg.norm(across))
    angle = float(np.degrees(np.arctan2(across[1], across[0])))
    mouth = (m1 + m2) / 2
    rise = (e1 + e2) / 2 - mouth  # from the mouth to the eyes: towards the forehead, however the face is turned
    up = rise / max(float(np.linalg.norm(rise)), 1e-6)
    face = np.zeros(shape, np.uint8)
    centre = (e1 + e2) / 4 + mouth / 2 + UP * d * up
    cv2.ellipse(face, _pt(centre), (round(OVAL[0] * d), round(OVAL[1] * d)), angle, 0, 360, 255, -1)
    keep = np.zeros(shape, np.uint8)
    for eye in (e1, e2):  # the eye and its brow above it
        cv2.ellipse(keep, _pt(eye + 0.12 * d * up), (round(0.39 * d), round(0.45 * d)), angle, 0, 360, 255, -1)
    cv2.circle(keep, _pt(nose - 0.05 * d * up), round(0.22 * d), 255, -1)
    width = float(np.linalg.norm(m2 - m1))
    cv2.ellipse(keep, _pt(mouth), (round(width / 2 + 0.2 * d), round(0.28 * d)), angle, 0, 360, 255, -1)
    inside = ((face > 0) & (keep == 0)).astype(np.float32)
    return cv2.GaussianBlur(inside, (0, 0), 0.12 * d)


def _odd(x: float, low: int) -> int:
    return max(low, 2 * round((x - 1) / 2) + 1)


def _smoothed(rgb: np.ndarray, lines: float, f: float) -> np.ndarray:
    """The filtered skin at ``f`` times the reference scale: filter sizes grow with the face."""
    d, sigma_color, sigma_space = BILATERAL
    bilateral = (_odd(d * f, 3), sigma_color, sigma_space * f)
    if lines > 0:  # the lines lifted by a closing, that share of them, before the one filter
        k = _odd(CLOSE_K * f, 3)
        closed = cv2.morphologyEx(rgb, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        rgb = cv2.addWeighted(closed, lines, rgb, 1 - lines, 0)
    return cv2.bilateralFilter(rgb, *bilateral).astype(np.float32)


def _skin(photo: np.ndarray, lost: list[int]) -> np.ndarray:
    """The skin mask of a face's crop. ``skin_mask`` takes the skin colour from the crop's centre, so a
    crop cut by the picture's edges (``lost``: top, bottom, left, right) is first padded back around the
    face by repeating its edge."""
    if not any(lost):
        return skin_mask(photo, gate=False)
    top, bottom, left, right = lost
    padded = cv2.copyMakeBorder(photo, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return skin_mask(padded, gate=False)[top:top + photo.shape[0], left:left + photo.shape[1]]


def clean_face_skin(out: np.ndarray, photo: np.ndarray, faces: Sequence[Face], settings: FaceSkin,
                    cartoon: np.ndarray | None = None) -> np.ndarray:
    """``out`` (H, W, 3 uint8, the cartoon of ``photo``, the same size) with each face's skin cleaned. The
    filters grow with the face (eye distance); a face over MAX_SCALE times the reference is brought down to
    that first, so the filters stay small, and the result is blended back at the picture's scale.
    ``cartoon``: where ``out`` is a cartoon (H, W, 0–1; None: everywhere), the only place it cleans (face
    mode's kept photo around a pasted face stays the photo: the oval reaches past the paste's top)."""
    res = out.copy()
    h, w = out.shape[:2]
    for face in faces[:MAX_FACES]:
        if face.landmarks is None:
            continue
        lm = np.asarray(face.landmarks, np.float64)
        d = float(np.linalg.norm(lm[1] - lm[0]))
        if not np.isfinite(lm).all() or d < MIN_EYE_DIST:
            continue
        centre = lm[:2].mean(0) / 2 + lm[3:].mean(0) / 2
        half = (UP + OVAL[1] + 0.45) * d  # covers the oval and its feathering (3 sigma)
        box = (math.floor(centre[0] - half), math.floor(centre[1] - half),
               math.ceil(centre[0] + half), math.ceil(centre[1] + half))
        x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        crop_out, crop_photo = res[y0:y1, x0:x1], photo[y0:y1, x0:x1]
        f = d / REF_EYE_DIST
        s = min(1.0, MAX_SCALE / f)  # 1: filtered in place
        work_out, work_photo = crop_out, crop_photo
        if s < 1:
            size = (max(8, round((x1 - x0) * s)), max(8, round((y1 - y0) * s)))
            work_out = cv2.resize(crop_out, size, interpolation=cv2.INTER_AREA)
            work_photo = cv2.resize(crop_photo, size, interpolation=cv2.INTER_AREA)
        lost = [round(v * s) for v in (y0 - box[1], box[3] - y1, x0 - box[0], box[2] - x1)]  # cut by the edges
        inside = face_weight(work_out.shape[:2], (lm - [x0, y0]) * s)
        weight = inside * _skin(work_photo, lost)
        if float(weight.max()) < 0.01:
            continue
        lines = settings.lines
        if settings.textured and lines < 1:  # an older face: its wrinkles were drawn as lines, lift more of them
            lines += (1 - lines) * TEXTURE.weight(texture_share(work_photo, weight * (inside > 0.5)))
        flat = _smoothed(work_out, lines, f * s)
        if s < 1:  # back at the picture's scale, blended there: the pixels left alone stay exact
            flat = cv2.resize(flat, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            weight = cv2.resize(weight, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        if cartoon is not None:
            weight = weight * cartoon[y0:y1, x0:x1]
        mixed = weight[..., None] * flat + (1 - weight[..., None]) * crop_out.astype(np.float32)
        res[y0:y1, x0:x1] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return res


class FaceSkinStep:
    """Cleans the skin of each face of a cartoon, placed by the photo's faces (found by the caller)."""

    def __init__(self, settings: FaceSkin) -> None:
        self.settings = settings

    def apply(self, out: Image.Image, photo: Image.Image, faces: Sequence[Face],
              cartoon: np.ndarray | None = None) -> Image.Image:
        """``cartoon``: where ``out`` is a cartoon (H, W, 0–1; None: everywhere): the only place cleaned and
        toned (the tone reaches the skin around each face, ears, neck, hands, there), not face mode's kept
        photo."""
        if not faces:
            return out
        rgb = np.asarray(out.convert("RGB"))
        ref = np.asarray(photo.convert("RGB"))
        if ref.shape != rgb.shape:
            ref = np.asarray(photo.convert("RGB").resize(out.size, Image.Resampling.BICUBIC))
        rgb = clean_face_skin(rgb, ref, faces, self.settings, cartoon)
        if self.settings.tone is not None:
            rgb = keep_skin_tone(rgb, ref, faces, self.settings.tone, cartoon)
        cleaned = Image.fromarray(rgb)
        if out.mode == "RGBA":
            cleaned.putalpha(out.getchannel("A"))
        return cleaned


__all__ = ["FaceSkin", "FaceSkinStep", "chosen_face_skin", "clean_face_skin", "face_weight", "recorded_face_skin"]
