"""Structure preservation: does the cartoon still have the photo's face, in the same place?

For each (photo, output) pair YuNet finds the photo's largest face and the output face nearest to it.
Reported: the share of outputs where a face is still found (its centre within half the photo face's width
of the photo face's centre, as for the Haar figure below), and the mean distance of the 5 landmarks
normalised by the photo's inter-ocular distance (NME). A cartoon that loses the face fails, whatever
its KID.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..faces import Face, PhotoFaceDetector
from .registry import register


@dataclass
class StructureResult:
    face_kept: float  # share of pairs (with a face in the photo) whose output has a face in the same place
    nme_mean: float  # landmark error / inter-ocular distance, over pairs with both faces
    nme_median: float
    evaluated: int  # pairs whose photo has a face
    no_face_in_photo: int
    per_image: list[float | None] = field(default_factory=list)  # NME, None = face lost / not evaluated


def _centre(face: Face) -> np.ndarray:
    b = face.box
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])


@register("structure")
def structure(photos: list[Image.Image], outputs: list[Image.Image], detector: PhotoFaceDetector,
              photo_faces: list[list[Face]] | None = None) -> StructureResult:
    """``photo_faces``: the photos' faces when already detected (one YuNet pass per photo set, not per model)."""
    per: list[float | None] = []
    lost = evaluated = no_face = 0
    nmes = []
    if photo_faces is None:
        photo_faces = [detector.detect(np.asarray(p.convert("RGB"))) for p in photos]
    for photo, out, f_in in zip(photos, outputs, photo_faces, strict=True):
        if not f_in:
            no_face += 1
            per.append(None)
            continue
        evaluated += 1
        f_out = detector.detect(np.asarray(out.convert("RGB").resize(photo.size)))
        if not f_out:
            lost += 1
            per.append(float("inf"))
            continue
        c = _centre(f_in[0])  # the photo's largest face
        dists = [float(np.hypot(*(_centre(f) - c))) for f in f_out]
        best = f_out[int(np.argmin(dists))]
        if min(dists) > 0.5 * f_in[0].width:  # a face elsewhere (a second person, a poster) is not this one
            lost += 1
            per.append(float("inf"))
            continue
        lm_in, lm_out = f_in[0].landmarks, best.landmarks
        if lm_in is None or lm_out is None:
            raise ValueError("structure needs faces with landmarks (YuNet's PhotoFaceDetector)")
        iod = max(float(np.hypot(*(lm_in[0] - lm_in[1]))), 1.0)
        nme = float(np.linalg.norm(lm_out - lm_in, axis=1).mean() / iod)
        nmes.append(nme)
        per.append(nme)
    return StructureResult(
        face_kept=(evaluated - lost) / evaluated if evaluated else float("nan"),
        nme_mean=float(np.mean(nmes)) if nmes else float("nan"),
        nme_median=float(np.median(nmes)) if nmes else float("nan"),
        evaluated=evaluated, no_face_in_photo=no_face, per_image=per,
    )


@dataclass
class SecondDetectorResult:
    face_kept: float  # share of photos with a Haar face whose output has one near the same place
    evaluated: int  # photos where the cascade finds a face


HaarFace = tuple[float, float, float]  # centre x, centre y, width


@functools.cache
def _haar_cascade() -> cv2.CascadeClassifier | None:
    """OpenCV's frontal-face cascade, loaded once; None where this OpenCV build ships no cascade files."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = Path(folder) / "haarcascade_frontalface_default.xml"
    return cv2.CascadeClassifier(str(path)) if folder and path.is_file() else None


def _haar_faces(cascade: cv2.CascadeClassifier, rgb: np.ndarray) -> list[HaarFace]:
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(48, 48))
    return sorted(((x + w / 2, y + h / 2, float(w)) for x, y, w, h in (found if len(found) else [])),
                  key=lambda f: -f[2])


def haar_photo_faces(photos: list[Image.Image]) -> list[list[HaarFace]] | None:
    """The photos' Haar faces, once per photo set (as ``detect_photo_faces`` does for YuNet); None without
    a cascade."""
    cascade = _haar_cascade()
    return None if cascade is None else _faces_of(cascade, photos)


def _faces_of(cascade: cv2.CascadeClassifier, photos: list[Image.Image]) -> list[list[HaarFace]]:
    return [_haar_faces(cascade, np.asarray(p.convert("RGB"))) for p in photos]


@register("faces_second_detector")
def faces_second_detector(photos: list[Image.Image], outputs: list[Image.Image],
                          photo_faces: list[list[HaarFace]] | None = None) -> SecondDetectorResult:
    """Faces kept as OpenCV's Haar frontal-face cascade sees them (it ships inside opencv-python).

    Why a second detector: ``loss.face`` trains against YuNet's own features, so YuNet's figures on such a
    model are not independent evidence; this detector (another family, another training set) is. Kept: the
    output has a face whose centre lies within half the photo face's width of the photo face's centre.
    ``photo_faces``: from :func:`haar_photo_faces`, when already found (one pass per photo set, not per model).
    """
    cascade = _haar_cascade()
    if cascade is None:
        return SecondDetectorResult(float("nan"), 0)
    if photo_faces is None:
        photo_faces = _faces_of(cascade, photos)
    evaluated = kept = 0
    for photo, out, f_in in zip(photos, outputs, photo_faces, strict=True):
        if not f_in:
            continue
        evaluated += 1
        cx, cy, w = f_in[0]
        found = _haar_faces(cascade, np.asarray(out.convert("RGB").resize(photo.size)))
        kept += any(np.hypot(x - cx, y - cy) <= w / 2 for x, y, _ in found)
    return SecondDetectorResult(kept / evaluated if evaluated else float("nan"), evaluated)
