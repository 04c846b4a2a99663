"""Reading a video's packets and writing the translated frames (MP4 through PyAV, GIF through Pillow).

Why its own module: the timing rules live here. Frames keep their own timestamps (variable frame rates,
a GIF's long last frame), on a clock that only moves forward (a clip joined to itself restarts its
timestamps, which MP4 cannot store), and so does its sound; the last frame lasts as long as the input
holds it; audio keeps its place against the picture, also the part read before the first frame decodes; a
damaged packet costs its own frames, not the rest of the video.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..imageio import one_line

MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}  # codecs copied into MP4 as they are
TICK = Fraction(1, 90000)  # the MP4 video clock: fine enough for any frame timing
MAX_BAD_PACKETS = 50  # decode errors in a row before a damaged file is given up on
BT709, LIMITED = 1, 1  # FFmpeg's AVCOL_SPC/PRI/TRC_BT709 and AVCOL_RANGE_MPEG (16-235)


class Clock:
    """Frame times in :data:`TICK`\\ s that only increase. A timestamp at or before the last one moves just
    after it; one far before it (a clip that starts again) shifts the rest so the clip plays on."""

    def __init__(self, fps: Fraction) -> None:
        self.step = max(1, round(1 / (Fraction(fps) * TICK))) if fps else 3600  # one nominal frame
        self.last: int | None = None
        self.offset = 0

    def __call__(self, pts: int | None, time_base: Fraction | None) -> int:
        if pts is None or time_base is None:
            t = 0 if self.last is None else self.last + self.step
        else:
            t = round(pts * time_base / TICK) + self.offset
            if self.last is not None and t <= self.last:
                if self.last - t > 2 * self.step:  # started again: the rest follows on
                    self.offset += self.last + self.step - t
                    t = self.last + self.step
                else:  # a repeated timestamp: just after the last
                    t = self.last + 1
        self.last = t
        return t


class SoundClock:
    """Audio times (in the stream's own units) that only increase. A repeat or a small overlap is dropped;
    a jump far back (a clip that starts again) shifts the rest to follow on, so the sound plays on too."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.end = 0
        self.shift = 0

    def __call__(self, t: int, duration: int) -> int | None:
        t += self.shift
        duration = max(1, duration)
        if self.last is not None and t <= self.last:
            if self.last - t <= 2 * duration:
                return None
            self.shift += self.end - t
            t = self.end
        self.last, self.end = t, t + duration
        return t


def packets(inp, streams: list, damage: list[str]) -> Iterator[tuple[Any, Any]]:
    """(audio packet, None) or (None, video frame) in file order. A packet that does not decode is skipped
    and noted in ``damage``; a file that cannot be read on (or :data:`MAX_BAD_PACKETS` bad packets in a
    row) ends it."""
    import av

    demuxed = inp.demux(*streams)
    bad = 0
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            damage.append(one_line(exc))
            return
        if packet.stream.type == "audio":
            yield packet, None
            continue
        try:
            decoded = packet.decode()
        except av.error.FFmpegError as exc:
            damage.append(one_line(exc))
            bad += 1
            if bad >= MAX_BAD_PACKETS:
                return
            continue
        bad = 0
        for frame in decoded:
            yield None, frame


class Mp4Writer:
    """H.264 video on :class:`Clock`'s times, with the input's audio copied (codecs MP4 holds) or
    re-encoded to AAC at its own timestamps. Always 4:2:0, which every player plays: an odd side gets one
    copied column or row (4:4:4 kept the size, and Safari, QuickTime, browsers and phones could not play it)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: Fraction, rotation: int, crf: int,
                 audio_in=None) -> None:
        import av

        self.out = av.open(str(path), "w", format="mp4")
        w, h = size
        self.pad = ((0, h % 2), (0, w % 2), (0, 0))  # 4:2:0 needs even sides
        self.v = self.out.add_stream("libx264", rate=fps)
        self.size = (w + w % 2, h + h % 2)  # what is written (the report says this, not the input's)
        self.v.width, self.v.height, self.v.pix_fmt = *self.size, "yuv420p"
        # BT.709, tagged: untagged, players take HD video as BT.709, while the frames were converted with
        # BT.601 (red came out redder, blue less blue, by 6-7 levels)
        cc = self.v.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = BT709, BT709, BT709, LIMITED
        self.v.options = {"crf": str(crf), "preset": "medium"}
        self.v.codec_context.time_base = TICK
        self.clock = Clock(fps)
        if rotation:
            self.v.set_display_rotation(rotation)
        self.audio, self.a = "none", None
        if audio_in is not None:
            if audio_in.codec_context.name in MP4_AUDIO:
                self.a, self.audio = self.out.add_stream_from_template(audio_in), "copied"
            else:
                self.a, self.audio = self.out.add_stream("aac", rate=audio_in.rate), "re-encoded"
        self.audio_in = audio_in
        self.sound = SoundClock()
        self.held = None  # the newest video packet: muxed once the next one comes, or at close with its duration
        self.last_duration: int | None = None  # the last frame's own duration, in TICKs
        self.span: list[Fraction] = []  # the first packet's dts, the lowest and the highest pts (seconds)

    def audio_packet(self, packet) -> None:
        if self.a is None or packet.dts is None:
            return
        if self.audio == "copied":
            dts = self.sound(packet.dts, packet.duration or 0)
            if dts is None:
                return
            if packet.pts is not None:
                packet.pts += dts - packet.dts
            packet.dts = dts
            packet.stream = self.a
            self.out.mux(packet)
        else:
            for frame in packet.decode():  # at its own time (pts None would move it to the start)
                if frame.pts is not None and frame.time_base is not None:
                    t = self.sound(round(frame.pts * frame.time_base * frame.sample_rate), frame.samples)
                    if t is None:
                        continue
                    frame.pts, frame.time_base = t, Fraction(1, frame.sample_rate)
                self.out.mux(self.a.encode(frame))

    def write(self, rgb: np.ndarray, pts: int | None, time_base: Fraction | None,
              duration: int | None = None) -> None:
        import av
        from av.video.reformatter import ColorRange, Colorspace

        if self.pad[0][1] or self.pad[1][1]:
            rgb = np.pad(rgb, self.pad, mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
        frame.pts, frame.time_base = self.clock(pts, time_base), TICK
        self.last_duration = round(duration * time_base / TICK) if duration and time_base is not None else None
        self.mux_video(self.v.encode(frame))

    def mux_video(self, encoded: list) -> None:
        for packet in encoded:
            if self.held is not None:
                self.out.mux(self.held)
            self.held = packet
            if packet.pts is not None and packet.dts is not None and packet.time_base is not None:
                pts = packet.pts * packet.time_base
                self.span = ([packet.dts * packet.time_base, pts, pts] if not self.span else
                             [self.span[0], min(self.span[1], pts), max(self.span[2], pts)])

    def close(self) -> None:
        self.mux_video(self.v.encode())
        held = self.held
        if held is not None and self.span and held.dts is not None and held.time_base is not None:
            # MP4 ends the track at its last packet's dts + duration. With B-frames the dts trail the pts by
            # as much as the frames' spacing there, so the duration is set to end the track where the
            # last frame's own hold ends (variable frame rates came out half as long; a GIF's hold was cut).
            first_dts, first_pts, last_pts = self.span
            end = last_pts + (self.last_duration or self.clock.step) * TICK
            held.duration = max(1, round((end - first_pts - (held.dts * held.time_base - first_dts))
                                         / held.time_base))
        if held is not None:
            self.out.mux(held)
        if self.a is not None and self.audio == "re-encoded":
            self.out.mux(self.a.encode())
        self.out.close()
        self.closed = True

    def abort(self) -> None:
        if not getattr(self, "closed", False):
            self.closed = True
            try:
                self.out.close()
            except Exception:  # already broken; the temp file is removed anyway
                pass


class GifWriter:
    """GIF through Pillow (adaptive palette per frame; PyAV's GIF encoder uses a fixed one). Each frame
    lasts until the next one's timestamp; the last one as long as the input says (a GIF's final hold)."""

    def __init__(self, path: Path, fps: Fraction) -> None:
        self.path = path
        self.frames: list[Image.Image] = []
        self.durations: list[float] = []
        self.default_ms = 1000 / float(fps) if fps else 40.0
        self.last: tuple[int, Fraction] | None = None
        self.audio = "none"

    def audio_packet(self, packet) -> None:  # GIFs have no sound
        pass

    def write(self, rgb: np.ndarray, pts: int | None, time_base: Fraction | None,
              duration: int | None = None) -> None:
        now = (pts, time_base) if pts is not None and time_base is not None else None
        if self.last is not None and now is not None:
            self.durations[-1] = max(20.0, float((now[0] - self.last[0]) * now[1]) * 1000)
        self.last = now
        self.frames.append(Image.fromarray(rgb).quantize(256, method=Image.Quantize.MEDIANCUT))
        own = float(duration * time_base) * 1000 if duration and time_base is not None else 0.0
        self.durations.append(max(20.0, own) if own else self.default_ms)

    def close(self) -> None:
        buf = io.BytesIO()
        self.frames[0].save(buf, format="GIF", save_all=True, append_images=self.frames[1:],
                            duration=[round(d) for d in self.durations], loop=0, disposal=1)
        self.path.write_bytes(buf.getvalue())

    def abort(self) -> None:
        self.frames.clear()


__all__ = ["MP4_AUDIO", "Clock", "GifWriter", "Mp4Writer", "SoundClock", "packets"]
