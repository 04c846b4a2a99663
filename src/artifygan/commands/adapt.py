"""`artifygan adapt`: a new style from 1–10 reference pictures, written as an ordinary snapshot folder."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from .common import ON_OFF


def _positive(v: str) -> float:
    x = float(v)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {v}")
    return x


def _steps(v: str) -> int:
    x = int(v)
    if x < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return x


def _strength(v: str) -> float:
    x = float(v)
    if not 0 <= x <= 2:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2, got {v}")
    return x


def _photo_colour(v: str) -> float:
    x = float(v)
    if not 0 <= x <= 3:
        raise argparse.ArgumentTypeError(f"must be between 0 (off) and 3, got {v}")
    return x


def _checked(module: str, check: str) -> Callable[[str], str]:
    """An argparse type from a check of ``artifygan.<module>`` that raises ValueError (imported on use)."""

    def parse(v: str) -> str:
        try:
            return getattr(importlib.import_module(f"..{module}", __package__), check)(v)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapt", help="learn a new style from 1–10 reference pictures (few-shot)",
                       description="Fine-tune a trained model towards the style of 1–10 reference pictures "
                                   "(files or folders, any size; anime faces are found and framed). The "
                                   "result is a snapshot folder for translate/video/serve/evaluate -m.")
    p.add_argument("refs", nargs="+", metavar="REF", help="reference pictures and/or folders of them")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="new snapshot folder (must not exist, or be empty)")
    p.add_argument("--photos", type=Path,
                   help="face photos to learn on (your own are best); default: the bundled examples")
    p.add_argument("--minutes", type=_positive,
                   help="time limit of the whole call, in minutes (default: 2.75, so under 3)")
    p.add_argument("--steps", type=_steps,
                   help="training step limit (default: 600 of batch 4; on a GPU a quarter as many of batch 16)")
    p.add_argument("--base", help="snapshot to start from (default: the bundled model)")
    p.add_argument("--style-loss", choices=("auto", "gram", "match"), default="auto",
                   help="auto (default): match for references that are mostly flat colour, else gram; gram: the "
                        "references' line texture and tones everywhere, for ink, pencil and print looks; match: "
                        "each region like the reference regions it resembles, for flat colour areas and "
                        "outlines (avatar and vector looks)")
    p.add_argument("--strength", type=_strength, default=1.0,
                   help="how far the style moves from the base model (default 1; 0.5: halfway, a milder style "
                        "that keeps more of the face; up to 2)")
    p.add_argument("--photo-colour", type=_photo_colour, default=1.25, metavar="GAIN",
                   help="the style's outputs keep the photo's colours outside the skin, saturation × GAIN "
                        "(default 1.25; 0: the style's own colours, which collapse onto the references' main "
                        "tones)")
    p.add_argument("--background", type=_checked("background", "check_background_choice"), default="auto",
                   metavar="auto|keep|#RRGGBB",
                   help="the style's backdrop: auto (default) paints the photo's background in the references' "
                        "plain backdrop when most of them have one (avatar looks), else keeps it; keep: always "
                        "the photo's; or a colour such as #ffffff (needs the face detector to find the person)")
    p.add_argument("--eyes", type=_checked("eyes", "check_eyes_choice"), default="auto", metavar="auto|off|SCALE",
                   help="the style's eyes: auto (default) magnifies the photo's eyes when most references draw big "
                        "eye whites (avatar and cartoon looks), else keeps them; off: never; or a scale in (1, 2] "
                        "such as 1.4 (needs the face detector)")
    p.add_argument("--grey", choices=list(ON_OFF), default="auto",
                   help="black-and-white outputs: auto (default) when most references are black and white "
                        "(pencil, ink, manga; the photo's colours are then not kept); on: always; off: never")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--anime-cascade",
                   help="anime face cascade .xml (default: $ARTIFYGAN_ANIME_CASCADE, the cache, else downloaded; "
                        "without one the references are used whole)")
    p.add_argument("--preview", type=Path, metavar="FILE",
                   help="keep a picture of the style so far here (a PNG or JPEG that must not exist yet): "
                        "at once from the references' colours, then every 15 s while it learns")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from tqdm import tqdm

    from ..imageio import WRITE_FORMATS, file_in_the_way, save_image
    from ..styles import AdaptConfig, StyleError, adapt, check_output, with_style_loss

    check_output(args.out)  # before anything slow loads
    if args.preview is not None:
        if args.preview.exists():
            raise StyleError(f"{args.preview}: already exists; the preview never overwrites a file, choose a new name")
        if args.preview.resolve().is_relative_to(args.out.resolve()):  # it would fill the style's folder
            raise StyleError(f"{args.preview}: the preview may not be inside the style's folder {args.out}; "
                             "choose a name outside it")
        if blocked := file_in_the_way(args.preview, args.preview.parent):
            raise StyleError(blocked)
        if args.preview.suffix.lower() not in WRITE_FORMATS:
            raise StyleError(f"{args.preview}: unsupported preview format {args.preview.suffix!r} (use .png or .jpg)")
    cfg = with_style_loss(AdaptConfig(preview_every_s=15.0 if args.preview is not None else 0.0), args.style_loss)
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    cfg = dataclasses.replace(cfg, strength=args.strength, photo_colour=args.photo_colour,
                              background=args.background, eyes=args.eyes, grey=args.grey)
    bar = tqdm(total=1000, disable=args.quiet, dynamic_ncols=True, bar_format="{l_bar}{bar}| {elapsed} {postfix}")

    def progress(p) -> None:
        bar.n = round(1000 * p.fraction)
        style = p.losses.get("style", p.losses.get("nn", 0.0))
        bar.set_postfix_str(f"step {p.step}, style {style:.3f}", refresh=False)
        bar.refresh()
        if p.preview is not None and args.preview is not None:
            save_image(p.preview, args.preview)  # atomically: a viewer never reads half a picture

    try:
        cz = adapt(args.refs, photos=args.photos, minutes=args.minutes, base=args.base, out=args.out,
                   progress=progress, config=cfg, device=args.device, cascade=args.anime_cascade)
    finally:
        bar.close()
    info = cz.meta["style"]
    loss = info["config"]["style_loss"] + (" (auto)" if "style_loss_choice" in info else "")
    print(f"wrote style {Path(args.out).resolve()} ({len(info['references'])} reference(s), style loss {loss}, "
          f"{info['steps']} steps, {info['seconds']:.0f} s); use it with: artifygan translate IMAGES -o OUT "
          f"-m {args.out}", file=sys.stdout)
    return 0
