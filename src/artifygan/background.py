"""A plain background for few-shot styles whose references have one: a recorded postprocess (issue 14).

Why: avatar styles (bitmoji-like) draw a person on a flat backdrop, and a style learnt from a few such
pictures still draws the photo's room behind the person. When most references have plain top corners,
``artifygan adapt`` records their colour as ``postprocess.background``, and every surface that loads the
style paints the photo's background in it. The people are cut out by a person segmenter
(``artifygan.segmenter``, MediaPipe's) when one can be loaded, else with GrabCut (Rother et al., 2004;
OpenCV's ``cv2.grabCut``) seeded from the photo's detected faces: the inner face is surely person, a
head-and-shoulders region around each face probably person, the rest probably background. Where no face is
found the picture is left as it is (a landscape has no person to cut out), as it is when the face detector
cannot be loaded (a warning says so: ``face_finder``). Measured on the few-shot benchmark in
docs/fewshot-experiments.md.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np
from PIL import Image

from .input_smoothing import entry_settings, recorded_step

if TYPE_CHECKING:  # the detector (and torch) load only when a style needs them (face_finder)
    from .faces import Face

PLAIN_STD = 6.0  # grey levels: a corner at most this uneven is a plain backdrop (bitmoji: 0; ukiyo-e: 10–85)
CORNER = 0.1  # the corner patches' side, as a share of the picture's shorter side
WORK_SIDE = 320  # GrabCut runs with the longer side at most this (0.06–0.3 s a picture on a 2-core CPU)
ITERATIONS = 4


def parse_colour(text: str) -> tuple[int, int, int]:
    """``#rrggbb`` (or ``rrggbb``) as an (r, g, b) triple; a clear ValueError otherwise."""
    s = text.strip().removeprefix("#")
    if len(s) != 6 or any(ch not in string.hexdigits for ch in s):
        raise ValueError(f"a colour is written #rrggbb, got {text!r}")
    return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)


def colour_hex(colour: Sequence[int]) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in colour)


@dataclass(frozen=True)
class PlainBackground:
    """``colour``: the backdrop (r, g, b); ``feather``: the blur (pixels, at the net's resolution) of the
    person's outline, so the cut does not show stair steps."""

    colour: tuple[int, int, int]
    feather: float = 1.5

    def __post_init__(self) -> None:
        if len(self.colour) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in self.colour):
            raise ValueError(f"background colour must be three integers 0–255, got {self.colour!r}")
        if not 0 <= self.feather <= 8:
            raise ValueError(f"background feather must be in [0, 8] pixels, got {self.feather}")

    def to_meta(self) -> dict[str, Any]:
        return {"colour": colour_hex(self.colour), "feather": self.feather}

    @classmethod
    def from_dict(cls, raw: Any) -> PlainBackground:
        """From a snapshot entry; ValueError, starting with the entry's name, on anything else."""
        def build(r: dict[str, Any]) -> PlainBackground:
            if not isinstance(r.get("colour"), str):
                raise ValueError(f"background colour must be a #rrggbb string, got {r.get('colour')!r}")
            return cls(colour=parse_colour(r["colour"]), feather=float(r.get("feather", cls.feather)))

        return entry_settings(raw, "background", {"colour", "feather"}, build)


def recorded_background(meta: dict[str, Any]) -> PlainBackground | None:
    """The snapshot's ``postprocess.background``, or None (the photo's own background)."""
    return recorded_step(meta, "background", PlainBackground.from_dict, section="postprocess")


def check_background_choice(value: str) -> str:
    """What adapt may be asked for: auto, keep or a colour #rrggbb; a ValueError naming them otherwise
    (the CLI's argument check and AdaptConfig's)."""
    if value not in ("auto", "keep"):
        try:
            parse_colour(value)
        except ValueError as exc:
            raise ValueError(f"auto, keep or a colour; {exc}") from None
    return value


