"""`artifygan evaluate`: translate held-out photos with one or more models and score them.

Protocol (U-GAT-IT's selfie2anime table): the first ``n`` photos (sorted by name) and the first ``n``
reference cartoons, both centre-cropped to square and resized to ``size`` with PIL bicubic; models
translate the photos through the shared inference path; KID×100 ± std and FID on Inception pool3
features (299² by the recorded resize method); structure preservation with YuNet. Every report also
scores two sanity baselines: "identity" (output = photo) and an untrained light generator; face-part
figures (cheek strokes, eye/mouth detail) come from metrics.faceparts; warnings flag numbers that would
mislead (too few images, photos that look like the references).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ..device import pick_device, seeded
from ..faces import PhotoFaceDetector
from ..imageio import (
    ImageError,
    atomic_write_bytes,
    centre_square,
    file_in_the_way,
    load_image,
    named_images,
    save_image,
)
from .distances import fid, kid
from .faceparts import OUTPUT_RESIZE, STROKE_DARK, STROKE_WINDOW, detect_photo_faces, face_parts, own_cheek_strokes
from .features import InceptionFeatures
from .report import grid, grid_picks, json_safe, markdown_table, sanity_warnings, to_json
from .structure import faces_second_detector, haar_photo_faces, structure

Translator = Callable[[list[Image.Image]], list[Image.Image]]


@dataclass
class Candidate:
    name: str
    translate: Translator
    info: dict[str, Any]
    identity: bool = False  # output = photo: reuse the photos' features


BASELINES = ("identity", "untrained light")  # the rows ``baselines`` adds: no model may take these names


def load_set(folder: str | Path, n: int, size: int) -> tuple[list[Path], list[Image.Image]]:
    """The first ``n`` images by name; a file named like an image that is not one is said (it shifts which
    images are the first ``n``)."""
    if not Path(folder).exists():
        raise FileNotFoundError(f"{folder}: no such file or directory")
    paths: list[Path] = []
    images: list[Image.Image] = []
    bad: list[str] = []
    for p in named_images(folder):
        if len(paths) == n:
            break
        try:  # decoded whole: a truncated file passes a header check and stopped the run at its turn
            img = load_image(p)
        except ImageError as exc:
            bad.append(str(exc))
            continue
        paths.append(p)
        images.append(centre_square(img, size))
    if bad:
        warnings.warn(f"{bad[0]}; skipped" + (f" (and {len(bad) - 1} more in {folder})" if len(bad) > 1 else ""),
                      stacklevel=2)
    if len(paths) < n:
        raise ValueError(f"{folder}: {len(paths)} image(s), the protocol needs {n}")
    return paths, images


def baselines(device: str = "auto") -> list[Candidate]:
    """Sanity anchors: a real model must beat 'untrained' on KID and keep faces like 'identity'."""
    from ..inference.cartoonizer import Cartoonizer
    from ..models import GENERATORS

    with seeded(0):  # the same untrained weights every run
        untrained = Cartoonizer(GENERATORS.build("light"), device=device)
    return [Candidate(BASELINES[0], lambda ims: [im.copy() for im in ims], {"params": 0}, identity=True),
            Candidate(BASELINES[1], untrained.translate, {"params": _params(untrained)})]


def _params(cz) -> int:
    return sum(p.numel() for p in cz.generator.parameters())


def snapshot_candidate(name: str, path: str, device: str = "auto", backend: str = "auto",
                       process_size: int | None = None, smooth_input: bool | None = None,
                       tta: str = "off", clean_face: bool | float | None = None,
                       yunet: str | None = None) -> Candidate:
    """``smooth_input``, ``clean_face``: None = the steps the snapshot records; the report names what ran.
    ``tta``: the test-time ensemble (``inference.tta``). ``yunet``: the face detector of the steps placed
    by faces (None: $ARTIFYGAN_YUNET, the cache, the download)."""
    from ..inference.cartoonizer import Cartoonizer

    cz = Cartoonizer.from_pretrained(path, device=device, backend=backend, resize=process_size,
                                     smooth_input=smooth_input, tta=tta, clean_face=clean_face)
    cz.face_finder.model = yunet
    smoothing = {"bilateral": cz.smoothing.to_meta()} if cz.smoothing is not None else None
    if smoothing is not None and cz.skin is not None:
        smoothing["skin"] = cz.skin.to_meta()
    return Candidate(name, cz.translate, {"path": cz.meta.get("path"), "params": _params(cz),
                                          "backend": cz.backend, "generator": cz.meta.get("generator"),
                                          "process_size": process_size, "input_smoothing": smoothing,
                                          "tta": tta, "keep_grey": cz.keep_grey, "border": cz.border,
                                          "face_skin": cz.face_skin.settings.to_meta() if cz.face_skin else None})


def _face_status(nme: float | None) -> str:
    return "none" if nme is None else ("lost" if math.isinf(nme) else "kept")


REPORT_FILES = ("report.json", "report.md", "grid.png")


def check_report_output(out: str | Path, inputs: list[str | Path], overwrite: bool = False) -> None:
    """Refuse, before any work: a file as the report folder, one inside an input folder (the grid would join
    the photos), or report files already there unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: the report goes in a folder, and this is an existing file; choose another -o")
    if blocked := file_in_the_way(out, out):
        raise ValueError(blocked)
    for src in inputs:
        if out.resolve().is_relative_to(Path(src).resolve()):
            raise ValueError(f"{out}: inside the input folder {src}; choose another -o")
    taken = [out / f for f in REPORT_FILES if os.path.lexists(out / f)]
    if taken and not overwrite:
        raise ValueError(f"{taken[0]}: already exists; --overwrite replaces the report, or choose another -o")


