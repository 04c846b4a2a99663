"""The photo's skin tone, given back to the cartoon's skin after the network.

Why: the default generator learnt its skin from selfie2anime's anime faces, which are pale. On the 275
hold-out faces (CelebA and selfies) it lightened the cheeks by 8–13 L* and took colour out of them, most
on the darkest skin (+12.6 L* where the photo's cheeks are under L* 45): a dark-skinned person came out
grey-beige, with near-white blobs where the photo had highlights. A user should still see their own skin.

Two parts, per face found in the photo (its landmarks place it):
- the tone: the mean Lab difference between photo and cartoon over the face's skin (the face oval
  without eyes, brows, nose tip and mouth, on pixels of the face's skin colour), times ``keep``, added to
  every pixel of that skin colour near the face (face, ears, neck, hands next to it), so the cartoon's
  own shading and lines stay and only their level moves;
- the highlights: inside the face oval, the cartoon's skin may be no more than ``margin`` L* lighter than
  the photo's skin around it (a blur at a fifth of the eye distance) or than the photo's pixel itself,
  whichever is lighter: the blown-out blobs come down, what is bright in the photo too (a gold badge on
  a cap, a highlight) and the skin's drawn lines and shadows (darker) are left as they are.
A black-and-white photo has no skin colour to find the neck by: there the tone stays in the face ovals and
moves lightness only. In face mode around the kept photo it goes only where cartoon faces were pasted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from .imageio import is_grey
from .input_smoothing import entry_settings
from .skin_smoothing import chroma_likeness, chroma_stats

if TYPE_CHECKING:
    from .faces import Face

MIN_EYE_DIST = 8.0  # pixels: smaller faces are left alone (face mode's narrowest face, 24 px, has ~9.5; at the
# cleaning's 12 those faces stayed 8 L* paler than the photo)
# how far a face's tone reaches, in eye distances: a Gaussian of these spreads (across, down) centred DOWN
# below the face centre, over the ears, the neck and a hand at the chin; a skin-coloured wall stays
REACH, DOWN = (1.5, 2.5), 1.5
FULL = 0.5  # the weight from which a pixel takes its faces' shift in full
WORK_EYE_DIST = 40.0  # pixels: the scale the smooth fields are found at (finer adds nothing, 10x the time)
MIN_WORK_EYE_DIST, MAX_WORK_PIXELS = 10.0, 1.5e6
SKIN_K = 2.5  # chroma spreads from the face's median that count fully as its skin (fading out to 2×)
# a face's window, in eye distances from its centre: across, up, down (the tone's Gaussian to 4 spreads,
# centred DOWN below the face, plus the blurs' reach)
WINDOW = (4 * REACH[0] + 1.0, 4 * REACH[1] - DOWN + 1.0, 4 * REACH[1] + DOWN + 1.0)


@dataclass(frozen=True)
class SkinTone:
    """``keep``: the share of the photo's mean skin tone given back, 0–1 (0 = off); ``margin``: how many L*
    the cartoon's face skin may be lighter than the photo's local skin (None: no bound)."""

    keep: float = 0.6
    margin: float | None = 15.0

    def __post_init__(self) -> None:
        if isinstance(self.keep, bool) or not isinstance(self.keep, int | float) or not 0.0 <= self.keep <= 1.0:
            raise ValueError(f"skin tone keep must be in [0, 1], got {self.keep!r}")
        if self.margin is not None and (isinstance(self.margin, bool) or not isinstance(self.margin, int | float)
                                        or not 0.0 <= self.margin <= 100.0):
            raise ValueError(f"skin tone margin must be in [0, 100] L* or null, got {self.margin!r}")

    def to_meta(self) -> dict[str, Any]:
        return {"keep": self.keep, "margin": self.margin}

    @classmethod
    def from_dict(cls, raw: Any) -> SkinTone:
        return entry_settings(raw, "tone", {"keep", "margin"}, lambda r: cls(
            keep=r.get("keep", cls.keep), margin=r.get("margin", cls.margin)))


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _face_skin(ycc: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
    """How much each pixel has the chroma of the skin inside the face (0–1), or None for too little skin."""
    sel = inside > 0.5
    if int(sel.sum()) < 50:
        return None
    return chroma_likeness(ycc[..., 1:], *chroma_stats(ycc[sel][:, 1:]), SKIN_K)


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 at full size


def _box(active: np.ndarray, sx: float, sy: float, w: int, h: int, origin: tuple[int, int] = (0, 0)) -> Box | None:
    """The full-size box around the working-scale pixels ``active`` (a window of the working picture whose
    top-left pixel is ``origin``), a pixel's reach of bilinear spare."""
    ys, xs = np.nonzero(active)
    if not len(ys):
        return None
    xs, ys = xs + origin[0], ys + origin[1]
    # bilinear reaches one working pixel beyond: pad by that at the working scale, then one at full size
    return (max(0, math.floor((xs.min() - 1) / sx) - 1), max(0, math.floor((ys.min() - 1) / sy) - 1),
            min(w, math.ceil((xs.max() + 2) / sx) + 1), min(h, math.ceil((ys.max() + 2) / sy) + 1))


