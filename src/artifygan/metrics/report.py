"""Writing an evaluation report: strict JSON, the markdown table, sanity warnings and the picture grid."""

from __future__ import annotations

import json
import math
from typing import Any

from PIL import Image, ImageDraw

# Below this many images per set FID/KID say nothing: KID subsets of n/2 < 25 images, and FID estimates a
# 2048×2048 covariance from n points (biased upward, and by a different amount at each n).
MIN_N = 50
PROTOCOL_N = 100
# Photos vs cartoons sit far apart (selfie2anime held-out: KID×100 ≈ 24.6). Two sets of the same domain
# sit near 0; a "translation" problem whose inputs are already this close is a mix-up of folders.
SAME_DOMAIN_KID_X100 = 2.0


def json_safe(obj: Any) -> Any:
    """Non-finite floats (a lost face's ∞ NME, an empty mean's NaN) become None: JSON has no Infinity/NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def to_json(report: dict[str, Any]) -> bytes:
    """Valid JSON (allow_nan=False would raise if a non-finite float slipped through)."""
    return json.dumps(json_safe(report), indent=2, allow_nan=False).encode()


def sanity_warnings(n: int, photos_vs_reference_kid_x100: float, photo_face_share: float | None,
                    reference_face_share: float | None) -> list[str]:
    """Plain-language warnings for numbers that would mislead: too few images, or photos that look like
    the references (same folder twice, or --photos/--reference swapped)."""
    out = []
    if n < MIN_N:
        out.append(f"n = {n} is too small for FID/KID to mean anything (KID subsets of {n // 2} images, FID's "
                   f"2048-d covariance from {n} points); use n ≥ {MIN_N}, {PROTOCOL_N} for the published protocol.")
    elif n < PROTOCOL_N:
        out.append(f"n = {n}: FID/KID are not comparable with the {PROTOCOL_N}-image protocol (FID is biased "
                   "by n).")
    if math.isfinite(photos_vs_reference_kid_x100) and photos_vs_reference_kid_x100 < SAME_DOMAIN_KID_X100:
        out.append(f"the photos look like the references (KID×100 {photos_vs_reference_kid_x100:.2f} between them, "
                   f"below {SAME_DOMAIN_KID_X100}): 'identity' already scores like a perfect model; check --photos "
                   "and --reference.")
    if photo_face_share is not None and reference_face_share is not None \
            and photo_face_share < 0.5 and reference_face_share > photo_face_share:
        out.append(f"YuNet finds a face in only {100 * photo_face_share:.0f}% of the photos but in "
                   f"{100 * reference_face_share:.0f}% of the references: are --photos and --reference swapped?")
    return out


def _num(v: float | None, fmt: str, scale: float = 1.0, suffix: str = "") -> str:
    return "–" if v is None or not math.isfinite(v) else f"{scale * v:{fmt}}{suffix}"


def markdown_table(report: dict[str, Any]) -> str:
    p = report["protocol"]
    lines = [f"{p['n_photos']} photos vs {p['n_reference']} reference cartoons at {p['size']}²; "
             f"Inception resize: {p['inception_resize']}; KID over {p['kid']['subsets']} subsets of "
             f"{p['kid']['subset_size']}. Cheek strokes: share of thin dark-stroke pixels under the eyes (lower "
             "= cleaner skin); eye/mouth detail: gradient correlation with the photo (higher = more kept); face "
             "kept (Haar): a second detector, independent of YuNet (and of loss.face, which trains on YuNet's "
             "features); skin ΔL*: how much paler the cheeks come out (CIELAB L*, 0–100), over all faces / the "
             "quarter with the darkest skin.", "",
             "| model | params | KID×100 | FID | face kept | landmark NME | face kept (Haar) | cheek strokes "
             "| detail eyes / mouth | skin ΔL* all / darkest ¼ | img/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        params = f"{r['params'] / 1e6:.2f}M" if r.get("params") else "–"
        name = str(r["model"]).replace("|", "\\|")  # a "|" in a model's name split its row into more cells
        lines.append(f"| {name} | {params} | {_num(r['kid_x100'], '.2f')} ± {_num(r['kid_x100_std'], '.2f')} "
                     f"| {_num(r['fid'], '.1f')} | {_num(r['face_kept'], '.0f', 100, '%')} "
                     f"| {_num(r['landmark_nme'], '.3f')} | {_num(r.get('face_kept_haar'), '.0f', 100, '%')} "
                     f"| {_num(r['cheek_strokes'], '.1f', 100, '%')} "
                     f"| {_num(r['detail_eyes'], '.2f')} / {_num(r['detail_mouth'], '.2f')} "
                     f"| {_num(r.get('skin_lightening'), '+.1f')} / {_num(r.get('skin_lightening_dark'), '+.1f')} "
                     f"| {_num(r['img_per_s'], '.1f')} |")
    smoothed = [f"{r['model']}: " + ", then ".join(f"{step} " + ", ".join(f"{k} {v}" for k, v in sm[step].items())
                                               for step in ("bilateral", "skin") if step in sm)
                for r in report["results"] if (sm := r.get("input_smoothing"))]
    if smoothed:
        lines += ["", "Input smoothing (applied to the photo before the model): " + "; ".join(smoothed) + "."]
    cleaned = [f"{r['model']}: lines {fs['lines']}" + (f", skin tone kept {t['keep']} (margin {t['margin']} L*)"
                                                        if (t := fs.get("tone")) else "")
               for r in report["results"] if (fs := r.get("face_skin"))]
    if cleaned:
        lines += ["", "Clean face skin (after the model, placed by the photo's landmarks; the cheek-stroke boxes "
                      "lie in the part it smooths): " + "; ".join(cleaned) + "."]
    ref = report.get("reference_faces")
    if ref:
        lines += ["", f"Reference cartoons: YuNet finds a face in {ref['found']}/{ref['n']}; their own cheek "
                      f"stroke share there: {_num(ref['cheek_strokes'], '.1f', 100, '%')}."]
    if report.get("warnings"):
        lines += [""] + [f"**Warning:** {w}" for w in report["warnings"]]
    return "\n".join(lines) + "\n"


def _worst(values: list[float | None], k: int, highest: bool) -> list[int]:
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    return [i for i, _ in sorted(present, key=lambda p: -p[1] if highest else p[1])][:k]


def grid_picks(per_image: list[dict[str, Any]], first: int = 6, worst: int = 2) -> list[tuple[int, str]]:
    """(image index, label) columns: the first few, then the worst few by landmark error (face lost first),
    by cheek strokes, by eye/mouth detail and by skin paled; each image appears once."""
    def plain(p: dict[str, Any]) -> str:
        return {"lost": "face lost", "none": "no face in photo"}.get(p["face"]) or f"NME {p['nme']:.3f}"

    picks = [(i, plain(per_image[i])) for i in range(min(first, len(per_image)))]
    nme = [float("inf") if p["face"] == "lost" else p["nme"] for p in per_image]
    detail = [None if p["detail_eyes"] is None or p["detail_mouth"] is None
              else (p["detail_eyes"] + p["detail_mouth"]) / 2 for p in per_image]
    rules = [(nme, True, lambda v: "worst: face lost" if math.isinf(v) else f"worst NME {v:.3f}"),
             ([p["cheek_strokes"] for p in per_image], True, lambda v: f"most strokes {100 * v:.1f}%"),
             (detail, False, lambda v: f"least detail {v:.2f}"),
             ([p.get("skin_lightening") for p in per_image], True, lambda v: f"skin paled {v:+.0f} L*")]
    for values, highest, label in rules:
        taken = {i for i, _ in picks}
        picks += [(i, label(values[i])) for i in _worst(values, worst + len(taken), highest) if i not in taken][:worst]
    return picks


def grid(photos: list[Image.Image], outputs: list[Image.Image], picks: list[tuple[int, str]],
         cell: int = 128) -> Image.Image:
    """Columns of (photo over output) with a label under each picked column."""
    img = Image.new("RGB", (cell * max(len(picks), 1), 2 * cell + 14), "white")
    draw = ImageDraw.Draw(img)
    for col, (i, label) in enumerate(picks):
        img.paste(photos[i].convert("RGB").resize((cell, cell)), (col * cell, 0))
        img.paste(outputs[i].convert("RGB").resize((cell, cell)), (col * cell, cell))
        draw.text((col * cell + 3, 2 * cell + 1), label, fill="black")
    return img
