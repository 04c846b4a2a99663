"""Reading what a few-shot style learns from: 1–10 reference pictures and the photos to translate.

References come in any size and framing (full illustrations too). Where the anime-face cascade finds a
face, a head-and-shoulders square around it is used, so a reference's face is at the scale of a photo's
face; otherwise the whole picture. Unreadable references are an error naming the file: a style silently
learned from fewer pictures than the user gave is worse than no style.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..imageio import ImageError, load_image, named_images, pil_to_tensor

log = logging.getLogger(__name__)

MIN_REFERENCE_SIDE = 16  # px: fewer leaves no patch for the discriminator's crops
MAX_REFERENCES = 10  # more still works; the method is tuned for few shots and slows nothing, so warn only
DETECT_SIDE = 1024  # faces are searched on a copy at most this large (full illustrations can be huge)

PathLike = str | os.PathLike


class StyleError(ValueError):
    """Bad references or options for a new style; the message names the file or folder."""


@dataclass
class Reference:
    path: Path
    image: Image.Image  # RGB; a face crop (square) or the whole picture
    face: bool  # True: cropped around a detected anime face
    sha256: str

    def tensor(self, short_side: int) -> torch.Tensor:
        """(3, H, W) in [-1, 1] with the shorter side resized to ``short_side``."""
        return pil_to_tensor(resize_short(self.image, short_side))


def resize_short(img: Image.Image, short_side: int) -> Image.Image:
    w, h = img.size
    s = short_side / min(w, h)
    if abs(s - 1) < 1e-6:
        return img
    return img.resize((max(short_side, round(w * s)), max(short_side, round(h * s))), Image.Resampling.BICUBIC)


def list_references(refs: Sequence[PathLike]) -> list[Path]:
    """Files given directly plus the images inside folders, in order; 0 is an error, > 10 a warning."""
    if isinstance(refs, str | os.PathLike):
        refs = [refs]
    files: list[Path] = []
    for r in refs:
        p = Path(r)
        if p.is_dir():
            found = named_images(p)
            if not found:
                raise StyleError(f"{p}: no images in this folder")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise StyleError(f"{p}: no such file or folder")
    if not files:
        raise StyleError("no reference images given: pass 1–10 pictures (files or folders) of the style")
    if len(files) > MAX_REFERENCES:
        warnings.warn(f"{len(files)} reference images: few-shot styles are meant for 1–{MAX_REFERENCES}; "
                      "all are used", UserWarning, stacklevel=2)
    return files


def anime_detector(cascade: PathLike | None = None):
    """The anime-face cascade from the option, $ARTIFYGAN_ANIME_CASCADE, the cache or its download (a fresh
    install had none, so its references were never cropped to their faces); None without one (offline)."""
    from ..faces import AnimeFaceDetector

    try:
        return AnimeFaceDetector(cascade)
    except (FileNotFoundError, ValueError) as exc:
        if cascade is not None:
            raise
        log.info("no anime face cascade (%s): references are used whole", str(exc).split(".")[0])
        return None


def face_crop(img: Image.Image, detector, margin: float = 1.0) -> Image.Image | None:
    """A square around the largest anime face, ``margin`` wider than the cascade's box (head and hair)."""
    from ..faces import crop_box, square_box

    if detector is None:
        return None
    w, h = img.size
    s = min(1.0, DETECT_SIDE / max(w, h))
    small = img if s == 1.0 else img.resize((round(w * s), round(h * s)), Image.Resampling.BILINEAR)
    faces = detector.detect(np.asarray(small))
    if not faces:
        return None
    box = tuple(v / s for v in faces[0].box)
    sq = square_box(box, margin, shift_up=0.1)  # type: ignore[arg-type]
    side = max(1, round(sq[2] - sq[0]))
    if side > 0.9 * min(w, h):  # the face fills the picture already: keep the artist's framing
        return None
    return Image.fromarray(crop_box(np.asarray(img), sq, side))


def too_small(img: Image.Image) -> str | None:
    """Why a picture cannot be a style reference, or None: one check for uploads (when they arrive) and files."""
    w, h = img.size
    if min(w, h) < MIN_REFERENCE_SIDE:
        return f"too small for a style reference ({w}×{h}; at least {MIN_REFERENCE_SIDE} px a side)"
    return None


def read_references(refs: Sequence[PathLike], cascade: PathLike | None = None,
                    detect: bool = True) -> list[Reference]:
    """Load and frame every reference; unreadable ones raise :class:`ImageError` naming the file."""
    files = list_references(refs)
    detector = anime_detector(cascade) if detect else None
    out = []
    for f in files:
        img = load_image(f)  # ImageError names the file
        if why := too_small(img):
            raise ImageError(f"{f}: {why}")
        crop = face_crop(img, detector)
        digest = hashlib.sha256(Path(f).read_bytes()).hexdigest()
        out.append(Reference(Path(f), crop if crop is not None else img, crop is not None, digest))
    log.info("%d reference(s), %d framed on a detected face", len(out), sum(r.face for r in out))
    return out


def photo_roots(photos: PathLike | Sequence[PathLike]) -> list[PathLike]:
    """The ``photos`` files and folders as a list, each checked to exist (cheap: before any work)."""
    roots = [photos] if isinstance(photos, str | os.PathLike) else list(photos)
    if not roots:
        raise StyleError("photos: an empty list; give photo files or folders (None: the bundled examples)")
    for root in roots:
        if not os.path.exists(root):
            raise StyleError(f"{root}: no such photo file or folder")
    return roots


def read_photos(photos: PathLike | Sequence[PathLike] | None, short_side: int, limit: int = 300,
                seed: int = 0) -> tuple[list[torch.Tensor], bool]:
    """(photo tensors with the shorter side ``short_side``, strong) — strong augmentation is wanted when
    the photos are the few bundled examples. Unreadable photos are skipped with a warning."""
    from ..pretrained import example_photos

    if photos is None:
        files, strong = example_photos(), True
        if not files:
            raise StyleError("no --photos given and this install bundles no example photos")
    else:
        roots = photo_roots(photos)
        files, strong = [f for root in roots for f in named_images(root)], False  # a bad one is said below
        if not files:
            raise StyleError(f"no photos found in {', '.join(map(str, roots))}")
    if len(files) > limit:
        rng = np.random.default_rng(seed)
        files = [files[i] for i in sorted(rng.choice(len(files), limit, replace=False))]
    out = []
    for f in files:
        try:
            out.append(pil_to_tensor(resize_short(load_image(f), short_side)))
        except ImageError as exc:
            warnings.warn(f"skipping photo: {exc}", UserWarning, stacklevel=2)
    if not out:
        raise StyleError("none of the photos could be read")
    return out, strong or len(out) < 8
