"""Structure preservation: does the cartoon still have the photo's face, in the same place?

For each (photo, output) pair YuNet finds the photo's largest face and the output face nearest to it.
Reported: the share of outputs where a face is still found, and the mean distance of the 5 landmarks
normalised by the photo's inter-ocular distance (NME). A cartoon that loses the face fails, whatever
its KID.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..faces import Face, PhotoFaceDetector
from .registry import register


@dataclass
class StructureResult:
    face_kept: float  # share of pairs (with a face in the photo) whose output has a face
    nme_mean: float  # landmark error / inter-ocular distance, over pairs with both faces
    nme_median: float
    evaluated: int  # pairs whose photo has a face
    no_face_in_photo: int
    per_image: list[float | None] = field(default_factory=list)  # NME, None = face lost / not evaluated


def _largest_center(faces) -> np.ndarray:
    b = faces[0].box
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
        c = _largest_center(f_in)
        best = min(f_out, key=lambda f: np.hypot(*(np.array([(f.box[0] + f.box[2]) / 2,
                                                               (f.box[1] + f.box[3]) / 2]) - c)))
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
