"""Flags shared by the commands that translate (translate, video, serve): model, device, wild-photo mode."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def bounded(kind: type, low: float, high: float | None = None, high_open: bool = False) -> Callable[[str], float]:
    """An argparse type that refuses out-of-range numbers with one line, before any model loads."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        too_high = high is not None and (value >= high if high_open else value > high)
        if value < low or too_high or value != value:  # value != value: NaN
            upper = "" if high is None else f" and {'below' if high_open else 'at most'} {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be at least {low:g}{upper}")
        return value
    return parse


POSITIVE, NON_NEGATIVE = bounded(int, 1), bounded(int, 0)
FRACTION = bounded(float, 0, 1, high_open=True)  # smoothing strengths: 0 (off) up to, not including, 1


ON_OFF = {"auto": None, "on": True, "off": False}
TTA_MODES = ("off", "x2", "x4")  # inference.tta.TTA's names, here without importing torch


def clean_face_choice(value: str) -> bool | float | None:
    """``--clean-face``: auto | on | off, or the share of line erasing in [0, 1] (``FaceSkin.lines``)."""
    if value in ON_OFF:
        return ON_OFF[value]
    try:
        lines = float(value)
    except ValueError:
        lines = math.nan
    if not 0.0 <= lines <= 1.0:
        raise argparse.ArgumentTypeError(f"auto, on, off or a number in [0, 1], got {value!r}")
    return lines


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", help="snapshot folder, or a run folder (newest snapshot); default: bundled")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="onnx = onnxruntime on CPU, with the snapshot's model.onnx or one exported on demand (auto: "
                        "torch, the faster of the two through this path)")
    p.add_argument("--batch-size", type=POSITIVE,
                   help="images (video: frames) per forward pass (default: 1 on the CPU, where it is fastest; "
                        "4 on a GPU)")
    p.add_argument("--max-side", type=NON_NEGATIVE, default=1536,
                   help="larger inputs are processed at this size (0: full resolution, tiled)")
    p.add_argument("--tile", type=bounded(int, 32), default=1024,
                   help="images of more than TILE² pixels run as overlapping tiles")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator (GPU users)")
    p.add_argument("--clean-strokes", choices=list(ON_OFF), default="auto",
                   help="erase thin dark strokes the model draws on flat skin (auto: as the snapshot records)")
    p.add_argument("--clean-face", type=clean_face_choice, default="auto", metavar="{auto,on,off,0..1}",
                   help="smooth the lines out of each face's skin, placed by the face's landmarks (auto: as the "
                        "snapshot records; the default model records it; a number: that share of line erasing)")
    p.add_argument("--smooth-input", choices=list(ON_OFF), default="auto",
                   help="bilateral-filter the photo before the model, against strokes drawn from skin texture "
                        "(auto: as the snapshot records)")
    p.add_argument("--colour-grey-photos", action="store_true",
                   help="give black-and-white photos the model's colours (default: their cartoons stay black and "
                        "white)")
    p.add_argument("--tta", choices=TTA_MODES, default="off",
                   help="test-time ensemble: the mean of the model on the photo and on its mirror image shifted by 2 "
                        "pixels (x2: twice the time), or on all four mirrored/shifted copies (x4); fewer stray lines "
                        "(MODEL_CARD)")


def add_wild_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("faces in the wild")
    g.add_argument("--mode", choices=["face", "whole"], default="face",
                   help="face: detect, align, translate and paste back every face (default); whole: the "
                        "whole image, tiled when large")
    g.add_argument("--background", choices=["cartoon", "keep", "blur"], default="cartoon",
                   help="face mode: what surrounds the faces (default: cartoon, the same model on the photo); "
                        "keep also keeps the photo's background where a style records a plain one (any mode)")
    g.add_argument("--no-face", choices=["whole", "skip"], default="whole",
                   help="face mode, no face found: translate the whole image (default) or skip it")
    g.add_argument("--max-faces", type=POSITIVE, default=16, help="translate at most this many faces, largest first")
    g.add_argument("--min-face", type=NON_NEGATIVE, default=24,
                   help="leave faces narrower than this many pixels alone (large photos are searched finely "
                        "enough to find faces this narrow)")
    g.add_argument("--face-size", type=bounded(int, 32, 4096), default=256,
                   help="resolution each aligned face is translated at")
    g.add_argument("--yunet", help="YuNet face detector .onnx (default: $ARTIFYGAN_YUNET, cache, download)")


def check_yunet_file(path: str | None) -> None:
    """A ``--yunet`` file the user named must be there and be a detector, in any mode: one line up front
    (only an unnamed, missing detector turns the steps placed by faces off, with a warning)."""
    if path:
        from ..faces import YUNET_ENV, PhotoFaceDetector
        from ..hub import given_file

        given_file("YuNet face detector", path, YUNET_ENV)
        PhotoFaceDetector(path, download=False)  # a file that is not YuNet: now, not at each face-mode request


def build_wild(args: argparse.Namespace, resize: int | None = None):
    """The Cartoonizer + WildCartoonizer the flags describe; loads the face detector now in face mode."""
    from ..inference.cartoonizer import Cartoonizer
    from ..inference.wild import WildCartoonizer, WildOptions

    options = WildOptions(mode=args.mode, background=args.background, no_face=args.no_face,
                          max_faces=args.max_faces, min_face=args.min_face, face_size=args.face_size)
    cz = Cartoonizer.from_pretrained(args.model, device=args.device, backend=args.backend,
                                     batch_size=args.batch_size, max_side=args.max_side, resize=resize,
                                     compile=args.compile, tile=args.tile,
                                     clean_strokes=ON_OFF[args.clean_strokes], smooth_input=ON_OFF[args.smooth_input],
                                     clean_face=args.clean_face,
                                     keep_grey=not args.colour_grey_photos, tta=args.tta)
    wild = WildCartoonizer(cz, options, yunet=args.yunet)
    if options.mode == "face":
        wild.require_detector("use --mode whole")
    else:  # whole mode: the face steps use it
        check_yunet_file(args.yunet)
    return wild


def named_models(specs: list[str]) -> dict[str, str]:
    """``-m NAME=PATH`` or ``-m PATH`` (named after its folder) → {name: path}, for serve and evaluate.

    Both parts must be there ("=runs/x" could never be picked, "anime=" meant "."), and a name given twice is
    refused: the second would hide the first in the picker or the report."""
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if sep and not (name.strip() and path.strip()):
            raise ValueError(f"-m {spec!r}: give NAME=PATH with both parts, or just PATH")
        if not sep:
            name, path = Path(spec).name or "model", spec
        if name in models:
            raise ValueError(f"two models named {name!r} ({models[name]} and {path}); name them: -m NAME=PATH")
        models[name] = path
    return models
