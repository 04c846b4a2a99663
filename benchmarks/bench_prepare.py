"""Preparation throughput on this machine: face crops (YuNet detect + eye alignment) and
edge-smoothed cartoons, in prepared images per second, through the real `prepare` function.

    python benchmarks/bench_prepare.py [--n 400] [--workers 2] [--data ../shared/data/selfie2anime]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from artifygan.data.prepare import PrepareOptions, prepare
from artifygan.data.sources import ReaderOptions, read_sources

HERE = Path(__file__).resolve().parent


def run(spec: str, n: int, workers: int, yunet: str, size: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        read = read_sources([spec], ReaderOptions(limit=n))
        t0 = time.perf_counter()
        prepare(read, tmp, PrepareOptions(size=size, yunet=yunet, workers=workers), progress=False)
        return len(read.items) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared/data/selfie2anime")
    ap.add_argument("--yunet", default=str(HERE.parent.parent / "shared/models/face_detection_yunet_2026may.onnx"))
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    if not (a.data / "trainA").is_dir():
        raise SystemExit(f"{a.data}: expected trainA/ and trainB/ (selfie2anime layout)")
    print(f"{os.cpu_count()} cores, {a.workers} workers, {a.n} images per task, output {a.size}²")
    print("| task | prepared img/s |\n|---|---|")
    faces = run(f"photos:{a.data / 'trainA'}", a.n, a.workers, a.yunet, a.size)
    cartoons = run(f"cartoons:{a.data / 'trainB'}", a.n, a.workers, a.yunet, a.size)
    print(f"| face crop (YuNet + align, photos) | {faces:.1f} |")
    print(f"| edge-smoothed cartoons (resize + smooth) | {cartoons:.1f} |")

if __name__ == "__main__":
    main()
