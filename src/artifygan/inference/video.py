"""Videos and GIFs: decode with PyAV, translate frame batches, re-encode with the input's timing.

Kept from the input: frame count, timestamps (so fps and variable frame rates), size, the rotation
the player applies (faces are detected on upright frames, the output is stored like the input with
the same display rotation), and audio (copied when MP4 can hold its codec, else re-encoded to AAC).
The output is written under a temporary name and renamed at the end: an interrupted run (Ctrl-C or
SIGTERM) leaves no broken file and never touches an existing output. The output may never be the input.
A damaged packet costs its own frames (the rest are translated); a truncated input ends at the last frame
that decodes. Either gives a warning that says how many frames the file declared. Timing rules: the
writers in :mod:`.video_writers`.
"""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..faces import Face
from ..imageio import as_grey, file_in_the_way, is_grey, one_line, show, temp_name
from .animated import animated_webp, frame_rgb, pil_frames
from .temporal import Deflicker, FaceTracker
from .video_writers import GifWriter, Mp4Writer, packets
from .wild import WildCartoonizer

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif"}
OUT_SUFFIXES = {".mp4", ".gif"}


class VideoError(ValueError):
    """A video that cannot be read or written; the message names the file."""


@dataclass
class VideoOptions:
    """Video-specific settings; how each frame is translated comes from the WildCartoonizer's options."""

    smooth: float = 0.7  # face-track smoothing when still, [0, 1)
    detect_every: int = 1  # run the face detector every N frames (tracks carry in between)
    deflicker: float = 0.5  # output flicker damping where the input is still, [0, 1); 0 = off
    batch_size: int | None = None  # whole mode: frames per forward pass (None: the Cartoonizer's)
    crf: int = 18  # x264 quality (lower = better, bigger)
    audio: bool = True
    max_frames: int | None = None  # stop early (previews)


@dataclass
class VideoReport:
    output: Path
    frames: int
    fps: float
    size: tuple[int, int]  # as written
    rotation: int
    audio: str  # copied | re-encoded | none
    seconds: float
    declared: int | None = None  # frames the input's header announces (None: not said)
    warnings: list[str] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


class FrameTranslator:
    """The per-frame core of video translation: upright RGB frames in order → translated frames.

    Face mode detects every ``detect_every`` frames and feeds a :class:`FaceTracker`; whole mode batches
    frames through the Cartoonizer (a style's backdrop and eyes follow tracked faces). Both end in the
    :class:`Deflicker` filter. (Benchmarks use it directly.)
    """

    def __init__(self, wild: WildCartoonizer, options: VideoOptions | None = None) -> None:
        # black and white is decided once per clip, from its first frame: decided per frame, a dim or foggy
        # colour scene would flicker between colour and grey. The frames go through a copy that never greys.
        self.keep_grey = wild.cz.keep_grey
        self.grey: bool | None = None
        if self.keep_grey:
            wild = copy.copy(wild)
            wild.cz = copy.copy(wild.cz)
            wild.cz.keep_grey = False
        self.wild, self.opt = wild, options or VideoOptions()
        self.tracker = FaceTracker(self.opt.smooth)
        self.deflicker = Deflicker(self.opt.deflicker)
        self.whole = wild.options.mode == "whole"
        self.seen = 0

    def faces(self, frame: np.ndarray, detect: Callable[[np.ndarray], list[Face]]) -> list[Face]:
        """This frame's tracked faces: detected every ``detect_every`` frames (in both modes), else the
        tracks carried on, largest first as detections come (the tracks' own order flickered)."""
        fresh = self.seen % max(1, self.opt.detect_every) == 0
        self.seen += 1
        return self.tracker.update(detect(frame)) if fresh else self.tracker.faces()

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        if self.whole:
            cz, pics, tta = self.wild.cz, [Image.fromarray(f) for f in frames], self.wild.options.tta
            if not cz.has_face_steps:
                translated = cz.translate(pics, tta)
            else:  # a style's steps placed by faces, around tracked ones: a face missed in one frame keeps
                translated = cz.translate(pics, tta, face_steps=False)  # its cut and its eyes
                paint = self.wild.options.background != "keep"
                translated = [cz.finish(o, p, self.faces(f, cz.face_finder.detect), paint, self.wild.options.clean_face)
                              for o, p, f in zip(translated, pics, frames, strict=True)]
            outs = [np.asarray(o.convert("RGB")) for o in translated]
        else:
            outs = []
            for f in frames:
                image = self.wild(Image.fromarray(f), faces=self.faces(f, self.wild.detect)).image
                # None: no face and --no-face skip; a video keeps every frame, so the frame stays as it was
                outs.append(np.asarray(image.convert("RGB")) if image is not None else f)
        if self.grey is None and frames:
            self.grey = self.keep_grey and is_grey(Image.fromarray(frames[0]))
        if self.grey:
            outs = [np.asarray(as_grey(Image.fromarray(o))) for o in outs]
        return [self.deflicker(f, o) for f, o in zip(frames, outs, strict=True)]


