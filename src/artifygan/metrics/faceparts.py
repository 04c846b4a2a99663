"""Face-part figures placed from the PHOTO's YuNet landmarks: skin strokes on the cheeks, eye/mouth detail.

Both figures use the photo's landmarks, so they are defined even when the cartoon loses its face (that
loss is the structure metric's business). Boxes are axis-aligned, centred in the eye frame and sized in
units of the photo's inter-ocular distance (iod), so they cover the same anatomy at any face size. The
output is compared at the photo's pixel size (PIL bicubic if it differs; recorded in the report).

- **Cheek stroke share** (issue 13): the share of pixels in two boxes under the eyes that are ≥ 20 grey
  levels darker than the median of their 9×9 neighbourhood. A 9×9 median ignores dark structures
  narrower than about 4 px (fewer than half the window's 81 pixels), so this counts *thin* dark strokes —
  the cracks and wrinkles of a "sketch filter" — not shading or large dark regions. Lower = cleaner skin.
- **Eye / mouth detail**: Pearson correlation of Sobel gradient magnitudes between photo and output inside
  each eye box and the mouth box. Correlation (rather than SSIM of edge maps or an L1 of gradients) is 1.0
  for identity and invariant to a gain and offset of the edge strengths, so a cartoon that draws the same
  lids, irises and lips with darker lines or flatter shading is not punished; it falls when edges vanish
  (blur, smudged eyes), move, or when new ones appear (strokes, texture). Higher = more detail kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from ..faces import Face, PhotoFaceDetector
from .registry import register

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), clipped to the image

STROKE_DARK, STROKE_WINDOW = 20, 9
MIN_BOX_PIXELS = 16
OUTPUT_RESIZE = "pil_bicubic to the photo's size when they differ"


@dataclass(frozen=True)
class PartBoxes:
    cheeks: tuple[Box, ...]
    eyes: tuple[Box, ...]
    mouth: Box | None


def _box(center: np.ndarray, half_w: float, half_h: float, shape: tuple[int, int]) -> Box | None:
    h, w = shape
    cx, cy = float(center[0]), float(center[1])
    x0, x1 = max(round(cx - half_w), 0), min(round(cx + half_w), w)
    y0, y1 = max(round(cy - half_h), 0), min(round(cy + half_h), h)
    # both sides positive: a box past a corner has two negative ones, and a positive area
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 and (x1 - x0) * (y1 - y0) >= MIN_BOX_PIXELS else None


def part_boxes(landmarks: np.ndarray, shape: tuple[int, int]) -> PartBoxes:
    """Cheek, eye and mouth boxes from YuNet's 5 landmarks (eye, eye, nose, mouth, mouth) in an h×w image.

    Cheeks: 0.4×0.4 iod, 0.35–0.75 iod below each eye and nudged 0.05 iod outwards, which keeps the nose
    wings, the nasolabial folds and the lower lids out. Eyes: 0.6×0.4 iod around each eye (lids included).
    Mouth: the corners plus 0.1 iod each side (at least 0.6 iod wide), 0.44 iod tall.
    """
    lm = np.asarray(landmarks, np.float64)
    left, right = sorted([lm[0], lm[1]], key=lambda p: p[0])
    iod = max(float(np.hypot(*(right - left))), 1.0)
    u = (right - left) / iod  # along the eyes, image-left to image-right
    v = np.array([-u[1], u[0]])  # perpendicular, pointing down the face
    cheeks = tuple(b for eye, out in ((left, -1), (right, 1))
                   if (b := _box(eye + v * 0.55 * iod + u * out * 0.05 * iod, 0.2 * iod, 0.2 * iod, shape)))
    eyes = tuple(b for eye in (left, right) if (b := _box(eye, 0.3 * iod, 0.2 * iod, shape)))
    mouth_w = float(np.hypot(*(lm[3] - lm[4])))
    mouth = _box((lm[3] + lm[4]) / 2, max(mouth_w / 2 + 0.1 * iod, 0.3 * iod), 0.22 * iod, shape)
    return PartBoxes(cheeks, eyes, mouth)


def _rgb_at(image: Image.Image, size: tuple[int, int] | None = None) -> Image.Image:
    """``image`` in RGB, resized with PIL bicubic to ``size`` (w, h) when it differs (OUTPUT_RESIZE)."""
    im = image.convert("RGB")
    return im.resize(size, Image.Resampling.BICUBIC) if size is not None and im.size != size else im


def gray(image: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 luma (ITU-R 601, PIL 'L'), resized with PIL bicubic to ``size`` (w, h) when it differs."""
    return np.asarray(_rgb_at(image, size).convert("L"))


def stroke_mask(g: np.ndarray, dark: int = STROKE_DARK, window: int = STROKE_WINDOW) -> np.ndarray:
    """Pixels ≥ ``dark`` grey levels below the median of their window×window neighbourhood (thin dark lines)."""
    med = cv2.medianBlur(np.ascontiguousarray(g, np.uint8), window)
    return (med.astype(np.int16) - g.astype(np.int16)) >= dark