def plain_corner_colour(img: Image.Image) -> tuple[int, int, int] | None:
    """The colour of a picture's backdrop when both top corners are plain and alike, else None.
    (The bottom corners are often clothes.)"""
    a = np.asarray(img.convert("RGB"), np.float32)
    k = max(2, round(CORNER * min(a.shape[:2])))
    corners = [a[:k, :k].reshape(-1, 3), a[:k, -k:].reshape(-1, 3)]
    if any(float(c.std(0).mean()) > PLAIN_STD for c in corners):
        return None
    left, right = (np.median(c, 0) for c in corners)
    if float(np.abs(left - right).max()) > 2 * PLAIN_STD:
        return None
    r, g, b = ((left + right) / 2).round().astype(int).tolist()
    return r, g, b


def references_background(images: Sequence[Image.Image]) -> tuple[int, int, int] | None:
    """The references' common backdrop: when more than half have plain corners, the median of their
    colours; else None (their backgrounds are part of the style, as in prints and paintings)."""
    found = [c for c in map(plain_corner_colour, images) if c is not None]
    if not images or 2 * len(found) <= len(images):
        return None
    r, g, b = np.median(np.array(found, np.float64), 0).round().astype(int).tolist()
    return r, g, b


def _inner_face(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """The part of a face box that is surely the person's face: no hair, no background beside the cheeks."""
    fw, fh = x1 - x0, y1 - y0
    return x0 + 0.2 * fw, y0 + 0.15 * fh, x1 - 0.2 * fw, y1 - 0.05 * fh


def _mark(seeds: np.ndarray, x0: float, y0: float, x1: float, y1: float, value: float) -> None:
    """Set a box of ``seeds`` (clipped to it, at least one pixel) to a value: a GrabCut label, or 1 in a mask."""
    h, w = seeds.shape
    c0, r0 = min(w - 1, max(0, int(x0))), min(h - 1, max(0, int(y0)))
    c1, r1 = max(c0 + 1, min(w, int(np.ceil(x1)))), max(r0 + 1, min(h, int(np.ceil(y1))))
    seeds[r0:r1, c0:c1] = value


def _fill_holes(person: np.ndarray) -> np.ndarray:
    """Background pixels enclosed by the person (a shirt the colour of the wall) become person."""
    _, labels = cv2.connectedComponents((person == 0).astype(np.uint8))
    outside = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))) - {0}
    holes = (person == 0) & ~np.isin(labels, list(outside))
    return (person.astype(bool) | holes).astype(np.uint8)


