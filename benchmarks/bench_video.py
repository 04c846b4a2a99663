"""Video figures: flicker with and without temporal stabilisation, and end-to-end frames/s at 480p/720p.

    python benchmarks/bench_video.py [--frames 48] [--model SNAPSHOT] [--skip-speed] [--skip-flicker]
        [--batch N] [--modes whole face-cartoon face-keep]

Flicker: a "static camera" clip (a still group photo of real faces + fresh sensor noise σ=2 per frame,
so the detector jitters like it does on real footage); flicker = mean |out_t − out_{t−1}| over pixels whose
input changed by < 2 grey levels (0–255), lower is steadier. Speed: ``artifygan video`` end to end (decode,
translate with onnxruntime on CPU, encode H.264) on a generated clip. Needs ../shared (faces, YuNet).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image

from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.inference.temporal import flicker
from artifygan.inference.video import FrameTranslator, VideoOptions, translate_video
from artifygan.inference.wild import WildCartoonizer, WildOptions

SHARED = Path(os.environ.get("ARTIFYGAN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
YUNET = SHARED / "models" / "face_detection_yunet_2026may.onnx"
SELFIES = SHARED / "data" / "selfie2anime" / "trainA"
CELEBA = SHARED / "data" / "celeba" / "img_align_celeba_half"


def scene(w: int, h: int) -> np.ndarray:
    """Two real faces on a smooth background, like a video call of two people."""
    rng = np.random.default_rng(0)
    bg = Image.fromarray(rng.integers(60, 200, (h // 16, w // 16, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    a = Image.open(sorted(SELFIES.glob("*.jpg"))[5]).convert("RGB").resize((h // 2, h // 2))
    b = Image.open(CELEBA / "000020.jpg").convert("RGB").resize((int(h * 0.36), int(h * 0.44)))
    bg.paste(a, (w // 8, h // 4))
    bg.paste(b, (w // 2 + w // 10, h // 5))
    return np.asarray(bg)


def noisy_frames(base: np.ndarray, n: int, sigma: float = 2.0) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def flicker_table(cz: Cartoonizer, n: int) -> None:
    frames = noisy_frames(scene(640, 360), n)
    print(f"\nflicker on a still 640×360 clip, {n} frames, sensor noise σ=2 (lower is steadier)\n")
    print("| mode | face tracking smooth | deflicker | flicker (grey levels) |")
    print("|---|---|---|---|")
    raw = flicker(frames, frames)
    print(f"| input itself | – | – | {raw:.2f} |")
    for mode, smooth, defl in [("face", 0.0, 0.0), ("face", 0.7, 0.0), ("face", 0.7, 0.5), ("whole", 0.0, 0.0),
                               ("whole", 0.0, 0.5)]:
        wild = WildCartoonizer(cz, WildOptions(mode=mode, background="cartoon"), yunet=str(YUNET))
        ft = FrameTranslator(wild, VideoOptions(smooth=smooth, deflicker=defl))
        outs = [o for f in frames for o in ft([f])]
        print(f"| {mode} | {smooth if mode == 'face' else '–'} | {defl or 'off'} | {flicker(frames, outs):.2f} |")


def write_clip(path: Path, w: int, h: int, n: int) -> None:
    base = scene(w, h)
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=Fraction(30))
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    for i, f in enumerate(noisy_frames(base, n)):
        f = np.roll(f, i, axis=1)  # a slow pan
        out.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
    out.mux(v.encode())
    out.close()


MODES = {"whole": ("whole", "–"), "face-cartoon": ("face", "cartoon"), "face-keep": ("face", "keep")}


def speed_table(model: str | None, n: int, batch: int | None = None, modes: tuple[str, ...] = tuple(MODES)) -> None:
    print(f"\n`artifygan video` end to end (decode + translate + H.264 encode), {n} frames, "
          f"{torch.get_num_threads()} threads, whole-mode batch {batch or 'the CLI default (1 on the CPU)'}\n")
    print("| resolution | mode | background | backend | frames/s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (w, h) in (("480p", (854, 480)), ("720p", (1280, 720))):
            src = Path(tmp) / f"{name}.mp4"
            write_clip(src, w, h, n)
            for mode, bg in (MODES[m] for m in modes):
                cz = Cartoonizer.from_pretrained(model, device="cpu", batch_size=batch)  # None: the CLI's
                wild = WildCartoonizer(cz, WildOptions(mode=mode, background=bg if bg != "–" else "cartoon"),
                                       yunet=str(YUNET))
                translate_video(wild, src, Path(tmp) / "warm.mp4", VideoOptions(max_frames=2), progress=False,
                                overwrite=True)  # the benchmark's own scratch files, rewritten per row
                t0 = time.perf_counter()
                r = translate_video(wild, src, Path(tmp) / "out.mp4", progress=False, overwrite=True)
                fps = r.frames / (time.perf_counter() - t0)
                print(f"| {name} ({w}×{h}) | {mode} | {bg} | {cz.backend} | {fps:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--model", help="snapshot (default: the bundled model)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-flicker", action="store_true")
    ap.add_argument("--batch", type=int, help="whole mode: frames per forward pass (default: the CLI's)")
    ap.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = ap.parse_args()
    for p in (YUNET, SELFIES, CELEBA):
        if not p.exists():
            raise SystemExit(f"needs {p} (../shared)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    if not args.skip_flicker:
        flicker_table(Cartoonizer.from_pretrained(args.model, device="cpu"), args.frames)
    if not args.skip_speed:
        speed_table(args.model, args.frames, args.batch, tuple(args.modes))


if __name__ == "__main__":
    main()