def stroke_share(g: np.ndarray, boxes: tuple[Box, ...]) -> float | None:
    """Share of stroke pixels over all pixels of ``boxes``; None when there is no box."""
    if not boxes:
        return None
    mask = stroke_mask(g)
    hits = sum(int(mask[y0:y1, x0:x1].sum()) for x0, y0, x1, y1 in boxes)
    return hits / sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)


def _sobel_magnitude(g: np.ndarray) -> np.ndarray:
    f = g.astype(np.float32)
    return np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3))


def edge_agreement(photo_mag: np.ndarray, out_mag: np.ndarray, box: Box) -> float | None:
    """Pearson correlation of gradient magnitudes in ``box``: None if the photo has no edges there,
    0.0 if the output is flat where the photo is not (all detail lost)."""
    x0, y0, x1, y1 = box
    a = photo_mag[y0:y1, x0:x1].astype(np.float64).ravel()
    b = out_mag[y0:y1, x0:x1].astype(np.float64).ravel()
    if a.std() < 1e-6:
        return None
    if b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def cheek_lightness(image: Image.Image, boxes: tuple[Box, ...]) -> float | None:
    """The median CIELAB L* (0–100) of the pixels in the cheek boxes: the skin's lightness, not its lines."""
    rgb = np.asarray(image.convert("RGB"))
    px = [rgb[y0:y1, x0:x1].reshape(-1, 3) for x0, y0, x1, y1 in boxes]
    if not px:
        return None
    lab = cv2.cvtColor(np.concatenate(px)[None].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0]
    return float(np.median(lab[:, 0]))


@dataclass
class FacePartsResult:
    cheek_strokes: float | None  # mean share of stroke pixels in the cheek boxes (0..1)
    detail_eyes: float | None  # mean gradient-magnitude correlation in the eye boxes (≤ 1)
    detail_mouth: float | None
    evaluated: int  # images whose photo has a face
    per_image: list[dict[str, float | None]] = field(default_factory=list)
    skin_lightening: float | None = None  # mean cheek L* of the output minus the photo's (+ = paler skin)
    skin_lightening_dark: float | None = None  # the same over the quarter of faces with the darkest photo cheeks


def detect_photo_faces(photos: list[Image.Image], detector: PhotoFaceDetector) -> list[list[Face]]:
    """YuNet on each photo once; shared by every candidate's structure and face-part figures."""
    return [detector.detect(np.asarray(p.convert("RGB"))) for p in photos]


@register("face_parts")
def face_parts(photos: list[Image.Image], outputs: list[Image.Image], detector: PhotoFaceDetector | None = None,
               photo_faces: list[list[Face]] | None = None) -> FacePartsResult:
    """Cheek stroke share of each output and eye/mouth detail against its photo, averaged over images."""
    if photo_faces is None:
        if detector is None:
            raise ValueError("face_parts needs a detector or the photos' faces")
        photo_faces = detect_photo_faces(photos, detector)
    per: list[dict[str, float | None]] = []
    for photo, out, faces in zip(photos, outputs, photo_faces, strict=True):
        if not faces or faces[0].landmarks is None:
            per.append({"cheek_strokes": None, "detail_eyes": None, "detail_mouth": None, "skin_lightening": None,
                        "photo_cheek_lightness": None})
            continue
        out_rgb = _rgb_at(out, photo.size)  # resized once, for every figure below
        g_photo, g_out = gray(photo), gray(out_rgb)
        boxes = part_boxes(faces[0].landmarks, g_photo.shape)
        m_photo, m_out = _sobel_magnitude(g_photo), _sobel_magnitude(g_out)
        l_photo, l_out = cheek_lightness(photo, boxes.cheeks), cheek_lightness(out_rgb, boxes.cheeks)
        per.append({"cheek_strokes": stroke_share(g_out, boxes.cheeks),
                    "detail_eyes": _mean([edge_agreement(m_photo, m_out, b) for b in boxes.eyes]),
                    "detail_mouth": edge_agreement(m_photo, m_out, boxes.mouth) if boxes.mouth else None,
                    "skin_lightening": None if l_photo is None or l_out is None else l_out - l_photo,
                    "photo_cheek_lightness": l_photo})
    measured = sorted((p["photo_cheek_lightness"], p["skin_lightening"]) for p in per
                      if p["skin_lightening"] is not None and p["photo_cheek_lightness"] is not None)
    dark = [d for _, d in measured[:max(1, len(measured) // 4)]]
    return FacePartsResult(
        cheek_strokes=_mean([p["cheek_strokes"] for p in per]),
        detail_eyes=_mean([p["detail_eyes"] for p in per]),
        detail_mouth=_mean([p["detail_mouth"] for p in per]),
        evaluated=sum(1 for f in photo_faces if f), per_image=per,
        skin_lightening=_mean([d for _, d in measured]), skin_lightening_dark=_mean(dark))


def own_cheek_strokes(images: list[Image.Image], faces: list[list[Face]]) -> tuple[float | None, int]:
    """Stroke share of images on their own landmarks (reference cartoons YuNet finds a face in): (mean, count)."""
    vals = []
    for im, f in zip(images, faces, strict=True):
        if f and f[0].landmarks is not None:
            g = gray(im)
            vals.append(stroke_share(g, part_boxes(f[0].landmarks, g.shape).cheeks))
    return _mean(vals), sum(v is not None for v in vals)
