"""Changes to a model's inference, no training: the table "Inference-time changes" of docs/default-model-experiments.md.

Each variant wraps the snapshot's own translation (the shared inference path, with the input smoothing
the snapshot records) with one change to its output, or to the photo before it, and every row is scored
in one ``artifygan evaluate`` run (100 held-out photos against 100 held-out anime faces, 256²), so the
rows compare: KID/FID, faces kept (YuNet and Haar), landmark NME, cheek strokes, eye/mouth detail.

    python benchmarks/inference_variants.py --photos data/s2a_256/val/photos \\
        --reference data/s2a_256/val/cartoons -o runs/inference_variants [-m SNAPSHOT] [--only flip sat1.5]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from artifygan.cartoon_losses import guided_filter, luma
from artifygan.imageio import pil_to_tensor, tensor_to_pil
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.metrics.evaluate import Candidate, evaluate
from artifygan.skin_smoothing import skin_mask

Images = list[Image.Image]


def saturation(factor: float) -> Callable[[Image.Image, Image.Image], Image.Image]:
    """The output's saturation times ``factor`` (PIL's colour enhancer)."""
    return lambda photo, out: ImageEnhance.Color(out).enhance(factor)


def photo_guided(r: int, eps: float, guide: str = "photo") -> Callable[[Image.Image, Image.Image], Image.Image]:
    """White-box's inference step: the output guided-filtered with the photo (or its luma) as the guide."""
    def change(photo: Image.Image, out: Image.Image) -> Image.Image:
        g = pil_to_tensor(photo)[None]
        return tensor_to_pil(guided_filter(luma(g) if guide == "luma" else g, pil_to_tensor(out)[None], r, eps)[0])
    return change


def flatten_lighting(alpha: float, sigma: float) -> Callable[[Image.Image], Image.Image]:
    """The photo's Lab lightness minus ``alpha`` × its Gaussian blur (σ pixels), about the blur's mean."""
    def change(photo: Image.Image) -> Image.Image:
        lab = cv2.cvtColor(np.asarray(photo.convert("RGB")), cv2.COLOR_RGB2LAB).astype(np.float32)
        low = cv2.GaussianBlur(lab[..., 0], (0, 0), sigma)
        lab[..., 0] = np.clip(lab[..., 0] - alpha * (low - low.mean()), 0, 255)
        return Image.fromarray(cv2.cvtColor(lab.round().astype(np.uint8), cv2.COLOR_LAB2RGB))
    return change


def skin_smoothing(kind: str) -> Callable[[Image.Image], Image.Image]:
    """A stronger edge-preserving filter of the photo on its skin only (``skin_mask``), before the model's own:
    ``bil2``: bilateral d 9, σ 50, 7 twice; ``bil60``: bilateral d 9, σ 60, 7; ``ms``: mean-shift (6, 16)."""
    def change(photo: Image.Image) -> Image.Image:
        rgb = np.ascontiguousarray(np.asarray(photo.convert("RGB")))
        if kind == "bil2":
            strong = cv2.bilateralFilter(cv2.bilateralFilter(rgb, 9, 50, 7), 9, 50, 7)
        elif kind == "bil60":
            strong = cv2.bilateralFilter(rgb, 9, 60, 7)
        else:
            strong = cv2.pyrMeanShiftFiltering(rgb, 6, 16)
        m = skin_mask(rgb, gate=False)[..., None]  # as measured (2026-11-28): before the chroma gate
        out = m * strong.astype(np.float32) + (1 - m) * rgb.astype(np.float32)
        return Image.fromarray(out.round().clip(0, 255).astype(np.uint8))
    return change


def levels(lo_p: float = 1.0, hi_p: float = 99.0, max_gain: float = 2.0,
           mean_to: float | None = None) -> Callable[[Image.Image], Image.Image]:
    """Auto levels: grey percentiles ``lo_p``–``hi_p`` stretched to 0–255 (gain at most ``max_gain``), then,
    if ``mean_to``, a gamma that lifts a darker picture's mean to that fraction of white."""
    def change(photo: Image.Image) -> Image.Image:
        rgb = np.asarray(photo.convert("RGB"))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        lo, hi = np.percentile(grey, lo_p), np.percentile(grey, hi_p)
        gain = min(max_gain, 255.0 / max(hi - lo, 1.0))
        out = np.clip((rgb.astype(np.float32) - min(lo, 255 - 255 / gain)) * gain, 0, 255) / 255
        if mean_to is not None and 1e-3 < out.mean() < mean_to:
            out = out ** (np.log(mean_to) / np.log(out.mean()))
        return Image.fromarray((255 * out).round().clip(0, 255).astype(np.uint8))
    return change