def _up(a: np.ndarray, box: Box, sx: float, sy: float, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The working-scale field ``a`` (a window from ``origin``) at full size inside ``box``: what resizing
    all of it would give there, without the full-size copy (a 12 MP picture in face mode)."""
    x0, y0, x1, y1 = box
    m = np.array([[sx, 0, (x0 + 0.5) * sx - 0.5 - origin[0]], [0, sy, (y0 + 0.5) * sy - 0.5 - origin[1]]],
                 np.float32)
    return cv2.warpAffine(a, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def keep_skin_tone(out: np.ndarray, photo: np.ndarray, faces: Sequence[Face], settings: SkinTone,
                   cartoon: np.ndarray | None = None) -> np.ndarray:
    """``out`` (H, W, 3 uint8, the cartoon of ``photo``, the same size) with each face's skin tone moved
    towards the photo's (see the module's docstring); ``cartoon``: where ``out`` is a cartoon (H, W, 0–1;
    None: everywhere), the only place the tone goes (face mode pastes cartoon faces into the kept photo).
    The smooth fields (masks, shifts, the photo's local lightness) are found at a scale where the largest
    face's eyes are WORK_EYE_DIST apart and applied at full size: a 1536² portrait took 0.8 s at full scale."""
    from .face_skin import MAX_FACES, face_weight  # the skin cleaning's faces and oval: one definition

    usable, dists = [], []  # the faces' landmarks and eye distances
    for face in faces[:MAX_FACES]:
        if face.landmarks is None:
            continue
        lm = np.asarray(face.landmarks, np.float64)
        d = float(np.linalg.norm(lm[1] - lm[0]))
        if np.isfinite(lm).all() and d >= MIN_EYE_DIST:
            usable.append(lm)
            dists.append(d)
    if not usable or (settings.keep <= 0 and settings.margin is None):
        return out
    grey = is_grey(Image.fromarray(photo))  # no skin colour to tell the face's surroundings by: the whole
    beyond_faces = not grey  # picture would match it, and the tone would make a halo: the face ovals only
    h, w = out.shape[:2]
    # the largest face's eyes WORK_EYE_DIST apart, but the smallest's at least MIN_WORK_EYE_DIST (a face a
    # sixteenth of the largest's size vanished), as long as the working picture stays under MAX_WORK_PIXELS
    # (the cap bounds both: with small faces in a 12 MP photo the largest face's term alone kept it at full
    # size, 2-7 s and a gigabyte for a group photo)
    cap = math.sqrt(MAX_WORK_PIXELS / (w * h))
    scale = min(1.0, cap, max(WORK_EYE_DIST / max(dists), MIN_WORK_EYE_DIST / min(dists)))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    sx, sy = size[0] / w, size[1] / h
    area = lambda a: a if size == (w, h) else cv2.resize(a, size, interpolation=cv2.INTER_AREA)  # noqa: E731
    lab_out_s, lab_photo_s = _lab(area(out)), _lab(area(photo))
    # the tone is measured on cartoon pixels only: face mode's kept photo around a paste (photo − photo = 0)
    # diluted it, so the same face came out paler around a kept photo than in a whole cartoon
    measured = 1.0 if cartoon is None else area(np.ascontiguousarray(cartoon, np.float32))
    ycc = cv2.cvtColor(np.ascontiguousarray(area(photo)), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    shift, total = np.zeros((size[1], size[0], 3), np.float32), np.zeros((size[1], size[0]), np.float32)
    # per face: its skin weight, the photo's local L*, and the window of the working picture they cover
    bounds: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]] = []
    active = np.zeros((size[1], size[0]), bool)
    for lm_full in usable:
        lm = lm_full * [sx, sy]
        d = float(np.linalg.norm(lm[1] - lm[0]))
        cx, cy = lm[:2].mean(0) / 2 + lm[3:].mean(0) / 2
        # each face works in the window its fields reach (the tone's Gaussian to 4 spreads, below the face;
        # the blurs): a group photo's faces each worked on the whole picture, 0.3 s a face
        wx0, wx1 = max(0, math.floor(cx - WINDOW[0] * d)), min(size[0], math.ceil(cx + WINDOW[0] * d) + 1)
        wy0, wy1 = max(0, math.floor(cy - WINDOW[1] * d)), min(size[1], math.ceil(cy + WINDOW[2] * d) + 1)
        if wx1 - wx0 < 2 or wy1 - wy0 < 2:
            continue
        win = (slice(wy0, wy1), slice(wx0, wx1))
        inside = face_weight((wy1 - wy0, wx1 - wx0), lm - [wx0, wy0])
        skin = _face_skin(ycc[win], inside)
        if skin is None:
            continue
        ref = inside * skin
        if float(ref.sum()) < 20:
            continue
        on_cartoon = ref * (measured if isinstance(measured, float) else measured[win])
        if settings.keep > 0 and float(on_cartoon.sum()) >= 20:
            diff = lab_photo_s[win] - lab_out_s[win]
            delta = (diff * on_cartoon[..., None]).sum((0, 1)) / float(on_cartoon.sum())
            if grey:  # a black-and-white photo says nothing of the colour: its lightness only
                delta[1:] = 0
            xs = np.arange(wx0, wx1, dtype=np.float32)[None, :]
            ys = np.arange(wy0, wy1, dtype=np.float32)[:, None]
            near = np.exp(-0.5 * (((xs - cx) / (REACH[0] * d)) ** 2 + ((ys - cy - DOWN * d) / (REACH[1] * d)) ** 2))
            weight = cv2.GaussianBlur(skin * near, (0, 0), 0.1 * d) if beyond_faces else ref
            shift[win] += weight[..., None] * (settings.keep * delta).astype(np.float32)
            total[win] += weight
        if settings.margin is not None:
            local = cv2.GaussianBlur(lab_photo_s[win][..., 0] * ref, (0, 0), 0.2 * d) / np.maximum(
                cv2.GaussianBlur(ref, (0, 0), 0.2 * d), 1e-3)
            bounds.append((ref, local, (wx0, wy0)))
            active[win] |= ref > 1e-3
    # each pixel: its faces' shifts averaged by weight, in full from a weight of FULL, fading out below it
    field = shift / np.maximum(total, 1e-6)[..., None] * np.clip(total / FULL, 0, 1)[..., None]
    active |= np.abs(field).max(-1) > 0.05  # L*: below this nothing shows
    box = _box(active, sx, sy, w, h)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    part = out[y0:y1, x0:x1]
    before = _lab(part)
    lab = before + _up(field, box, sx, sy) * (1.0 if cartoon is None else cartoon[y0:y1, x0:x1, None])
    own = _lab(photo[y0:y1, x0:x1])[..., 0] if bounds else lab[..., 0]  # bright in the photo too (a badge)
    for ref, local, origin in bounds:
        fb = _box(ref > 1e-3, sx, sy, w, h, origin)
        if fb is None:
            continue
        sl = (slice(fb[1] - y0, fb[3] - y0), slice(fb[0] - x0, fb[2] - x0))
        cap = np.maximum(_up(local, fb, sx, sy, origin), own[sl]) + float(settings.margin or 0.0)
        face_l = lab[sl][..., 0]  # a view: lowered in place
        weight = _up(ref, fb, sx, sy, origin) * (1.0 if cartoon is None else cartoon[fb[1]:fb[3], fb[0]:fb[2]])
        face_l -= weight * np.maximum(face_l - cap, 0)
    rgb = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if grey and is_grey(Image.fromarray(part)):  # a grey cartoon stays exactly grey (Lab's round trip left ±1
        # between channels); one in colour (--colour-grey-photos) keeps its colour
        rgb = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    moved = np.abs(lab - before).max(-1) > 1e-3  # the rest exactly as it was, not through a Lab round trip
    res = out.copy()
    res[y0:y1, x0:x1] = np.where(moved[..., None], rgb, part)
    return res


__all__ = ["SkinTone", "keep_skin_tone"]
