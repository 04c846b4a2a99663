"""Faces kept, as a second detector sees them: a check on `artifygan evaluate`'s YuNet figure.

Why: `loss.face` trains the generator against YuNet's own features, so YuNet's "faces kept" and NME on a
model trained with it are no longer independent evidence. OpenCV's Haar frontal-face cascade (shipped
inside opencv-python, a different detector family and training set) is the cross-check: the share of
photos where Haar finds a face whose output still has one near the same place (centre within half the
photo face's width). Same photos and inference path as evaluate (sorted names, centre square, 256²,
each snapshot's recorded preprocessing).

    python benchmarks/faces_second_detector.py NAME=SNAPSHOT [NAME=SNAPSHOT ...]
        [--photos data/s2a_256/val/photos] [-n 100] [--size 256]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np


def haar_faces(cascade: cv2.CascadeClassifier, rgb: np.ndarray) -> list[tuple[float, float, float]]:
    """(centre x, centre y, width) of each frontal face, larger first."""
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(48, 48))
    faces = [(x + w / 2, y + h / 2, float(w)) for x, y, w, h in (found if len(found) else [])]
    return sorted(faces, key=lambda f: -f[2])


def kept_share(cascade: cv2.CascadeClassifier, photos: list[np.ndarray],
               outputs: list[np.ndarray]) -> tuple[float, int]:
    """Share of photos with a Haar face whose output has a Haar face within half its width; and how many had one."""
    evaluated = kept = 0
    for photo, out in zip(photos, outputs, strict=True):
        f_in = haar_faces(cascade, photo)
        if not f_in:
            continue
        evaluated += 1
        cx, cy, w = f_in[0]
        if any(np.hypot(x - cx, y - cy) <= w / 2 for x, y, _ in haar_faces(cascade, out)):
            kept += 1
    return (kept / evaluated if evaluated else float("nan")), evaluated


def main(argv: list[str] | None = None) -> int:
    from artifygan import Cartoonizer
    from artifygan.imageio import centre_square, list_images, load_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="NAME=SNAPSHOT")
    ap.add_argument("--photos", default="data/s2a_256/val/photos")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args(argv)
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    images = [centre_square(load_image(p), args.size) for p in list_images([args.photos])[: args.n]]
    photos = [np.asarray(im.convert("RGB")) for im in images]
    print("| model | faces kept (Haar) | photos with a Haar face |\n|---|---|---|")
    print(f"| photo itself | {kept_share(cascade, photos, photos)[0]:.0%} | {kept_share(cascade, photos, photos)[1]} |")
    for spec in args.models:
        name, _, path = spec.partition("=")
        cz = Cartoonizer.from_pretrained(path or name, device="cpu", backend="torch", batch_size=8)
        outs = [np.asarray(o.convert("RGB").resize(im.size))
                for o, im in zip(cz.translate(images), images, strict=True)]
        share, n = kept_share(cascade, photos, outs)
        print(f"| {name} | {share:.0%} | {n} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