def stroke_fill(k: int, lo: float = 8.0, hi: float = 20.0, skin: bool = True,
                median: bool = False) -> Callable[[Image.Image, Image.Image], Image.Image]:
    """Thin dark strokes of the output filled in: where the output is darker than its grey closing (a
    ``k``×``k`` ellipse; black-hat ``lo``–``hi`` levels ramps the weight 0–1), the closing (or, with
    ``median``, the k×k median) replaces it; with ``skin``, only on the photo's skin (``skin_mask``)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))

    def change(photo: Image.Image, out: Image.Image) -> Image.Image:
        rgb = np.ascontiguousarray(np.asarray(out.convert("RGB")))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        bh = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel).astype(np.float32)
        w = np.clip((bh - lo) / (hi - lo), 0, 1)
        if skin:
            ph = np.asarray(photo.convert("RGB").resize(out.size, Image.BICUBIC))
            w *= skin_mask(ph)
        fill = cv2.medianBlur(rgb, k) if median else cv2.morphologyEx(rgb, cv2.MORPH_CLOSE, kernel)
        w = cv2.GaussianBlur(w, (0, 0), 0.7)[..., None]
        res = w * fill.astype(np.float32) + (1 - w) * rgb.astype(np.float32)
        return Image.fromarray(res.round().clip(0, 255).astype(np.uint8))
    return change


def variants(cz: Cartoonizer) -> dict[str, Callable[[Images], Images]]:
    """name → translate function; the model's outputs are computed once per photo set and shared."""
    cache: dict[int, Images] = {}

    def base(photos: Images) -> Images:
        if id(photos) not in cache:
            cache.clear()
            cache[id(photos)] = cz.translate(photos)
        return cache[id(photos)]

    def on_output(change) -> Callable[[Images], Images]:
        return lambda photos: [change(p, o) for p, o in zip(photos, base(photos), strict=True)]

    def on_input(change) -> Callable[[Images], Images]:
        return lambda photos: cz.translate([change(p) for p in photos])

    def flip(photos: Images) -> Images:
        mirrored = cz.translate([ImageOps.mirror(p) for p in photos])
        return [Image.fromarray(((np.asarray(o, np.float32) + np.asarray(ImageOps.mirror(m), np.float32)) / 2)
                                .round().astype(np.uint8)) for o, m in zip(base(photos), mirrored, strict=True)]

    return {"model": base,
            "sat1.15": on_output(saturation(1.15)), "sat1.3": on_output(saturation(1.3)),
            "sat1.5": on_output(saturation(1.5)),
            "guided-r1": on_output(photo_guided(1, 5e-3)), "guided-luma-r1": on_output(photo_guided(1, 5e-3, "luma")),
            "guided-r2": on_output(photo_guided(2, 1e-2)),
            "flip": flip,
            "flat0.3s16": on_input(flatten_lighting(0.3, 16)), "flat0.5s16": on_input(flatten_lighting(0.5, 16)),
            "flat0.5s32": on_input(flatten_lighting(0.5, 32)), "flat0.8s24": on_input(flatten_lighting(0.8, 24)),
            "skin-bil2": on_input(skin_smoothing("bil2")), "skin-bil60": on_input(skin_smoothing("bil60")),
            "skin-ms": on_input(skin_smoothing("ms")),
            "levels": on_input(levels()), "levels-g1.5": on_input(levels(0.5, 99.5, 1.5)),
            "levels-mean0.45": on_input(levels(mean_to=0.45)),
            "fill3": on_output(stroke_fill(3)), "fill5": on_output(stroke_fill(5)),
            "fill7": on_output(stroke_fill(7)), "fill5-all": on_output(stroke_fill(5, skin=False)),
            "fill5-median": on_output(stroke_fill(5, median=True))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", help="snapshot folder (default: the bundled model)")
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--reference", type=Path, required=True)
    ap.add_argument("-o", "--out", type=Path, default=Path("runs/inference_variants"))
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--only", nargs="+", help="these variants (and the model itself)")
    ap.add_argument("--yunet", default=os.environ.get("ARTIFYGAN_YUNET"))
    a = ap.parse_args()
    if not a.photos.is_dir() or not a.reference.is_dir():
        print(f"needs {a.photos} and {a.reference} (prepared held-out sets)", file=sys.stderr)
        return 2
    cz = Cartoonizer.from_pretrained(a.model, device="cpu")
    table = variants(cz)
    names = ["model", *[n for n in table if n != "model" and (not a.only or n in a.only)]]
    cands = [Candidate(n, table[n], {"variant": n}) for n in names]
    evaluate(cands, a.photos, a.reference, a.out, n=a.n, yunet=a.yunet, progress=False, device="cpu",
             overwrite=True)  # its own report folder, rewritten each run
    print((a.out / "report.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
