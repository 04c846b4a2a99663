"""Face detection and alignment, shared by dataset preparation, inference, video and metrics.

Photos: OpenCV's YuNet (cv2.FaceDetectorYN; box + 5 landmarks), aligned on the eyes with a similarity
transform. Cartoons: the LBP anime-face cascade (cv2.CascadeClassifier), square crop around the box.
Model files: a path option, an environment variable, the download cache, or their upstream homes.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .hub import in_cache, resolve_file
from .imageio import one_line

YUNET_URL = ("https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
             "face_detection_yunet_2023mar.onnx")
YUNET_ENV = "ARTIFYGAN_YUNET"
ANIME_URL = "https://raw.githubusercontent.com/nagadomi/lbpcascade_animeface/master/lbpcascade_animeface.xml"
ANIME_ENV = "ARTIFYGAN_ANIME_CASCADE"


# YuNet boxes: eye distance ≈ 0.45 × box width on frontal faces (selfie2anime: 5th-95th pct 0.41-0.49);
# below 0.3 the face is turned away.
FRONTAL_RATIO, PROFILE_RATIO = 0.45, 0.3


@dataclass
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    landmarks: np.ndarray | None  # (5, 2): eye, eye, nose, mouth corner, mouth corner (YuNet order)
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


def valid_face(face: Face, width: int, height: int) -> bool:
    """A usable detection: finite numbers, a box of positive size whose centre lies inside the image.

    YuNet on tiny images (≤ 8 px) sometimes returns phantom faces with inf/NaN boxes; they must never
    reach the paste-back, the JSON sidecar or the web API's header.
    """
    box = np.asarray(face.box, np.float64)
    if not (np.isfinite(box).all() and np.isfinite(face.score)):
        return False
    if face.landmarks is not None and not np.isfinite(np.asarray(face.landmarks, np.float64)).all():
        return False
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return bool(x1 > x0 and y1 > y0 and 0 <= cx <= width and 0 <= cy <= height)


def _opencv_class(name: str, path: os.PathLike | str) -> Any:
    """An OpenCV class, or a clear ValueError on a build without it (OpenCV 5 moved the cascade
    classifier to the contrib modules; the project pins opencv-python-headless < 5)."""
    found = getattr(cv2, name, None)
    if found is None:
        raise ValueError(f"{path}: this OpenCV ({cv2.__version__}) has no cv2.{name}; "
                         "install opencv-python-headless>=4.8,<5")
    return found


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    """OpenCV's own log silenced for the block (it prints errors it also raises)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    before = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(before)


MIN_DETECT_SIDE = 8  # pixels at YuNet's working scale: less cannot hold a face
FIND_PX = 20.0  # pixels: about the narrowest face YuNet finds at its working scale (19 found, 13 not)
COARSE_SIDES = (640, 320)  # a picture worked larger is searched at these longer sides too (close-ups)


