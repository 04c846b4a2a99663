"""Video and GIF: frame count, fps, size, audio and rotation kept; no broken file on interrupt; tracking."""

import os
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from artifygan import Cartoonizer
from artifygan.cli import main
from artifygan.face_finder import LazyFaces
from artifygan.faces import Face
from artifygan.inference.temporal import Deflicker, FaceTracker, flicker
from artifygan.inference.video import VideoError, VideoOptions, translate_video
from artifygan.inference.wild import WildCartoonizer, WildOptions

from .conftest import DATA, YUNET, need_shared, random_rgb, with_meta

SELFIES = DATA / "selfie2anime" / "trainA"


@pytest.fixture(scope="module")
def snapshot(tiny_snapshot):
    return tiny_snapshot


@pytest.fixture(scope="module")
def whole(snapshot):
    return WildCartoonizer(Cartoonizer.from_pretrained(snapshot, device="cpu"), WildOptions(mode="whole"))


def write_video(path, frames: list[np.ndarray], fps: int = 12, rotation: int = 0, audio_s: float = 0.0):
    """A tiny H.264 MP4 (optionally with a display rotation and an AAC sine track)."""
    out = av.open(str(path), "w")
    h, w = frames[0].shape[:2]
    v = out.add_stream("libx264", rate=Fraction(fps))
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    if rotation:
        v.set_display_rotation(rotation)
    a = out.add_stream("aac", rate=16000) if audio_s else None
    for f in frames:
        out.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
    out.mux(v.encode())
    if a is not None:
        t = np.arange(int(16000 * audio_s)) / 16000
        af = av.AudioFrame.from_ndarray((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                        format="flt", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        out.mux(a.encode(af))
        out.mux(a.encode())
    out.close()


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(video=0))
        return {"frames": len(frames), "fps": float(v.average_rate), "size": (frames[0].width, frames[0].height),
                "rotation": frames[0].rotation, "audio": [s.codec_context.name for s in c.streams.audio],
                "duration": float(c.duration / 1e6) if c.duration else None}


def moving_frames(n=10, w=64, h=48):
    base = np.asarray(random_rgb(w + n, h, seed=1))
    return [base[:, i:i + w] for i in range(n)]


def test_mp4_keeps_frames_fps_size_audio_and_rotation(whole, tmp_path):
    src = tmp_path / "in.mp4"
    write_video(src, moving_frames(12), fps=12, rotation=90, audio_s=1.0)
    r = translate_video(whole, src, tmp_path / "out.mp4", VideoOptions(batch_size=5), progress=False)
    a, b = probe(src), probe(tmp_path / "out.mp4")
    assert r.frames == 12 and b["frames"] == a["frames"] == 12
    assert b["fps"] == a["fps"] == 12 and b["size"] == a["size"] == (64, 48)
    assert b["rotation"] == a["rotation"] == 90 and r.rotation == 90
    assert b["audio"] == ["aac"] and r.audio == "copied"
    assert abs(b["duration"] - a["duration"]) < 0.15


def test_gif_in_and_out(whole, tmp_path):
    frames = [Image.fromarray(f) for f in moving_frames(6)]
    src = tmp_path / "in.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    r = translate_video(whole, src, tmp_path / "out.gif", progress=False)
    with Image.open(tmp_path / "out.gif") as im:
        assert im.n_frames == 6 and im.size == (64, 48) and im.info["duration"] == 100
    assert r.frames == 6
    translate_video(whole, src, tmp_path / "out.mp4", progress=False)
    assert probe(tmp_path / "out.mp4")["frames"] == 6


def test_odd_sides_give_a_4_2_0_mp4_every_player_plays(whole, tmp_path):
    src = tmp_path / "odd.gif"
    frames = [Image.fromarray(f) for f in moving_frames(3, w=63, h=47)]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    report = translate_video(whole, src, tmp_path / "odd.mp4", progress=False)
    assert report.size == (64, 48)  # what the summary line says is what was written
    with av.open(str(tmp_path / "odd.mp4")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"  # it was yuv444p: Safari, phones: no
        f = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert f.shape == (48, 64, 3)  # one copied row and column
    assert np.abs(f[:, 63] - f[:, 62]).mean() < 6 and np.abs(f[47] - f[46]).mean() < 6  # copies, not black
    assert np.abs(f[:, 63] - f[:, 0]).mean() > 6  # (the picture itself is not flat)


def test_interrupt_leaves_no_broken_file(whole, tmp_path, monkeypatch):
    src = tmp_path / "in.mp4"
    write_video(src, moving_frames(10))
    dst = tmp_path / "out.mp4"
    dst.write_bytes(b"an earlier result")
    calls = {"n": 0}
    real = whole.cz.translate

    def boom(images, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(images, *args, **kwargs)

    monkeypatch.setattr(whole.cz, "translate", boom)
    with pytest.raises(KeyboardInterrupt):
        translate_video(whole, src, dst, VideoOptions(batch_size=3), progress=False, overwrite=True)
    assert dst.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]  # no temp file left


def test_an_existing_output_is_kept_unless_overwrite(snapshot, tmp_path, capsys):
    src = tmp_path / "in.mp4"
    write_video(src, moving_frames(4))
    dst = tmp_path / "keep.mp4"
    dst.write_bytes(b"the user's own video")
    common = ["-m", str(snapshot), "--mode", "whole", "-q", "--device", "cpu"]
    assert main(["video", str(src), "-o", str(dst), *common]) == 2
    assert "keep.mp4: already exists; --overwrite replaces it" in capsys.readouterr().err
    assert dst.read_bytes() == b"the user's own video"
    assert main(["video", str(src), "-o", str(dst), "--overwrite", *common]) == 0
    assert dst.read_bytes()[4:8] == b"ftyp"  # an MP4 now, as asked
    assert main(["video", str(src), "-o", str(src), "--overwrite", *common]) == 2  # the input: never
    assert "the output is the input video" in capsys.readouterr().err


def test_bad_inputs_are_one_line_errors(snapshot, tmp_path, capsys):
    (tmp_path / "notavideo.mp4").write_text("hello")
    rc = main(["video", str(tmp_path / "notavideo.mp4"), "-o", str(tmp_path / "o.mp4"), "-m", str(snapshot),
               "--mode", "whole", "-q", "--device", "cpu"])
    assert rc == 2 and "notavideo.mp4: not a readable video" in capsys.readouterr().err
    rc = main(["video", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o.mp4"), "-m", str(snapshot),
               "--mode", "whole", "-q"])
    assert rc == 2 and "missing.mp4: no such video" in capsys.readouterr().err
    (tmp_path / "clip.mp4").mkdir()  # it said "no such video"
    rc = main(["video", str(tmp_path / "clip.mp4"), "-o", str(tmp_path / "o.mp4"), "-m", str(snapshot),
               "--mode", "whole", "-q"])
    assert rc == 2 and "clip.mp4: is a folder, not a video" in capsys.readouterr().err
    with pytest.raises(VideoError, match="must be .mp4 or .gif"):
        translate_video(None, tmp_path / "x.mp4", tmp_path / "o.avi")


def test_tracker_smooths_jitter_and_survives_misses():
    rng = np.random.default_rng(0)
    lm = np.array([[40, 50], [60, 50], [50, 60], [42, 70], [58, 70]], float)
    tracker, raw, smooth = FaceTracker(0.8, max_misses=2), [], []
    for _ in range(30):
        j = rng.normal(0, 1.0, 2)
        f = Face((30 + j[0], 40 + j[1], 70 + j[0], 80 + j[1]), lm + j, 0.9)
        out = tracker.update([f])
        raw.append(f.landmarks[0, 0])
        smooth.append(out[0].landmarks[0, 0])
    assert np.std(np.diff(smooth)) < 0.6 * np.std(np.diff(raw))
    assert len(tracker.update([])) == 1 and len(tracker.update([])) == 1  # missed twice: still there
    assert tracker.update([]) == []  # third miss: gone
    moved = Face((130, 40, 170, 80), lm + np.array([100.0, 0.0]), 0.9)  # a jump is a new track, not a smear
    assert tracker.update([moved])[0].box[0] == 130

    tracker = FaceTracker(0.8)  # a fast move (IoU 0.14): the same track follows, no ghost at the old place
    tracker.update([Face((30, 40, 70, 80), lm, 0.9)])
    moved = Face((60, 40, 100, 80), lm + np.array([30.0, 0.0]), 0.9)
    out = tracker.update([moved])
    assert len(out) == 1 and out[0].box == (60, 40, 100, 80) and [t.id for t in tracker.tracks] == [0]
    out = tracker.update([moved, Face((200, 40, 240, 80), lm + 170, 0.9)])
    assert len(out) == 2 and [t.id for t in tracker.tracks] == [0, 1]  # a second face far off: its own track
    out = tracker.update([Face((300, 40, 400, 140), lm * 2.5 + 250, 0.9)])  # 3.5 widths off, 2.5x as large
    assert len(out) == 3 and [t.misses for t in tracker.tracks] == [1, 1, 0]  # no match: a new track

    tracker = FaceTracker(0.8)  # between detections (--detect-every), faces come largest first too
    small = Face((10, 10, 40, 40), lm * 0.3, 0.9)
    big = Face((100, 0, 300, 200), lm * 4 + 60, 0.9)
    tracker.update([small])
    assert [f.width for f in tracker.update([small, big])] == [200, 30]
    assert [f.width for f in tracker.faces()] == [200, 30]  # the tracks' own order was [30, 200]


def test_deflicker_damps_still_regions_only():
    rng = np.random.default_rng(0)
    still_in = np.full((32, 32, 3), 120, np.uint8)
    outs = [rng.integers(100, 140, (32, 32, 3)).astype(np.uint8) for _ in range(8)]
    d = Deflicker(0.6)
    damped = [d(still_in, o) for o in outs]
    ins = [still_in] * 8
    assert flicker(ins, damped) < 0.6 * flicker(ins, outs)
    moving = Deflicker(0.6)
    a = moving(still_in, outs[0])
    b = moving(np.zeros_like(still_in), outs[1])  # the input changed a lot: output follows at once
    assert np.array_equal(b, outs[1]) and a.shape == b.shape


def test_deflicker_follows_a_change_of_colour_alone():
    """A red frame, then green ones of the same grey: gated on grey alone, the old red stayed for frames."""
    red, green = np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    green[..., 1] = 130  # grey 76 as the red's
    d = Deflicker(0.6)
    d(red, red)
    assert all(np.abs(d(green, green).astype(int) - green).max() <= 1 for _ in range(3))
    half = red.copy()
    half[:, 16:] = green[:, 16:]  # half the frame changes colour: no cut, the changed half follows
    d2 = Deflicker(0.6)
    d2(red, red)
    assert np.abs(d2(half, half).astype(int)[:, 20:] - green[:, 20:]).max() <= 1


@need_shared(YUNET, SELFIES)
def test_face_mode_video_tracks_faces(snapshot, tmp_path):
    face = np.asarray(Image.open(sorted(SELFIES.glob("*.jpg"))[0]).convert("RGB").resize((128, 128)))
    frames = []
    for i in range(6):
        canvas = np.full((160, 224, 3), 90, np.uint8)
        canvas[16:144, 20 + 4 * i:148 + 4 * i] = face
        frames.append(np.rot90(canvas, 1))  # stored sideways, like a phone held upright...
    src = tmp_path / "faces.mp4"
    write_video(src, frames, rotation=-90)  # ...whose player turns it 90° clockwise
    wild = WildCartoonizer(Cartoonizer.from_pretrained(snapshot, device="cpu"), WildOptions(background="keep"),
                           yunet=str(YUNET))
    calls = []
    real = wild.__class__.__call__

    def spy(self, image, faces=None, options=None):
        calls.append(len(faces or []))
        return real(self, image, faces=faces, options=options)

    wild.__class__.__call__ = spy
    try:
        r = translate_video(wild, src, tmp_path / "out.mp4", progress=False)
    finally:
        wild.__class__.__call__ = real
    assert r.frames == 6 and probe(tmp_path / "out.mp4")["rotation"] == -90
    assert calls == [1] * 6  # the face was found in every (upright) frame


def run_video(snapshot, src, dst, *extra: str) -> int:
    return main(["video", str(src), "-o", str(dst), "-m", str(snapshot), "--mode", "whole", "-q", "--device", "cpu",
                 *extra])


def test_output_is_never_the_input_and_bad_outputs_are_one_line(snapshot, tmp_path, capsys):
    src = tmp_path / "clip.mp4"
    write_video(src, moving_frames(4))
    before = src.read_bytes()
    assert run_video(snapshot, src, tmp_path / "." / "clip.mp4") == 2
    assert "the output is the input video" in capsys.readouterr().err
    assert src.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["clip.mp4"]
    assert run_video(snapshot, src, src / "x.mp4") == 2  # was a FileExistsError traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "clip.mp4 is a file, not a folder" in err[0]
    (tmp_path / "d.mp4").mkdir()
    assert run_video(snapshot, src, tmp_path / "d.mp4") == 2 and "is a folder" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (unwritable, even for root)")
def test_unwritable_output_names_the_output(snapshot, tmp_path, capsys):
    src = tmp_path / "clip.mp4"
    write_video(src, moving_frames(3))
    assert run_video(snapshot, src, "/proc/out.mp4") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: /proc/out.mp4: cannot write") and str(src) not in err


def test_long_output_name_and_umask(whole, tmp_path):
    src = tmp_path / "in.mp4"
    write_video(src, moving_frames(3))
    dst = tmp_path / ("x" * 246 + ".mp4")  # 250 characters: a temporary name must not add 14
    old = os.umask(0o022)
    try:
        r = translate_video(whole, src, dst, progress=False)
    finally:
        os.umask(old)
    assert r.frames == 3 and dst.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.mp4", dst.name])


def test_truncated_mp4_says_how_many_frames_were_declared(snapshot, tmp_path, capsys):
    full = tmp_path / "full.mp4"
    out = av.open(str(full), "w", options={"movflags": "faststart"})  # the index at the front
    v = out.add_stream("libx264", rate=Fraction(12))
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    rng = np.random.default_rng(0)
    for _ in range(30):
        frame = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        out.mux(v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
    out.mux(v.encode())
    out.close()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:full.stat().st_size // 3])
    assert run_video(snapshot, cut, tmp_path / "o.mp4") == 0
    cap = capsys.readouterr()
    n = probe(tmp_path / "o.mp4")["frames"]
    assert 0 < n < 30 and f"{n} frames" in cap.out
    assert f"warning: {cut}: the file declares 30 frames but only {n} frames could be decoded" in cap.err
    assert run_video(snapshot, full, tmp_path / "o2.mp4") == 0 and "warning" not in capsys.readouterr().err


SIGTERM_SCRIPT = """
import os, signal, sys
from artifygan import Cartoonizer
from artifygan.inference.video import VideoOptions, translate_video
from artifygan.inference.wild import WildCartoonizer, WildOptions
wild = WildCartoonizer(Cartoonizer.from_pretrained(sys.argv[1], device="cpu"), WildOptions(mode="whole"))
real = wild.cz.translate
def translate(images, *args, calls=[], **kwargs):
    calls.append(1)
    if len(calls) == 2:  # the .part file exists by now
        os.kill(os.getpid(), signal.SIGTERM)
    return real(images, *args, **kwargs)
wild.cz.translate = translate
translate_video(wild, sys.argv[2], sys.argv[3], VideoOptions(batch_size=2), progress=False)
"""


def test_sigterm_removes_the_partial_file(snapshot, tmp_path):
    import subprocess
    import sys

    src = tmp_path / "in.mp4"
    write_video(src, moving_frames(8))
    out = tmp_path / "out"
    out.mkdir()
    p = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT, str(snapshot), str(src), str(out / "o.mp4")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 128 + 15, p.stderr[-2000:]
    assert list(out.iterdir()) == []  # no .part file, no output


def test_animated_webp_in(whole, tmp_path):
    frames = [Image.fromarray(f) for f in moving_frames(5)]
    src = tmp_path / "in.webp"  # FFmpeg cannot decode animated WebP; `translate` points users here
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    r = translate_video(whole, src, tmp_path / "out.gif", progress=False)
    with Image.open(tmp_path / "out.gif") as im:
        assert r.frames == 5 and im.n_frames == 5 and im.size == (64, 48) and im.info["duration"] == 100
    r = translate_video(whole, src, tmp_path / "out.mp4", progress=False)
    assert r.frames == 5 and not r.warnings and probe(tmp_path / "out.mp4")["fps"] == 10


def test_a_transparent_animated_webp_is_read_on_white_as_stills_are(tmp_path):
    """A plain convert("RGB") gave a transparent sticker a black ground."""
    from artifygan.inference.animated import pil_frames

    frames = []
    for i in range(3):
        f = Image.new("RGBA", (40, 30), (255, 255, 255, 0))
        f.paste((200, 40, 40, 255), (5 + 5 * i, 5, 20 + 5 * i, 20))
        frames.append(f)
    src = tmp_path / "sticker.webp"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    rgb = [f.rgb for _, f in pil_frames(src)]
    assert len(rgb) == 3 and all((r[28, 38] == 255).all() for r in rgb)  # the ground: white, not black


def test_transparent_apng_and_gif_frames_are_read_on_white_as_stills_are(tmp_path):
    """FFmpeg decodes them as rgba / bgra / pal8 frames, and to_ndarray("rgb24") dropped the alpha: the
    clear ground came out black in `video` while `translate` gave the same picture a white one."""
    from artifygan.inference.animated import frame_rgb

    frames = []
    for i in range(3):
        f = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
        f.paste((200, 40, 40, 255), (5 + 5 * i, 5, 20 + 5 * i, 20))
        frames.append(f)
    for name in ("sticker.png", "sticker.gif"):
        src = tmp_path / name
        frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0,
                       **({"transparency": 0, "disposal": 2} if name.endswith(".gif") else {}))
        with av.open(str(src)) as c:
            decoded = [(f.format.name, frame_rgb(f)) for f in c.decode(video=0)]
        assert len(decoded) == 3, name
        for fmt, rgb in decoded:
            assert rgb.shape == (30, 40, 3) and (rgb[28, 38] == 255).all(), (name, fmt)  # white, not black
            assert rgb[12, 17, 0] > 150 and rgb[12, 17, 1] < 90  # the red square itself kept


@need_shared(YUNET)
def test_face_mode_without_faces_and_no_face_skip_keeps_the_frames(snapshot, tmp_path):
    frames = moving_frames(4)  # noise: no face anywhere
    src = tmp_path / "noface.mp4"
    write_video(src, frames)
    wild = WildCartoonizer(Cartoonizer.from_pretrained(snapshot, device="cpu"),
                           WildOptions(background="keep", no_face="skip"), yunet=str(YUNET))
    r = translate_video(wild, src, tmp_path / "out.mp4", VideoOptions(deflicker=0.0), progress=False)
    assert r.frames == 4  # was an AttributeError on the first frame without a face
    with av.open(str(tmp_path / "out.mp4")) as c:
        out = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(src)) as c:
        ref = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    # the frame passes through, up to H.264's losses on pure noise
    assert np.abs(out[0].astype(int) - ref[0].astype(int)).mean() < 12


def test_black_and_white_is_decided_once_per_clip(whole):
    from artifygan.inference.video import FrameTranslator

    rng = np.random.default_rng(3)
    grey = np.repeat(rng.integers(0, 256, (32, 48, 1), dtype=np.uint8), 3, axis=2)
    colour = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)

    def spread(a):
        a = a.astype(np.int16)
        return int((a.max(axis=2) - a.min(axis=2)).max())

    bw_clip = FrameTranslator(whole)
    outs = bw_clip([grey]) + bw_clip([colour])  # a black-and-white film stays so, whatever a frame holds
    assert [spread(o) for o in outs] == [0, 0]
    colour_clip = FrameTranslator(whole)
    outs = colour_clip([colour]) + colour_clip([grey])  # a grey frame in a colour clip is not greyed alone
    assert spread(outs[1]) > 0
    assert whole.cz.keep_grey is True  # the caller's Cartoonizer is left as it was


