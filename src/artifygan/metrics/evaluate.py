"""`artifygan evaluate`: translate held-out photos with one or more models and score them.

Protocol (U-GAT-IT's selfie2anime table): the first ``n`` photos (sorted by name) and the first ``n``
reference cartoons, both centre-cropped to square and resized to ``size`` with PIL bicubic; models
translate the photos through the shared inference path; KID×100 ± std and FID on Inception pool3
features (299² by the recorded resize method); structure preservation with YuNet. Every report also
scores two sanity baselines: "identity" (output = photo) and an untrained light generator.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from ..faces import PhotoFaceDetector
from ..imageio import atomic_write_bytes, list_images, load_image, save_image
from .distances import fid, kid
from .features import InceptionFeatures
from .structure import structure

Translator = Callable[[list[Image.Image]], list[Image.Image]]


@dataclass
class Candidate:
    name: str
    translate: Translator
    info: dict[str, Any]


def load_set(folder: str | Path, n: int, size: int) -> tuple[list[Path], list[Image.Image]]:
    paths = list_images([folder])[:n]
    if len(paths) < n:
        raise ValueError(f"{folder}: {len(paths)} image(s), the protocol needs {n}")
    images = []
    for p in paths:
        im = load_image(p)
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        images.append(im.resize((size, size), Image.BICUBIC) if im.size != (size, size) else im)
    return paths, images


def baselines(device: str = "cpu") -> list[Candidate]:
    """Sanity anchors: a real model must beat 'untrained' on KID and keep faces like 'identity'."""
    from ..inference.cartoonizer import Cartoonizer
    from ..models import GENERATORS

    torch.manual_seed(0)
    untrained = Cartoonizer(GENERATORS.build("light"), device=device, batch_size=8)
    return [Candidate("identity", lambda ims: [im.copy() for im in ims], {"params": 0}),
            Candidate("untrained light", untrained.translate, {"params": _params(untrained)})]


def _params(cz) -> int:
    return sum(p.numel() for p in cz.generator.parameters())


def snapshot_candidate(name: str, path: str, device: str = "auto", backend: str = "auto",
                       process_size: int | None = None) -> Candidate:
    from ..inference.cartoonizer import Cartoonizer

    cz = Cartoonizer.from_pretrained(path, device=device, backend=backend, batch_size=8, resize=process_size)
    return Candidate(name, cz.translate, {"path": cz.meta.get("path"), "params": _params(cz),
                                          "backend": cz.backend, "generator": cz.meta.get("generator"),
                                          "process_size": process_size})


def evaluate(candidates: list[Candidate], photos_dir: str | Path, reference_dir: str | Path, out_dir: str | Path,
             n: int = 100, size: int = 256, resize: str = "pil_bicubic", inception: str | None = None,
             yunet: str | None = None, kid_subsets: int = 100, progress: bool = True) -> dict[str, Any]:
    out_dir = Path(out_dir)
    photo_paths, photos = load_set(photos_dir, n, size)
    _, refs = load_set(reference_dir, n, size)
    feats = InceptionFeatures(inception, resize=resize)
    detector = PhotoFaceDetector(yunet)
    ref_feats = feats(refs, progress, "reference features")
    rows, outputs_by_model = [], {}
    for cand in candidates:
        t0 = time.perf_counter()
        outs = cand.translate(photos)
        secs = time.perf_counter() - t0
        f = feats(outs, progress, f"{cand.name} features")
        k = kid(f, ref_feats, subsets=kid_subsets)
        st = structure(photos, outs, detector)
        rows.append({"model": cand.name, **cand.info, "kid_x100": 100 * k.mean, "kid_x100_std": 100 * k.std,
                     "fid": fid(f, ref_feats), "face_kept": st.face_kept, "landmark_nme": st.nme_mean,
                     "landmark_nme_median": st.nme_median, "faces_evaluated": st.evaluated,
                     "no_face_in_photo": st.no_face_in_photo, "img_per_s": n / secs,
                     "per_image_nme": st.per_image})
        outputs_by_model[cand.name] = outs
    report = {
        "protocol": {"n_photos": n, "n_reference": n, "size": size, "photos": str(photos_dir),
                     "reference": str(reference_dir), "preprocess": "centre square crop + PIL bicubic to size",
                     "inception_resize": resize, "inception": str(feats.net.source),
                     "kid": {"subsets": kid_subsets, "subset_size": k.subset_size, "kernel": "(x.y/d + 1)^3"},
                     "structure": "YuNet 5 landmarks, mean distance / photo inter-ocular distance"},
        "photos": [str(p) for p in photo_paths],
        "results": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / "report.json", json.dumps(report, indent=2).encode())
    atomic_write_bytes(out_dir / "report.md", markdown_table(report).encode())
    main = next((c.name for c in candidates if c.name not in ("identity", "untrained light")), candidates[0].name)
    save_image(grid(photos, outputs_by_model[main], next(r for r in rows if r["model"] == main)["per_image_nme"]),
               out_dir / "grid.png")
    return report


def markdown_table(report: dict[str, Any]) -> str:
    p = report["protocol"]
    lines = [f"{p['n_photos']} photos vs {p['n_reference']} reference cartoons at {p['size']}²; "
             f"Inception resize: {p['inception_resize']}; KID over {p['kid']['subsets']} subsets of "
             f"{p['kid']['subset_size']}.", "",
             "| model | params | KID×100 | FID | face kept | landmark NME | img/s |",
             "|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        params = f"{r['params'] / 1e6:.2f}M" if r.get("params") else "–"
        lines.append(f"| {r['model']} | {params} | {r['kid_x100']:.2f} ± {r['kid_x100_std']:.2f} | {r['fid']:.1f} "
                     f"| {100 * r['face_kept']:.0f}% | {r['landmark_nme']:.3f} | {r['img_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


def grid(photos: list[Image.Image], outputs: list[Image.Image], nme: list[float | None], first: int = 6,
         worst: int = 4, cell: int = 128) -> Image.Image:
    """Columns of (photo over output): the first few, then the worst by landmark error (∞ = face lost)."""
    order = sorted((i for i, v in enumerate(nme) if v is not None), key=lambda i: -nme[i])[:worst]
    picks = list(range(min(first, len(photos)))) + [i for i in order if i >= first]
    img = Image.new("RGB", (cell * len(picks), 2 * cell + 14), "white")
    draw = ImageDraw.Draw(img)
    for col, i in enumerate(picks):
        img.paste(photos[i].resize((cell, cell)), (col * cell, 0))
        img.paste(outputs[i].convert("RGB").resize((cell, cell)), (col * cell, cell))
        v = nme[i]
        label = "no face in photo" if v is None else ("face lost" if math.isinf(v) else f"NME {v:.3f}")
        draw.text((col * cell + 3, 2 * cell + 1), ("worst: " if col >= first else "") + label, fill="black")
    return img


__all__ = ["Candidate", "baselines", "evaluate", "markdown_table", "snapshot_candidate"]