def evaluate(candidates: list[Candidate], photos_dir: str | Path, reference_dir: str | Path, out_dir: str | Path,
             n: int = 100, size: int = 256, resize: str = "pil_bicubic", inception: str | None = None,
             yunet: str | None = None, kid_subsets: int = 100, progress: bool = True,
             device: str = "auto", overwrite: bool = False) -> dict[str, Any]:
    """Score each candidate; writes report.json (strict JSON: null for lost/undefined), report.md, grid.png.
    An earlier report in ``out_dir`` is kept (ValueError) unless ``overwrite``: checked before any work."""
    out_dir = Path(out_dir)
    check_report_output(out_dir, [photos_dir, reference_dir], overwrite)
    photo_paths, photos = load_set(photos_dir, n, size)
    _, refs = load_set(reference_dir, n, size)
    feats = InceptionFeatures(inception, device=pick_device(device), resize=resize)
    detector = PhotoFaceDetector(yunet)
    photo_faces = detect_photo_faces(photos, detector)
    photo_haar = haar_photo_faces(photos)
    ref_faces = detect_photo_faces(refs, detector)
    ref_feats = feats(refs, progress, "reference features")
    photo_feats = feats(photos, progress, "photo features")
    photos_vs_ref = kid(photo_feats, ref_feats, subsets=kid_subsets)
    rows, outputs_by_model = [], {}
    for cand in candidates:
        t0 = time.perf_counter()
        outs = cand.translate(photos)
        secs = time.perf_counter() - t0
        f = photo_feats if cand.identity else feats(outs, progress, f"{cand.name} features")
        k = kid(f, ref_feats, subsets=kid_subsets)
        st = structure(photos, outs, detector, photo_faces=photo_faces)
        fp = face_parts(photos, outs, photo_faces=photo_faces)
        haar = faces_second_detector(photos, outs, photo_faces=photo_haar)
        per_image = [{"face": _face_status(v), "nme": v, **parts} for v, parts in zip(st.per_image, fp.per_image,
                                                                                         strict=True)]
        rows.append({"model": cand.name, **cand.info, "kid_x100": 100 * k.mean, "kid_x100_std": 100 * k.std,
                     "fid": fid(f, ref_feats), "face_kept": st.face_kept, "landmark_nme": st.nme_mean,
                     "landmark_nme_median": st.nme_median, "faces_evaluated": st.evaluated,
                     "no_face_in_photo": st.no_face_in_photo, "face_kept_haar": haar.face_kept,
                     "haar_faces_evaluated": haar.evaluated, "cheek_strokes": fp.cheek_strokes,
                     "detail_eyes": fp.detail_eyes, "detail_mouth": fp.detail_mouth,
                     "skin_lightening": fp.skin_lightening, "skin_lightening_dark": fp.skin_lightening_dark,
                     "img_per_s": n / secs,
                     "per_image": per_image})
        outputs_by_model[cand.name] = outs
    ref_strokes, _ = own_cheek_strokes(refs, ref_faces)
    ref_found = sum(1 for f in ref_faces if f)  # faces found; the strokes count only those with cheek boxes
    photo_found = sum(1 for f in photo_faces if f)
    warnings = sanity_warnings(n, 100 * photos_vs_ref.mean, photo_found / n, ref_found / n)
    report = json_safe({
        "protocol": {"n_photos": n, "n_reference": n, "size": size, "photos": str(photos_dir),
                     "reference": str(reference_dir), "preprocess": "centre square crop + PIL bicubic to size",
                     "inception_resize": resize, "inception": str(feats.net.source), "device": str(feats.device),
                     "kid": {"subsets": kid_subsets, "subset_size": photos_vs_ref.subset_size,
                             "kernel": "(x.y/d + 1)^3"},
                     "structure": "YuNet 5 landmarks, mean distance / photo inter-ocular distance",
                     "face_kept_haar": "OpenCV Haar frontal-face cascade: an output face within half the photo "
                                       "face's width of its centre",
                     "cheek_strokes": f"share of pixels >= {STROKE_DARK} grey levels below their {STROKE_WINDOW}x"
                                      f"{STROKE_WINDOW} median, in two 0.4x0.4 iod boxes under the photo's eyes",
                     "detail": "Pearson correlation of Sobel magnitudes, photo vs output, in 0.6x0.4 iod eye boxes "
                               "and the mouth box (photo landmarks)",
                     "skin_lightening": "median CIELAB L* in the cheek boxes, output minus photo (+ = paler); "
                                        "mean over faces, and over the quarter with the darkest photo cheeks",
                     "output_resize": OUTPUT_RESIZE},
        "photos": [str(p) for p in photo_paths],
        "photos_vs_reference_kid_x100": 100 * photos_vs_ref.mean,
        "reference_faces": {"n": n, "found": ref_found, "cheek_strokes": ref_strokes},
        "warnings": warnings,
        "results": rows,
    })
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / "report.json", to_json(report))
    atomic_write_bytes(out_dir / "report.md", markdown_table(report).encode())
    main = next((c for c in candidates if c.name not in BASELINES), candidates[0]).name
    picks = grid_picks(next(r for r in report["results"] if r["model"] == main)["per_image"])
    save_image(grid(photos, outputs_by_model[main], picks), out_dir / "grid.png")
    return report


__all__ = ["Candidate", "baselines", "evaluate", "markdown_table", "snapshot_candidate"]