class PhotoFaceDetector:
    """YuNet, run at a working scale (longer side 320–1280) so tiny and huge images both work."""

    def __init__(self, model: str | os.PathLike | None = None, score: float = 0.8, download: bool = True) -> None:
        self.path = resolve_file("YuNet face detector", model, YUNET_ENV, YUNET_URL, download=download)
        self.score = score
        self._lock = threading.Lock()
        try:
            with _opencv_quiet():  # a file that is not YuNet: our one line, not OpenCV's [ERROR] line before it
                self.net = _opencv_class("FaceDetectorYN", self.path).create(str(self.path), "", (320, 320),
                                                                            score, 0.3, 50)
        except cv2.error as exc:
            raise ValueError(f"{self.path}: cannot load YuNet model ({one_line(exc)}{in_cache(self.path)})") from None

    def detect(self, rgb: np.ndarray, min_face: float | None = None) -> list[Face]:
        """Faces, largest first (only valid ones: see :func:`valid_face`). ``min_face``: the narrowest face
        (pixels) to be found: a large picture is then searched at a finer scale than its 1280-pixel working
        copy, where a 40-pixel face of a 4000-pixel photo was 13 pixels wide and went unseen. A picture
        worked at more than 640 pixels is searched at 640 and 320 too: YuNet misses faces wider than
        ~400 of its pixels, so a close-up selfie of 1000 pixels or more had no face."""
        h, w = rgb.shape[:2]
        s = min(max(320 / max(h, w), 1.0), 4.0) if max(h, w) < 320 else min(1.0, 1280 / max(h, w))
        if min_face and s < 1.0:
            s = max(s, min(1.0, FIND_PX / min_face))
        if min(w, h) * s < MIN_DETECT_SIDE:  # a thin strip holds no face (and a side of 0 crashed the resize)
            return []
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        faces = self._detect_at(bgr, s)
        for side in COARSE_SIDES:
            if max(h, w) * s > side:  # the faces too large for the finer passes; one found twice is kept once
                faces += [f for f in self._detect_at(bgr, side / max(h, w))
                          if all(iou(f.box, g.box) < 0.3 for g in faces)]
        return sorted(faces, key=lambda f: -f.width)

    def _detect_at(self, bgr: np.ndarray, s: float) -> list[Face]:
        """YuNet on ``bgr`` scaled by ``s``; the faces in the picture's own pixels."""
        h, w = bgr.shape[:2]
        img = bgr
        if s != 1.0:
            img = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))),
                             interpolation=cv2.INTER_AREA if s < 0.5 else cv2.INTER_LINEAR)
        with self._lock:  # the input size is the detector's state: two threads' sizes must not cross
            self.net.setInputSize((img.shape[1], img.shape[0]))
            _, found = self.net.detect(img)
        # back to the photo's pixels: each axis by its own scale (the resize rounds), pixel centres to
        # pixel centres (x/s was a pixel off at the 0.32 scale of a 12 MP photo)
        sx, sy = img.shape[1] / w, img.shape[0] / h
        back = np.array([1 / sx, 1 / sy])
        faces = []
        for f in found if found is not None else []:
            (x0, y0), (x1, y1) = ((f[:2] + 0.5) * back - 0.5), ((f[:2] + f[2:4] + 0.5) * back - 0.5)
            lm = (f[4:14].reshape(5, 2) + 0.5) * back - 0.5
            face = Face((float(x0), float(y0), float(x1), float(y1)), lm, float(f[14]))
            if valid_face(face, w, h):
                faces.append(face)
        return faces


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1): detections of one face at two scales, or a
    face and its track from the frame before (``inference.temporal``)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


class AnimeFaceDetector:
    """LBP cascade for anime faces (nagadomi's lbpcascade_animeface)."""

    def __init__(self, model: str | os.PathLike | None = None, download: bool = True) -> None:
        self.path = resolve_file("anime face cascade", model, ANIME_ENV, ANIME_URL, download=download)
        try:  # a file that is not a cascade: OpenCV raises inside the constructor (a SystemError traceback)
            with _opencv_quiet():
                self.cascade = _opencv_class("CascadeClassifier", self.path)(str(self.path))
        except (cv2.error, SystemError):
            self.cascade = None
        if self.cascade is None or self.cascade.empty():
            raise ValueError(f"{self.path}: cannot load the anime face cascade (not an OpenCV cascade .xml?"
                             f"{in_cache(self.path)})")

    def detect(self, rgb: np.ndarray, min_size: int = 24) -> list[Face]:
        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        boxes = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
        faces = [Face((float(x), float(y), float(x + w), float(y + h)), None, 1.0) for x, y, w, h in boxes]
        return sorted(faces, key=lambda f: -f.width)


@dataclass(frozen=True)
class FaceFraming:
    """Where the eyes sit in an aligned face crop, as fractions of its side: the one definition shared by
    `prepare` (training crops), face mode at inference and the snapshot that records what it was trained on.
    The defaults give selfie2anime's framing."""

    eye_dist: float = 0.28
    eye_y: float = 0.36

    def __post_init__(self) -> None:
        for name in ("eye_dist", "eye_y"):  # 0, negative, NaN or inf warped faces into nothing
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < 1:
                raise ValueError(f"{name} must be a fraction of the crop's side in (0, 1), got {v!r}")

    @classmethod
    def with_margin(cls, margin: float) -> FaceFraming:
        """``prepare --margin``: 0.5 = 50% more room around the face."""
        return cls(eye_dist=cls.eye_dist / (1 + margin))

    @classmethod
    def from_meta(cls, meta: dict | None) -> FaceFraming:
        """The framing a snapshot's config records (``preprocess.face_framing``), else the default. A
        malformed entry is a ValueError (a snapshot with one fails when it loads)."""
        from .input_smoothing import entry_settings, recorded_step

        def parse(raw: object) -> FaceFraming:
            return entry_settings(raw, "face_framing", {"eye_dist", "eye_y"}, lambda r: cls(**r))

        return recorded_step(meta, "face_framing", parse) or cls()


