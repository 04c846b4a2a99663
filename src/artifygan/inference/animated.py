"""Animated images FFmpeg cannot decode (animated WebP), read frame by frame through Pillow for `video`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from PIL import Image

from ..imageio import to_rgb


@dataclass
class PilFrame:
    """A decoded animation frame with the few attributes the video loop reads from a PyAV frame."""

    rgb: np.ndarray
    pts: int  # milliseconds
    time_base: Fraction = Fraction(1, 1000)
    rotation: int = 0
    duration: int | None = None  # milliseconds

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    def to_ndarray(self, format: str = "rgb24") -> np.ndarray:
        return self.rgb


# FFmpeg pixel formats that carry transparency (APNG and GIF frames come as rgba / bgra / pal8)
_ALPHA_FORMATS = ("yuva", "gbrap", "ya8", "ya16", "rgba", "bgra", "argb", "abgr", "pal8")


def frame_rgb(frame) -> np.ndarray:
    """A decoded frame (PyAV's or a :class:`PilFrame`) as H×W×3 uint8, a transparent ground on white as
    for stills (``to_ndarray("rgb24")`` dropped the alpha: a transparent APNG came out on black)."""
    name = getattr(getattr(frame, "format", None), "name", "")
    if not name.startswith(_ALPHA_FORMATS):
        return frame.to_ndarray(format="rgb24")
    rgba = frame.to_ndarray(format="rgba")
    return np.asarray(to_rgb(Image.fromarray(np.ascontiguousarray(rgba), "RGBA"))[0])


def _duration_ms(im: Image.Image) -> int:
    return max(1, int(im.info.get("duration") or 40))


def animated_webp(src: str | os.PathLike) -> tuple[Fraction, int] | None:
    """(average fps, frame count) of an animated WebP; None for anything else."""
    try:
        with Image.open(src) as im:
            n_frames: int = getattr(im, "n_frames", 1)
            if im.format != "WEBP" or n_frames < 2:
                return None
            total = 0
            for i in range(n_frames):
                im.seek(i)
                im.load()  # the WebP plugin sets a frame's duration when it decodes it
                total += _duration_ms(im)
            return Fraction(1000 * n_frames, total).limit_denominator(1001), n_frames
    except (OSError, ValueError, SyntaxError):
        return None


def pil_frames(src: str | os.PathLike) -> Iterator[tuple[None, PilFrame]]:
    """(None, frame) pairs, like the video demuxer's (audio packet, frame) with no audio."""
    with Image.open(src) as im:
        t = 0
        n_frames: int = getattr(im, "n_frames", 1)  # a plugin attribute; callers pass animated WebPs
        for i in range(n_frames):
            im.seek(i)
            # decodes the frame, which sets its duration; transparency composited on white as for stills
            # (a plain convert turned a transparent sticker's ground black)
            rgb = np.asarray(to_rgb(im)[0])
            yield None, PilFrame(rgb, t, duration=_duration_ms(im))
            t += _duration_ms(im)
