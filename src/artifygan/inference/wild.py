"""Photos in the wild: find every face, translate it aligned (as the model was trained), paste it back.

Why align: the model learned eye-aligned face crops; a face that fills 5% of a group photo, seen at the
photo's scale, gets texture but not the style. Each face is warped to the training framing, translated
at ``face_size``, warped back and blended with a feathered mask whose seam is colour-matched to the
background (the original, a blurred copy, or the whole photo translated by the same model, tiled).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ..faces import Face, FaceFraming, PhotoFaceDetector, align_by_eyes, valid_face
from ..imageio import ImageLike, as_grey, read_input
from .arguments import check_flags
from .cartoonizer import Cartoonizer
from .tta import check_tta

MODES = ("face", "whole")
BACKGROUNDS = ("cartoon", "keep", "blur")
NO_FACE = ("whole", "skip")
# the framing `artifygan prepare` gives training photos (eye distance and eye height, fractions of the crop)


@dataclass
class WildOptions:
    """How a photo in the wild is handled (the CLI flags of `artifygan translate` map onto these)."""

    mode: str = "face"  # face: detect/align/paste back | whole: the whole image, tiled when large
    background: str = "cartoon"  # face mode: cartoon | keep | blur
    max_faces: int = 16  # largest first
    min_face: int = 24  # faces narrower than this (pixels) are left alone
    no_face: str = "whole"  # face mode without faces: whole (translate the whole image) | skip
    face_size: int = 256  # resolution each aligned face is translated at
    feather: float = 0.035  # mask softness (Gaussian sigma), fraction of the face crop
    color_match: bool = True  # shift the face's colours towards the background's at the seam
    blur_sigma: float = 12.0
    tta: str | None = None  # test-time ensemble of this call (inference.tta); None: the Cartoonizer's own
    clean_face: bool = True  # False: this call skips the model's clean face skin (artifygan.face_skin)

    def __post_init__(self) -> None:
        if self.tta is not None:
            check_tta(self.tta)
        for name, value, allowed in (("mode", self.mode, MODES), ("background", self.background, BACKGROUNDS),
                                     ("no_face", self.no_face, NO_FACE)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose {' or '.join(allowed)}")
        # the CLI's own bounds (a face_size of 0 divided by zero deep in the alignment; blur_sigma 0 was an
        # OpenCV assertion)
        for name, number, low, whole in (("max_faces", self.max_faces, 1, True), ("min_face", self.min_face, 0, True),
                                         ("face_size", self.face_size, 32, True), ("feather", self.feather, 0, False),
                                         ("blur_sigma", self.blur_sigma, 1e-3, False)):
            kinds = (int,) if whole else (int, float)
            if isinstance(number, bool) or not isinstance(number, kinds) or not number >= low:
                raise ValueError(f"{name} must be {'a whole number' if whole else 'a number'} of at least {low}, "
                                 f"got {number!r}")
        check_flags({}, {"color_match": self.color_match, "clean_face": self.clean_face})


@dataclass
class FaceRecord:
    box: list[float]  # x0, y0, x1, y1 in input pixels
    score: float
    landmarks: list[list[float]] | None
    translated: bool
    reason: str = ""  # why not translated


@dataclass
class WildResult:
    image: Image.Image | None  # None when skipped
    size: tuple[int, int]
    mode: str  # what was done: face | whole | skipped
    faces: list[FaceRecord] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def sidecar(self) -> dict[str, Any]:
        """JSON-ready description (boxes, what happened, timings)."""
        d = asdict(self)
        d.pop("image")
        return d


def face_mask(size: int, feather: float) -> np.ndarray:
    """Feathered ellipse in crop space, exactly 0 at the crop's border (so far pixels stay untouched)."""
    sigma = max(1.0, feather * size)
    m = np.zeros((size, size), np.float32)
    # an ellipse over hair, face and chin; its blurred tail must end inside the crop
    r = 0.5 * size - 3.5 * sigma
    rx, ry = min(0.40 * size, 0.92 * r), min(0.46 * size, r)
    cv2.ellipse(m, (size // 2, size // 2), (max(1, round(rx)), max(1, round(ry))), 0, 0, 360, 1.0, -1)
    k = int(6 * sigma) | 1
    return cv2.GaussianBlur(m, (k, k), sigma, borderType=cv2.BORDER_CONSTANT)


def paste_face(base: np.ndarray, face: np.ndarray, mask: np.ndarray, m: np.ndarray, color_match: bool,
               pasted: np.ndarray | None = None) -> None:
    """Warp ``face`` (crop space, float32 RGB) back through the inverse of ``m`` and blend into ``base``;
    ``pasted`` (H, W), if given, gains the blend's weight (where the picture is now this cartoon face).

    Works on the face's bounding rectangle only, so a small face in a 12 MP photo costs little.
    """
    h, w = base.shape[:2]
    s = face.shape[0]
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], np.float64) @ inv.T
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    shift = inv.copy()
    shift[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR
    f = cv2.warpAffine(face, shift, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(mask, shift, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    region = base[y0:y1, x0:x1]
    if color_match:
        seam = a * (1 - a) * 4  # peaks where the mask is 0.5
        if seam.sum() > 1:
            delta = ((region - f) * seam).sum((0, 1)) / seam.sum()
            f = f + np.clip(delta, -40, 40) * (1 - a)  # full shift at the seam, none at the face's centre
    region[:] = region * (1 - a) + f * a
    if pasted is not None:
        np.maximum(pasted[y0:y1, x0:x1], a[..., 0], out=pasted[y0:y1, x0:x1])


class WildCartoonizer:
    """A :class:`Cartoonizer` plus face detection, alignment and paste-back (lazy-loaded YuNet)."""

    def __init__(self, cartoonizer: Cartoonizer, options: WildOptions | None = None,
                 detector: PhotoFaceDetector | None = None, yunet: str | None = None) -> None:
        self.cz = cartoonizer
        self.framing = FaceFraming.from_meta(cartoonizer.meta)  # the framing the model was trained on
        self.options = options or WildOptions()
        self._detector = detector
        self._yunet = yunet
        if yunet is not None:  # a style's backdrop and eyes: the same file
            cartoonizer.face_finder.model = yunet

    @property
    def detector(self) -> PhotoFaceDetector:
        if self._detector is None:
            self._detector = PhotoFaceDetector(self._yunet)
        return self._detector

    def require_detector(self, alternative: str) -> PhotoFaceDetector:
        """Load the face detector now, so a missing one is one clear error up front, not one per image."""
        try:
            return self.detector
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{exc} (or {alternative}, which needs no face detector)") from None

    def detect(self, rgb: np.ndarray, min_face: int | None = None) -> list[Face]:
        """Faces with landmarks and finite boxes inside the image, largest first; YuNet looks for faces down
        to ``min_face`` (None: the options'; another detector, a caller's, is asked as it is)."""
        h, w = rgb.shape[:2]
        det, narrowest = self.detector, self.options.min_face if min_face is None else min_face
        found = det.detect(rgb, narrowest) if isinstance(det, PhotoFaceDetector) else det.detect(rgb)
        return [f for f in found if f.landmarks is not None and valid_face(f, w, h)]

    def __call__(self, image: ImageLike, faces: list[Face] | None = None,
                 options: WildOptions | None = None) -> WildResult:
        """Translate one photo. ``faces`` skips detection (video passes tracked, smoothed faces)."""
        opt = options or self.options
        t0 = time.perf_counter()
        rgb_img, alpha = read_input(image)
        timings: dict[str, float] = {}
        paint = opt.background != "keep"  # keep: the photo's background, also under a style's plain backdrop
        if opt.mode == "whole":
            out = self.cz(rgb_img, opt.tta, paint_background=paint, clean_face=opt.clean_face)
            timings["translate"] = ms(t0)
            return WildResult(restore_alpha(out, alpha), rgb_img.size, "whole", timings_ms=timings)

        rgb = np.asarray(rgb_img)
        if faces is None:
            faces = self.detect(rgb, opt.min_face)
            timings["detect"] = ms(t0)
        else:  # given faces (video tracks, callers' own detectors) pass the same check
            faces = [f for f in faces if valid_face(f, rgb.shape[1], rgb.shape[0])]
        records: list[FaceRecord] = []
        chosen: list[Face] = []
        for f in faces:
            lms = None if f.landmarks is None else np.round(np.asarray(f.landmarks, np.float64), 1).tolist()
            rec = FaceRecord([round(float(v), 1) for v in f.box], round(float(f.score), 3), lms, False)
            if f.landmarks is None:
                rec.reason = "no landmarks"
            elif f.width < opt.min_face:
                rec.reason = f"smaller than {opt.min_face}px"
            elif len(chosen) >= opt.max_faces:
                rec.reason = f"over the cap of {opt.max_faces} faces"
            else:
                rec.translated = True
                chosen.append(f)
            records.append(rec)
        if not chosen:
            note = "no face found" if not faces else "no face large enough"
            if opt.no_face == "skip":
                return WildResult(None, rgb_img.size, "skipped", records, timings, f"{note}: skipped")
            out = self.cz(rgb_img, opt.tta, paint_background=paint, clean_face=opt.clean_face)
            timings["translate"] = ms(t0)
            return WildResult(restore_alpha(out, alpha), rgb_img.size, "whole", records, timings,
                              f"{note}: translated the whole image")

        t1 = time.perf_counter()
        # black and white is decided once, for the whole photo: each face crop decided on its own, a grey
        # photo with a coloured caption got grey faces pasted into a tinted cartoon
        grey = self.cz.greys(rgb_img)
        base: np.ndarray
        # a style's plain background and eyes (Cartoonizer.finish) are done once, on the finished picture, so
        # faces and the rest share one cut; around a photo or blurred background no backdrop is painted
        if opt.background == "cartoon":
            base = np.asarray(self.cz(rgb_img, opt.tta, face_steps=False, grey=grey), np.float32)
        elif opt.background == "blur":
            base = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), opt.blur_sigma)
        else:
            base = rgb.astype(np.float32)
        timings["background"] = ms(t1)

        t2 = time.perf_counter()
        size = opt.face_size
        crops: list[ImageLike] = []
        mats: list[np.ndarray] = []
        for f in chosen:
            assert f.landmarks is not None  # faces without landmarks are not chosen above
            crop, m = align_by_eyes(rgb, f.landmarks, size, self.framing.eye_dist, self.framing.eye_y,
                                    face_width=f.width)
            crops.append(Image.fromarray(crop))
            mats.append(m)
        translated = self.cz.translate(crops, opt.tta, face_steps=False, grey=grey, own_size=True)
        timings["faces"] = ms(t2)
        mask = face_mask(size, opt.feather)
        # around the photo or its blur, where the faces were pasted: the skin tone stays there
        pasted = np.zeros(base.shape[:2], np.float32) if opt.background != "cartoon" else None
        for crop, m in reversed(list(zip(translated, mats, strict=True))):  # largest pasted last, on top
            paste_face(base, np.asarray(crop, np.float32), mask, m, opt.color_match, pasted)
        out = Image.fromarray(np.clip(base + 0.5, 0, 255).astype(np.uint8))
        # the steps placed by faces touch cartoon faces only: around a kept or blurred background, a face left
        # out (too small, over the cap) is still the photo's
        cartoons = faces if opt.background == "cartoon" else chosen
        out = self.cz.finish(out, rgb_img, cartoons, paint_background=opt.background == "cartoon",
                             clean_face=opt.clean_face, cartoon=pasted)
        # faces and base were greyed: the backdrop painted around them too (a kept or blurred photo has none)
        if opt.background == "cartoon" and self.cz.background is not None and grey:
            out = as_grey(out)
        timings["total"] = ms(t0)
        return WildResult(restore_alpha(out, alpha), rgb_img.size, "face", records, timings)


def restore_alpha(img: Image.Image, alpha: Image.Image | None) -> Image.Image:
    if alpha is not None and img.mode != "RGBA":
        img = img.convert("RGB")
        img.putalpha(alpha)
    return img


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Input and output next to each other (same height)."""
    right = right.convert(left.mode) if right.mode != left.mode else right
    if right.size != left.size:
        right = right.resize(left.size, Image.Resampling.BICUBIC)
    canvas = Image.new(left.mode, (left.width * 2, left.height))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return canvas


def ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)
