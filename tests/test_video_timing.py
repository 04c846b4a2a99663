"""Video timing (inference.video_writers): irregular frame times, restarting clips, audio kept in place from
its first packet, and damaged packets that cost only their own frames."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from artifygan import Cartoonizer
from artifygan.inference.video import translate_video
from artifygan.inference.video_writers import TICK, Clock
from artifygan.inference.wild import WildCartoonizer, WildOptions

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def whole(tiny_snapshot):
    return WildCartoonizer(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch"),
                           WildOptions(mode="whole"))


def frame(i: int, w: int = 64, h: int = 48, value: int | None = None) -> np.ndarray:
    a = np.full((h, w, 3), 20 if value is None else value, np.uint8)
    a[:, (3 * i) % w] = 200  # something that moves
    return a


def times(path) -> list[float]:
    with av.open(str(path)) as c:
        return [round(float(f.pts * f.time_base), 3) for f in c.decode(video=0)]


def length(path) -> float:
    """Seconds the video track plays, its last frame's hold included."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return round(float(s.duration * s.time_base), 3)


def test_the_clock_only_moves_forward():
    c = Clock(Fraction(10))
    ms = Fraction(1, 1000)
    assert [c(p, ms) for p in (0, 100, 100, 200, 300)] == [0, 9000, 9001, 18000, 27000]  # a repeat: just after
    assert c(0, ms) == 36000  # a clip that starts again plays on, one frame later
    assert c(100, ms) == 45000 and c(None, None) == 54000  # and keeps its own spacing; no time: one frame on
    assert TICK == Fraction(1, 90000)


def test_irregular_frame_times_are_kept_in_mp4_and_gif(whole, tmp_path):
    gif = tmp_path / "hold.gif"
    pics = [Image.fromarray(frame(i)) for i in range(4)]
    pics[0].save(gif, save_all=True, append_images=pics[1:], duration=[100, 100, 100, 1000], loop=0)
    translate_video(whole, gif, tmp_path / "hold.mp4", progress=False)  # failed: "Invalid argument"
    assert times(tmp_path / "hold.mp4") == [0.0, 0.1, 0.2, 0.3]
    assert length(tmp_path / "hold.mp4") == 1.3  # the final hold (it was cut to one nominal frame: 0.4)
    translate_video(whole, gif, tmp_path / "hold-out.gif", progress=False)
    with Image.open(tmp_path / "hold-out.gif") as im:
        held = []
        for i in range(im.n_frames):
            im.seek(i)
            held.append(im.info["duration"])
    assert held == [100, 100, 100, 1000]  # the final hold too (it became 1000 / average fps)

    vfr = tmp_path / "vfr.mp4"
    stamps = [0, 20, 40, 60, 200, 400, 420, 440, 700, 1000]
    with av.open(str(vfr), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, p in enumerate(stamps):
            f = av.VideoFrame.from_ndarray(frame(i), format="rgb24")
            f.pts, f.time_base = p, Fraction(1, 1000)
            c.mux(s.encode(f))
        c.mux(s.encode())
    translate_video(whole, vfr, tmp_path / "vfr-out.mp4", progress=False)
    assert times(tmp_path / "vfr-out.mp4") == [p / 1000 for p in stamps]
    assert length(tmp_path / "vfr-out.mp4") == 1.02  # the last frame keeps its 20 ms (the track said 0.51 s)


def test_a_clip_joined_to_itself_plays_on(whole, tmp_path):
    part = tmp_path / "a.ts"
    with av.open(str(part), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame(i), format="rgb24")))
        c.mux(s.encode())
    joined = tmp_path / "twice.ts"
    joined.write_bytes(part.read_bytes() * 2)
    r = translate_video(whole, joined, tmp_path / "twice.mp4", progress=False)
    t = times(tmp_path / "twice.mp4")
    assert r.frames == 10 and len(t) == 10
    assert np.allclose(np.diff(t), 0.1, atol=0.002)  # restarted at 0.2 s; now 0.1 s apart throughout


def beep_starts(path) -> list[float]:
    """Where each loud stretch of the sound starts, in seconds."""
    out, before = [], False
    with av.open(str(path)) as c:
        for f in c.decode(audio=0):
            loud = np.abs(f.to_ndarray().astype(np.float64).ravel()) > 0.3
            if loud.any() and not before:
                out.append(float(f.pts * f.time_base) + np.nonzero(loud)[0][0] / f.sample_rate)
            before = bool(loud.any())
    return out


