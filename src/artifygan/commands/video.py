"""`artifygan video`: cartoonize a video or GIF (faces tracked, flicker damped, audio kept)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import FRACTION, POSITIVE, add_model_args, add_wild_args, bounded, build_wild


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="cartoonize a video or GIF (mp4/mov/webm/mkv/avi/gif in; mp4/gif out)",
                       description="Translate every frame, keeping timing, size, rotation and audio. The "
                                   "output appears only when complete (written under a temporary name).")
    p.add_argument("input", type=Path, help="video or GIF")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .mp4 or .gif (never the input)")
    add_model_args(p)
    p.add_argument("--smooth", type=FRACTION, default=0.7, help="face-track smoothing when still, 0 to <1 (0: off)")
    p.add_argument("--detect-every", type=POSITIVE, default=1, help="run the face detector every N frames")
    p.add_argument("--deflicker", type=FRACTION, default=0.5,
                   help="damp output flicker where the input is still, 0 to <1 (0: off)")
    p.add_argument("--crf", type=bounded(int, 0, 51), default=18, help="x264 quality: lower is better and bigger")
    p.add_argument("--no-audio", action="store_true", help="drop the sound track")
    p.add_argument("--max-frames", type=POSITIVE, help="stop after this many frames (preview)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file (never the input)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_wild_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inference.video import VideoOptions, check_video_output, translate_video

    check_video_output(args.input, args.out, args.overwrite)  # before the model loads: a bad -o costs no work
    wild = build_wild(args)
    options = VideoOptions(smooth=args.smooth, detect_every=args.detect_every, deflicker=args.deflicker,
                           batch_size=args.batch_size, crf=args.crf, audio=not args.no_audio,
                           max_frames=args.max_frames)
    r = translate_video(wild, args.input, args.out, options, progress=not args.quiet, overwrite=args.overwrite)
    for msg in r.warnings:
        print(f"warning: {msg}", file=sys.stderr)
    print(f"wrote {r.output.resolve()}: {r.frames} frames, {r.size[0]}×{r.size[1]} at {r.fps:.3g} fps, "
          f"audio {r.audio}; {r.frames_per_s:.1f} frames/s")
    return 0
