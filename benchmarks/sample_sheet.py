"""Licence-clean sample sheet for the model card: photo | each model, translated as `artifygan translate` does
(face mode: detect, align, translate, paste back), every row a photo anyone may show.

    python benchmarks/sample_sheet.py docs/samples_pd.jpg --yunet ../shared/models/face_detection_yunet*.onnx \\
        --photo "Grace Hopper, US Navy (PD)=grace_hopper.jpg" --photo "'camera', L. Varshney (CC0)=camera.png" \\
        --model "bitmoji (match)=runs/fs_nn25c1/bitmoji-5"

A model may carry Cartoonizer options after ``@`` (``border``, ``clean_strokes``, ``smooth_input``,
``clean_face``: on/off or a number): the default as it was before 2026-12-07 is
``"before=@border=0,clean_strokes=off,clean_face=off"`` (an empty path is the bundled default).
``--zoom LEFT,TOP,RIGHT,BOTTOM`` adds a row of that part of the last photo, enlarged (in its own pixels).
The bundled NASA astronaut is always the first row. Other public-domain portraits that ship inside
packages: `matplotlib/mpl-data/sample_data/grace_hopper.jpg` (the matplotlib wheel) and
`skimage/data/camera.png` (the scikit-image wheel; CC0). The default model is always the first column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from artifygan.imageio import load_image, save_image
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.inference.wild import WildCartoonizer, WildOptions

ASTRONAUT = Path(__file__).resolve().parent.parent / "src" / "artifygan" / "examples" / "astronaut.jpg"


def labelled(values: list[str]) -> list[tuple[str, str]]:
    return [tuple(v.split("=", 1)) if "=" in v else (Path(v).stem, v) for v in values]  # type: ignore[misc]


def _number(v: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v


def model_spec(spec: str | None) -> tuple[str | None, dict]:
    """``PATH@key=value,...`` → (path or None for the bundled default, Cartoonizer options)."""
    path, _, opts = (spec or "").partition("@")
    kw: dict = {}
    for item in filter(None, opts.split(",")):
        k, _, v = item.partition("=")
        kw[k] = {"on": True, "off": False}.get(v, _number(v))
    return path or None, kw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--photo", action="append", default=[], metavar="LABEL=PATH")
    ap.add_argument("--model", action="append", default=[], metavar="LABEL=SNAPSHOT")
    ap.add_argument("--yunet", help="YuNet .onnx (default: $ARTIFYGAN_YUNET, the cache)")
    ap.add_argument("--cell", type=int, default=256)
    ap.add_argument("--zoom", help="LEFT,TOP,RIGHT,BOTTOM of the last photo: one more row, enlarged")
    a = ap.parse_args()
    photos = [("NASA astronaut (PD)", str(ASTRONAUT)), *labelled(a.photo)]
    models: list[tuple[str, str | None]] = [("default", None), *labelled(a.model)]
    cell = a.cell
    rows = len(photos) + bool(a.zoom)
    sheet = Image.new("RGB", (cell * (1 + len(models)), 18 + cell * rows), "white")
    draw = ImageDraw.Draw(sheet)
    for j, title in enumerate(["photo"] + [name for name, _ in models]):
        draw.text((j * cell + 4, 3), title, fill="black")
    translators = [WildCartoonizer(Cartoonizer.from_pretrained(p, device="cpu", **kw), WildOptions(), yunet=a.yunet)
                   for p, kw in (model_spec(spec) for _, spec in models)]
    for i, (label, path) in enumerate(photos):
        img = load_image(path).convert("RGB")
        s = cell / max(img.size)
        small = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.BICUBIC)
        sheet.paste(small, (0, 18 + i * cell))
        outs = [img]
        for j, wc in enumerate(translators):
            out = wc(img).image
            assert out is not None  # face mode translates the whole photo when it finds no face
            outs.append(out.convert("RGB"))
            sheet.paste(outs[-1].resize(small.size, Image.Resampling.BICUBIC), ((j + 1) * cell, 18 + i * cell))
        draw.text((4, 18 + (i + 1) * cell - 14), label, fill="yellow")
    if a.zoom:
        box = tuple(int(v) for v in a.zoom.split(","))
        for j, out in enumerate(outs):
            zoomed = out.crop(box).resize((cell, cell), Image.Resampling.LANCZOS)
            sheet.paste(zoomed, (j * cell, 18 + len(photos) * cell))
        draw.text((4, 18 + rows * cell - 14), f"{label}: enlarged", fill="yellow")
    save_image(sheet, a.out)


if __name__ == "__main__":
    main()
