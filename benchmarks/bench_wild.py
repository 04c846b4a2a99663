"""Photos in the wild: peak memory and time for a 4000×3000 photo (whole mode tiled at full resolution,
whole mode at the default --max-side, face mode on a group photo), each in a fresh process.

    python benchmarks/bench_wild.py [--model SNAPSHOT]

Peak memory is the process's maximum resident set (ru_maxrss), model and runtime included; the
"after load" column is the same process right after loading the model, before any image.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

SHARED = Path(os.environ.get("ARTIFYGAN_SHARED", Path(__file__).resolve().parents[2] / "shared"))
YUNET = SHARED / "models" / "face_detection_yunet_2026may.onnx"
SELFIES = SHARED / "data" / "selfie2anime" / "trainA"

CHILD = r"""
import json, resource, sys, time
import numpy as np
from PIL import Image, ImageFilter
from artifygan import Cartoonizer
from artifygan.inference.wild import WildCartoonizer, WildOptions
model, mode, max_side, yunet, selfies = sys.argv[1:6]
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cz = Cartoonizer.from_pretrained(None if model == "-" else model, device="cpu", max_side=int(max_side))
wild = WildCartoonizer(cz, WildOptions(mode=mode), yunet=yunet)
rng = np.random.default_rng(0)
img = Image.fromarray(rng.integers(0, 255, (94, 125, 3), dtype=np.uint8)).resize((4000, 3000), Image.BICUBIC)
faces = sorted(__import__("pathlib").Path(selfies).glob("*.jpg"))[:4]
for i, f in enumerate(faces):  # four people, 300-700 px faces
    side = 300 + 130 * i
    img.paste(Image.open(f).convert("RGB").resize((side, side)), (200 + 900 * i, 600 + 200 * (i % 2)))
loaded = rss()
t0 = time.perf_counter()
r = wild(img)
print(json.dumps({"after_load_mb": loaded, "peak_mb": rss(), "seconds": time.perf_counter() - t0,
                  "faces": sum(f.translated for f in r.faces), "size": r.image.size}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="-", help="snapshot (default: the bundled model)")
    args = ap.parse_args()
    if not (YUNET.exists() and SELFIES.exists()):
        raise SystemExit(f"needs {YUNET} and {SELFIES} (../shared)")
    print("| 4000×3000 photo | net resolution | after load (MB) | peak RSS (MB) | seconds | faces |")
    print("|---|---|---|---|---|---|")
    for mode, max_side, label in (("whole", 0, "4000×3000, 1024² tiles"), ("whole", 1536, "1536×1152"),
                                  ("face", 1536, "faces 256², background 1536×1152")):
        out = subprocess.run([sys.executable, "-c", CHILD, args.model, mode, str(max_side), str(YUNET),
                              str(SELFIES)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {mode} | {label} | {r['after_load_mb']:.0f} | {r['peak_mb']:.0f} | {r['seconds']:.1f} | "
              f"{r['faces']} |")


if __name__ == "__main__":
    main()