def _eyes_in_order(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two eyes, ordered so that the crop has the mouth below them: from the mouth's side when the
    landmarks have one (a face turned past 90°, or tracks of a caller's detector: sorting by x put such a
    face on its head), else image-left first."""
    a, b = landmarks[0], landmarks[1]
    if len(landmarks) >= 5 and np.isfinite(landmarks[:5]).all():
        d, down = b - a, (landmarks[3] + landmarks[4]) / 2 - (a + b) / 2
        if float(np.dot(down, [-d[1], d[0]])) < 0:  # the mouth on the other side of the eye line's normal
            a, b = b, a
        return a, b
    return (a, b) if a[0] <= b[0] else (b, a)


def align_by_eyes(rgb: np.ndarray, landmarks: np.ndarray, size: int, eye_dist: float = FaceFraming.eye_dist,
                  eye_y: float = FaceFraming.eye_y, face_width: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-warp so the eyes are level, ``eye_dist``·size apart, centred at (0.5, eye_y)·size.

    Returns (crop, 2×3 affine matrix from image to crop). Smaller ``eye_dist`` = more margin. For a
    face in profile the eyes nearly overlap; then ``face_width`` sets the scale and no rotation is
    applied, instead of zooming into a cheek.
    """
    a, b = _eyes_in_order(np.asarray(landmarks, np.float64))
    center = (a + b) / 2
    d = b - a
    dist = float(np.hypot(*d))
    angle = np.arctan2(d[1], d[0])
    if face_width is not None and dist < PROFILE_RATIO * face_width:
        dist, angle = FRONTAL_RATIO * face_width, 0.0
    scale = eye_dist * size / max(dist, 1e-6)
    cos, sin = scale * np.cos(-angle), scale * np.sin(-angle)
    m = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    m[:, 2] = np.array([0.5 * size, eye_y * size]) - m[:, :2] @ center
    return warp_crop(rgb, m, size), m


def square_box(box: tuple[float, float, float, float], margin: float, shift_up: float = 0.0,
               ) -> tuple[float, float, float, float]:
    """A square around ``box`` enlarged by ``margin`` (0.5 = 50% larger), optionally moved up."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - shift_up * (y1 - y0)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def crop_box(rgb: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """Crop a (possibly out-of-bounds) box, reflecting at borders, resized to size×size."""
    x0, y0, x1, y1 = box
    sx, sy = size / max(x1 - x0, 1e-6), size / max(y1 - y0, 1e-6)
    m = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]])
    return warp_crop(rgb, m, size)


def warp_crop(rgb: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """The size×size crop that the 2×3 affine ``m`` (picture → crop) makes, reflecting at the borders.

    A shrinking warp first area-averages the part of the picture the crop sees down to about the crop's
    scale: OpenCV's warps take INTER_AREA as bilinear, which samples a 12 MP photo's face at a tenth of its
    pixels and aliases hair and fabric into moiré (the network draws it as strokes)."""
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale >= 0.8:
        return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_CUBIC if scale >= 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT101)
    h, w = rgb.shape[:2]
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inv.T
    pad = 2 / scale + 2  # source pixels around what the crop sees, so the averaging reaches its edges
    x0, y0 = (int(np.floor(v - pad)) for v in corners.min(0))
    x1, y1 = (int(np.ceil(v + pad)) for v in corners.max(0))
    if min(x1, w) - max(x0, 0) < 2 or min(y1, h) - max(y0, 0) < 2:  # it sees (almost) nothing of the picture
        return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    part = rgb[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:  # reflected about the picture's own edges, as the warp would
        part = cv2.copyMakeBorder(part, max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w),
                                  cv2.BORDER_REFLECT101)
    small = cv2.resize(part, (max(2, round((x1 - x0) * scale)), max(2, round((y1 - y0) * scale))),
                       interpolation=cv2.INTER_AREA)
    fx, fy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
    # small pixel q is picture pixel (q + 0.5) / f - 0.5 + origin (pixel centres, as cv2.resize maps them)
    back = np.array([[1 / fx, 0, (0.5 / fx - 0.5) + x0], [0, 1 / fy, (0.5 / fy - 0.5) + y0], [0, 0, 1]])
    return cv2.warpAffine(small, m @ back, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