def person_mask(rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """(H, W) float32: 1 on the people around ``faces`` (boxes in ``rgb``'s pixels), 0 on the background;
    all ones when the cut fails (the picture is then kept as it is)."""
    h, w = rgb.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    small = rgb
    if s < 1:
        small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    seeds = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    boxes = [[v * s for v in f.box] for f in faces]
    for x0, y0, x1, y1 in boxes:  # probably person: the head with its hair, down to the bottom; the shoulders
        fw, fh = x1 - x0, y1 - y0
        _mark(seeds, x0 - 0.45 * fw, y0 - 0.5 * fh, x1 + 0.45 * fw, sh, cv2.GC_PR_FGD)
        _mark(seeds, x0 - fw, y1 + 0.3 * fh, x1 + fw, sh, cv2.GC_PR_FGD)
    for x0, y0, x1, y1 in boxes:  # surely person: the inner face, and the neck under the chin (a dark collar
        fw, fh = x1 - x0, y1 - y0  # is otherwise taken for a dark background)
        _mark(seeds, *_inner_face(x0, y0, x1, y1), cv2.GC_FGD)
        _mark(seeds, x0 + 0.3 * fw, y1 - 0.05 * fh, x1 - 0.3 * fw, y1 + 0.4 * fh, cv2.GC_FGD)
    if not (seeds == cv2.GC_PR_BGD).any():
        return np.ones((h, w), np.float32)
    try:
        cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), seeds, (0, 0, sw, sh),  # rect: unused
                    np.zeros((1, 65)), np.zeros((1, 65)), ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # too few pixels of one kind to model
        return np.ones((h, w), np.float32)
    person = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.uint8)
    _, labels = cv2.connectedComponents(person)
    keep = set(labels[seeds == cv2.GC_FGD].tolist()) - {0}  # only the parts joined to a face
    person = _fill_holes(np.isin(labels, list(keep)).astype(np.uint8))
    if s < 1:
        return cv2.resize(person.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return person.astype(np.float32)


class PersonFinder(Protocol):
    def mask(self, rgb: np.ndarray) -> np.ndarray | None: ...


WINDOW = (4.0, 0.8, 2.0)  # a face's selfie window: its side in face widths, how far above the face it starts
# (face heights), and its height at most this many sides (a portrait crop, to the picture's bottom)
MAX_WINDOWS = 16  # face mode's default cap of faces


def segmented(segmenter: PersonFinder, rgb: np.ndarray, faces: Sequence[Face]) -> np.ndarray | None:
    """The segmenter's cut of the whole picture, joined with its cut of a selfie-framed window around each
    face whose person that cut missed. Why: the segmenter squashes any picture to 256² and was made for
    selfies; on a wide picture or a group it found no one (three selfies side by side: 0% person), and the
    backdrop left each face as a floating rectangle. None: no segmenter (the caller uses GrabCut)."""
    m = segmenter.mask(rgb)
    if m is None:
        return None
    h, w = rgb.shape[:2]
    side_f, above, tall = WINDOW
    for f in list(faces)[:MAX_WINDOWS]:
        ix0, iy0, ix1, iy1 = (round(float(v)) for v in _inner_face(*f.box))
        inner = m[max(0, iy0):max(0, iy1), max(0, ix0):max(0, ix1)]
        if inner.size == 0 or float(inner.mean()) >= 0.5:  # the whole picture's cut has this person
            continue
        fw, fh = f.box[2] - f.box[0], f.box[3] - f.box[1]
        side = side_f * fw
        x0, y0 = (f.box[0] + f.box[2]) / 2 - side / 2, f.box[1] - above * fh
        c0, r0 = max(0, int(x0)), max(0, int(y0))
        c1, r1 = min(w, int(np.ceil(x0 + side))), min(h, int(np.ceil(y0 + tall * side)))
        if c1 - c0 < 16 or r1 - r0 < 16:
            continue
        window = segmenter.mask(np.ascontiguousarray(rgb[r0:r1, c0:c1]))
        if window is None:
            break
        m[r0:r1, c0:c1] = np.maximum(m[r0:r1, c0:c1], window)
    return m


def keep_faces(mask: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """``mask`` with every inner face set to person: whatever a segmenter says, a found face is never painted."""
    out = mask.copy()
    for f in faces:
        _mark(out, *_inner_face(*f.box), 1.0)  # the box GrabCut's cut is seeded with as surely person
    return out


class BackgroundStep:
    """Paints the background of a cartoon in a recorded colour, around the photo's faces (found by the
    caller: ``Cartoonizer.finish``, face mode, video tracks). The people are cut out by ``segmenter``
    (``artifygan.segmenter``) when it has one, else by GrabCut seeded from the faces."""

    def __init__(self, settings: PlainBackground, segmenter: PersonFinder | None = None) -> None:
        self.settings = settings
        self.segmenter = segmenter

    def apply(self, out: Image.Image, photo: Image.Image, faces: Sequence[Face]) -> Image.Image:
        """``out`` (the cartoon of ``photo``, the same size) with everything but the people in the colour;
        unchanged without faces (a landscape has no person to cut out)."""
        if not faces:
            return out
        rgb = np.asarray(photo.convert("RGB"))
        m = segmented(self.segmenter, rgb, faces) if self.segmenter is not None else None
        m = person_mask(rgb, faces) if m is None else keep_faces(m, faces)
        if self.settings.feather > 0:
            m = cv2.GaussianBlur(m, (0, 0), self.settings.feather)
        a = np.asarray(out.convert("RGB"), np.float32)
        painted = a * m[..., None] + np.array(self.settings.colour, np.float32) * (1 - m[..., None])
        return Image.fromarray(painted.round().clip(0, 255).astype(np.uint8))


__all__ = ["BackgroundStep", "PersonFinder", "PlainBackground", "check_background_choice", "keep_faces",
           "parse_colour", "person_mask", "plain_corner_colour", "recorded_background", "references_background",
           "segmented"]