def test_whole_mode_video_uses_the_options_ensemble(whole):
    """FrameTranslator's whole mode called the Cartoonizer without WildOptions.tta (face mode had it)."""
    from artifygan.inference.video import FrameTranslator

    frame = np.random.default_rng(5).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    x2 = WildCartoonizer(whole.cz, WildOptions(mode="whole", tta="x2"))
    got = FrameTranslator(x2, VideoOptions(deflicker=0.0))([frame])[0]
    assert np.array_equal(got, np.asarray(whole.cz(Image.fromarray(frame), tta="x2").convert("RGB")))
    assert not np.array_equal(got, np.asarray(whole.cz(Image.fromarray(frame), tta="off").convert("RGB")))


def test_whole_mode_video_keeps_a_styles_backdrop_through_a_missed_face(snapshot, tmp_path):
    """A face the detector misses in one frame keeps its cut (tracked); background keep paints nothing."""
    from .test_background import AVATAR, portrait

    rgb, face = portrait(128)
    lms = np.array([[0.42, 0.42], [0.58, 0.42], [0.5, 0.5], [0.44, 0.6], [0.56, 0.6]], np.float32) * 128
    face = Face(face.box, lms, 0.99)

    class Blinking:  # finds the face in every frame but the third
        calls = 0

        def detect(self, rgb):
            self.calls += 1
            return [] if self.calls == 3 else [face]

    snap = with_meta(snapshot, tmp_path / "avatar", postprocess=AVATAR)
    from artifygan.inference.video import FrameTranslator

    def clip(background):
        cz = Cartoonizer.from_pretrained(snap, device="cpu")
        assert cz.background is not None
        cz.face_finder = LazyFaces(detector=Blinking())
        wild = WildCartoonizer(cz, WildOptions(mode="whole", background=background))
        return FrameTranslator(wild, VideoOptions(deflicker=0.0))([rgb] * 4)

    painted = clip("cartoon")
    assert all((o[:15, :15] == (40, 80, 200)).all() for o in painted)  # frame 3 too
    kept = clip("keep")
    assert not any((o[:15, :15] == (40, 80, 200)).all(axis=-1).any() for o in kept)


def test_whole_mode_video_detects_every_n_frames_as_asked(snapshot, tmp_path):
    """--detect-every was face mode's only: whole mode ran the detector on every frame."""
    from artifygan.inference.video import FrameTranslator

    from .test_background import AVATAR, portrait

    rgb, face = portrait(96)
    face = Face(face.box, np.array([[0.42, 0.42], [0.58, 0.42], [0.5, 0.5], [0.44, 0.6], [0.56, 0.6]]) * 96, 0.99)

    class Counting:
        calls = 0

        def detect(self, rgb):
            self.calls += 1
            return [face]

    cz = Cartoonizer.from_pretrained(with_meta(snapshot, tmp_path / "avatar", postprocess=AVATAR), device="cpu")
    cz.face_finder = LazyFaces(detector=(counting := Counting()))
    frames = FrameTranslator(WildCartoonizer(cz, WildOptions(mode="whole")), VideoOptions(detect_every=3))([rgb] * 7)
    assert counting.calls == 3 and len(frames) == 7  # frames 0, 3 and 6
    assert all((o[:12, :12] == (40, 80, 200)).all() for o in frames)  # the tracked face keeps its backdrop