def _open_input(src: Path):
    import av

    if src.is_dir():
        raise VideoError(f"{show(src)}: is a folder, not a video")
    if not src.is_file():
        raise FileNotFoundError(f"{show(src)}: no such video")
    try:
        inp = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{show(src)}: not a readable video ({one_line(exc)})") from None
    if not inp.streams.video:
        inp.close()
        raise VideoError(f"{show(src)}: no video stream")
    return inp


def check_video_output(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse, before any work, an output that is the input, a folder, under a file or unwritable, or an
    existing file unless ``overwrite`` (the input never, even then)."""
    src, dst = Path(src), Path(dst)
    if dst.suffix.lower() not in OUT_SUFFIXES:
        raise VideoError(f"{show(dst)}: output must be .mp4 or .gif")
    if dst.exists() and src.exists() and dst.samefile(src):
        raise VideoError(f"{show(dst)}: the output is the input video; choose another output name")
    if dst.is_dir():
        raise VideoError(f"{show(dst)}: is a folder; give the output file's name, e.g. {show(dst / 'out.mp4')}")
    if os.path.lexists(dst) and not overwrite:
        raise VideoError(f"{show(dst)}: already exists; --overwrite replaces it, or choose another output name")
    if blocked := file_in_the_way(dst, dst.parent):
        raise VideoError(blocked)


@contextmanager
def sigterm_as_exit(code: int | None = None) -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C (SystemExit ``code``, default 143), so ``finally`` blocks and exit handlers
    run: the video's temporary file is removed; ``serve`` (code 0) stops its job and removes users' pictures."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # not ours to change: another thread, or the caller handles SIGTERM itself
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum if code is None else code)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def translate_video(wild: WildCartoonizer, src: str | os.PathLike, dst: str | os.PathLike,
                    options: VideoOptions | None = None, progress: bool = True,
                    overwrite: bool = False) -> VideoReport:
    """Translate ``src`` (mp4/mov/webm/mkv/gif…) into ``dst`` (.mp4 or .gif) frame by frame; an existing
    ``dst`` is refused unless ``overwrite``."""
    import av

    opt = options or VideoOptions()
    src, dst = Path(src), Path(dst)
    suffix = dst.suffix.lower()
    check_video_output(src, dst, overwrite)
    webp = animated_webp(src)
    declared: int | None
    if webp is not None:  # FFmpeg cannot decode animated WebP: Pillow reads it
        inp, ain, (fps, declared) = None, None, webp
    else:
        inp = _open_input(src)
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if inp.streams.audio and opt.audio and suffix == ".mp4" else None
        fps = vin.average_rate or vin.guessed_rate or Fraction(25)
        declared = vin.frames or None
    total = declared
    if opt.max_frames:
        total = min(total or opt.max_frames, opt.max_frames)
    tmp = temp_name(dst, f".part{suffix}")  # short: a long output name must still fit
    frames = FrameTranslator(wild, opt)
    whole = frames.whole
    writer: GifWriter | Mp4Writer | None = None
    n, rotation, t0 = 0, 0, time.perf_counter()
    size = (0, 0)
    pending: list[tuple[np.ndarray, int | None, Fraction | None, int | None]] = []
    early: list = []  # audio read before the first frame decodes (the writer needs that frame's size)
    damage: list[str] = []

    def hidden(exc: Exception) -> str:
        """The error in one line, naming the output rather than its temporary file."""
        return one_line(exc).replace(str(tmp), show(dst)).replace(tmp.name, dst.name)

    def flush() -> None:
        nonlocal n
        if not pending:
            return
        assert writer is not None  # opened on the first frame, before anything is pending
        outs = frames([p[0] for p in pending])
        for (_, pts, tb, duration), o in zip(pending, outs, strict=True):
            back = rotation and suffix != ".gif"  # GIF has no rotation field: store it upright
            writer.write(np.rot90(o, -(rotation // 90)) if back else o, pts, tb, duration)
            n += 1
            bar.update(1)
        bar.set_postfix(fps=f"{n / (time.perf_counter() - t0):.1f}")
        pending.clear()

    def open_writer(frame) -> None:
        nonlocal writer, rotation, size
        rotation = round((frame.rotation or 0) / 90) * 90 % 360
        size = (frame.width, frame.height)
        if suffix == ".gif" and rotation in (90, 270):
            size = size[::-1]
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            writer = GifWriter(tmp, fps) if suffix == ".gif" else Mp4Writer(tmp, size, fps, rotation, opt.crf, ain)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(f"{show(dst)}: cannot write the output ({hidden(exc)})") from None

    try:
        with sigterm_as_exit(), tqdm(total=total, disable=not progress, unit="frame", dynamic_ncols=True) as bar:
            source = (pil_frames(src) if inp is None
                      else packets(inp, [vin] + ([ain] if ain is not None else []), damage))
            for packet, frame in source:
                if packet is not None:
                    if writer is not None:
                        writer.audio_packet(packet)
                    else:
                        early.append(packet)
                    continue
                if opt.max_frames and n + len(pending) >= opt.max_frames:
                    break
                if writer is None:
                    open_writer(frame)
                    assert writer is not None
                    for p in early:
                        writer.audio_packet(p)
                    early.clear()
                arr = frame_rgb(frame)
                up = np.ascontiguousarray(np.rot90(arr, rotation // 90)) if rotation else arr
                pending.append((up, frame.pts, frame.time_base, getattr(frame, "duration", None)))
                if len(pending) >= ((opt.batch_size or wild.cz.batch_size) if whole else 1):
                    flush()
            flush()
            if writer is None:
                why = f" ({damage[0]})" if damage else ""
                raise VideoError(f"{show(src)}: no frames could be decoded{why}")
            try:
                writer.close()
                os.replace(tmp, dst)
            except (av.error.FFmpegError, OSError) as exc:
                raise VideoError(f"{show(dst)}: cannot write the output ({hidden(exc)})") from None
    except av.error.FFmpegError as exc:
        raise VideoError(f"{show(src)} → {show(dst)}: video processing failed ({one_line(exc)})") from None
    finally:
        if inp is not None:
            inp.close()
        if writer is not None:
            writer.abort()
        tmp.unlink(missing_ok=True)
    written = getattr(writer, "size", size)  # an MP4's odd side gained a row or column
    report = VideoReport(dst, n, float(fps), written, rotation if suffix != ".gif" else 0, writer.audio,
                         time.perf_counter() - t0, declared)
    stopped_early = bool(opt.max_frames and n >= opt.max_frames)
    if damage or (declared and n < declared and not stopped_early):
        said = f"the file declares {declared} frames but " if declared else ""
        why = f" ({damage[0]})" if damage else ""
        report.warnings.append(f"{show(src)}: {said}only {n} frames could be decoded (truncated or damaged?){why}")
    return report