@pytest.mark.parametrize("codec", ["aac", "mp2"], ids=["copied", "re-encoded"])
def test_a_joined_clip_keeps_its_sound_after_the_restart(whole, tmp_path, codec):
    rate, part = 16000, tmp_path / "a.ts"
    with av.open(str(part), "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream(codec, rate=rate)
        a.layout = "mono"
        for i in range(5):
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame(i), format="rgb24")))
        c.mux(s.encode())
        for t0 in range(0, rate // 2, 1024):  # 0.5 s, a beep at 0.25 s
            n = np.arange(t0, t0 + 1024)
            x = np.where((n >= rate // 4) & (n < rate // 4 + 800), 0.8 * np.sin(2 * np.pi * 1000 * n / rate), 0.0)
            f = av.AudioFrame.from_ndarray(x.astype(np.float32)[None], format="fltp", layout="mono")
            f.sample_rate, f.pts = rate, t0
            c.mux(a.encode(f))
        c.mux(a.encode())
    joined = tmp_path / "twice.ts"
    joined.write_bytes(part.read_bytes() * 2)
    r = translate_video(whole, joined, tmp_path / "twice.mp4", progress=False)
    assert r.audio == ("copied" if codec == "aac" else "re-encoded")
    beeps = beep_starts(tmp_path / "twice.mp4")
    assert len(beeps) == 2  # the second half's sound was dropped: its timestamps went back
    assert 0.5 <= beeps[1] - beeps[0] <= 0.6  # and follows on, as the picture does (0.5 s later)


def write_flash_and_beep(path, copied: bool) -> None:
    """1 s of 10 fps video, a white frame at 0.5 s, and a beep at 0.5 s (PCM: re-encoded; AAC: copied)."""
    rate = 16000
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac" if copied else "pcm_s16le", rate=rate)
        a.layout = "mono"
        for i in range(10):
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame(i, value=255 if i == 5 else 20), format="rgb24")))
        c.mux(s.encode())
        step = 1024
        for t0 in range(0, rate, step):
            n = np.arange(t0, t0 + step)
            x = np.where((n >= rate // 2) & (n < rate // 2 + 800), 0.8 * np.sin(2 * np.pi * 1000 * n / rate), 0.0)
            f = (av.AudioFrame.from_ndarray(x.astype(np.float32)[None], format="fltp", layout="mono") if copied
                 else av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[None], format="s16", layout="mono"))
            f.sample_rate, f.pts = rate, t0
            c.mux(a.encode(f))
        c.mux(a.encode())


def flash_and_beep(path) -> tuple[float, float, float]:
    """(time of the brightest frame, time the beep starts, time of the first audio packet), in seconds."""
    with av.open(str(path)) as c:
        frames = [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24").mean()) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        first = next(float(p.pts * p.time_base) for p in c.demux(audio=0) if p.pts is not None)
    with av.open(str(path)) as c:
        beep = None
        for f in c.decode(audio=0):
            x = f.to_ndarray().astype(np.float64).ravel()
            x = x / 32767 if np.abs(x).max() > 2 else x
            loud = np.nonzero(np.abs(x) > 0.3)[0]
            if len(loud):
                beep = float(f.pts * f.time_base) + loud[0] / f.sample_rate
                break
    assert beep is not None
    return max(frames, key=lambda t: t[1])[0], beep, first


@pytest.mark.parametrize("copied", [False, True], ids=["re-encoded", "copied"])
def test_audio_stays_with_the_picture_from_its_first_packet(whole, tmp_path, copied):
    src = tmp_path / ("in.mp4" if copied else "in.mkv")
    write_flash_and_beep(src, copied)
    r = translate_video(whole, src, tmp_path / "out.mp4", progress=False)
    assert r.audio == ("copied" if copied else "re-encoded")
    flash_in, beep_in, first_in = flash_and_beep(src)
    flash_out, beep_out, first_out = flash_and_beep(tmp_path / "out.mp4")
    assert flash_out == pytest.approx(flash_in, abs=1e-3)
    assert beep_out == pytest.approx(beep_in, abs=0.03)  # it came 0.19 s early: the start was dropped
    assert first_out == pytest.approx(first_in, abs=0.07)  # the audio read before the first frame is kept


def test_a_damaged_packet_costs_only_its_own_frames(whole, tmp_path):
    src = tmp_path / "clip.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"g": "5"}  # a keyframe every 5 frames, so decoding recovers
        for i in range(20):
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame(i), format="rgb24")))
        c.mux(s.encode())
    with av.open(str(src)) as c:
        packet = [p for p in c.demux(video=0) if p.size][7]
        pos, size = packet.pos, packet.size
    data = bytearray(src.read_bytes())
    data[pos:pos + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    r = translate_video(whole, bad, tmp_path / "out.mp4", progress=False)
    assert 14 <= r.frames < 20  # it stopped at the damage: 7 frames
    assert r.warnings and "declares 20 frames" in r.warnings[0]



def test_mp4_output_is_bt709_and_says_so(tmp_path):
    """Frames were converted with BT.601 and left untagged, which players read as BT.709 for HD: a colour
    [196, 106, 40] showed as [203, 110, 34]."""
    from artifygan.inference.video_writers import Mp4Writer

    colour = np.array([196.0, 106.0, 40.0])
    w = Mp4Writer(tmp_path / "flat.mp4", (64, 48), Fraction(10), 0, 18)
    for i in range(3):
        w.write(np.full((48, 64, 3), colour, np.uint8), i, Fraction(1, 10))
    w.close()
    with av.open(str(tmp_path / "flat.mp4")) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range) == (1, 1, 1, 1)  # 709, limited
        y = next(c.decode(video=0)).to_ndarray()[:48, :64].astype(float).mean()
    bt709 = 16 + 219 * (colour @ [0.2126, 0.7152, 0.0722]) / 255
    bt601 = 16 + 219 * (colour @ [0.299, 0.587, 0.114]) / 255
    assert abs(y - bt709) < 1.0 and abs(y - bt601) > 4  # 119 where BT.601 gives 124
