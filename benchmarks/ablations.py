"""Ablation table for the default model: one recipe, one change per row, the same budget for each.

Every variant trains from scratch on the default model's recipe (``configs/selfie2anime_light.yaml``)
plus its own overrides, for the same number of images (steps × batch), and all are then scored together
by ``artifygan evaluate`` on the held-out split (KID/FID against held-out anime faces, faces kept).
The budget is small on purpose so that the table fits in a CPU session; the printed table says what
it was. Rerunning continues unfinished runs from their training state and skips finished ones.

    python benchmarks/ablations.py                  # train what is missing, then evaluate
    python benchmarks/ablations.py --only light no-edge --eval-only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RECIPE = Path("configs/selfie2anime_light.yaml")
# The recipe's content weight is 1.0 since step 2500 of the default run; ablations use it from the start.
COMMON = ["loss.content=1.0", "train.sample_every=200", "train.snapshot_every=400", "train.checkpoint_every=100"]
# Extras: weights chosen so that each term is about a third of the content term at the start of training
# (raw values at 64²: content 0.46, Gram 0.0015, YUV colour 0.087, TV 0.14).
EXTRAS = ["loss.style=100", "loss.color=2.0", "loss.tv=0.2"]
# Random VGG19 conv4_4 features are ~6e4 times smaller than Inception mixed_2 ones (L1 between photos and
# their 5×5 blur: 5.5e-6 vs 0.33), so its weight is scaled by that ratio to keep the same pull.
VGG_RANDOM = ["model.content=vgg19", "model.content_args={layer: conv4_4, pretrained: false}",
              "loss.content=6e4"]
VARIANTS: dict[str, list[str]] = {
    "light": [],
    "cartoongan": ["model.generator=cartoongan"],
    "no-edge": ["loss.edge_promoting=false"],
    "animegan-extras": EXTRAS,
    "vgg19-random": VGG_RANDOM,
    # the GPU-speed issue's generator against `light`, same data, losses and images seen
    "fast": ["model.generator=fast"],
    # ... and with the fast recipe's 16-channel discriminator (a quarter of the D's cost on a CPU)
    "fast-d16": ["model.generator=fast", "model.discriminator_args={base_ch: 16, norm: layer, spectral_norm: true}"],
    # issue 13: White-box's surface discriminator (guided-filter surfaces) beside the main one, from the start
    "surface": ["loss.surface=1.0"],
}


def run_dir(root: Path, name: str) -> Path | None:
    hits = sorted(root.glob(f"[0-9][0-9][0-9][0-9][0-9]-{name}"))
    return hits[-1] if hits else None


def snapshot(root: Path, name: str, steps: int) -> Path | None:
    d = run_dir(root, name)
    s = d / "snapshots" / f"step_{steps:07d}" if d else None
    return s if s is not None and s.is_dir() else None


def train(root: Path, name: str, steps: int, init_steps: int, size: int, extra: tuple[str, ...] = ()) -> None:
    if snapshot(root, name, steps):
        print(f"{name}: done", flush=True)
        return
    d = run_dir(root, name)
    cmd = [sys.executable, "-m", "artifygan", "train", "--stop-at-step", str(steps), "--no-progress"]
    if d is not None and (d / "training_state.pt").is_file():
        cmd += ["--resume", str(d)]
    else:
        cmd += ["-c", str(RECIPE), "--run-root", str(root), "--name", name, f"data.size={size}",
                f"train.init_steps={init_steps}", *COMMON, *extra, *VARIANTS[name]]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def wall_minutes(root: Path, name: str) -> float:
    """Training time summed over resumed chunks (stats rows carry time since each chunk's start)."""
    d = run_dir(root, name)
    total, last = 0.0, 0.0
    for line in (d / "stats.jsonl").read_text().splitlines() if d else []:
        t = json.loads(line).get("time_s", 0.0)
        if t < last:
            total += last
        last = t
    return (total + last) / 60


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1200, help="budget per variant, steps of batch 8")
    p.add_argument("--init-steps", type=int, default=200, help="content-only steps within the budget")
    p.add_argument("--size", type=int, default=64, help="training size")
    p.add_argument("--process-size", type=int, default=128, help="evaluation: translate at this size")
    p.add_argument("--root", type=Path, default=Path("runs/ablations"))
    p.add_argument("--photos", type=Path, default=Path("data/s2a_256/val/photos"))
    p.add_argument("--reference", type=Path, default=Path("data/s2a_256/val/cartoons"))
    p.add_argument("--out", type=Path, default=Path("reports/ablations"))
    p.add_argument("--yunet", help="YuNet .onnx for the faces-kept column (else $ARTIFYGAN_YUNET, cache, URL)")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--no-baselines", action="store_true", help="skip evaluate's identity / untrained rows")
    p.add_argument("--eval-only", action="store_true")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="overrides for every variant, e.g. data.smoothed=[] (smooth on the fly) when the "
                        "prepared data has no smoothed folder")
    args = p.parse_args()
    for path in (args.photos, args.reference):
        if not path.is_dir():
            sys.exit(f"{path}: not found; prepare the data first (commands in {RECIPE})")
    args.root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not args.eval_only:
        for name in args.only:
            train(args.root, name, args.steps, args.init_steps, args.size, tuple(args.set))
    models = [f"{n}={s}" for n in args.only if (s := snapshot(args.root, n, args.steps))]
    cmd = [sys.executable, "-m", "artifygan", "evaluate", "--photos", str(args.photos), "--reference",
           str(args.reference), "-o", str(args.out), "--process-size", str(args.process_size), "-q",
           "--overwrite"]  # the script's own report folder: --eval-only rescoring replaces its last report
    for m in models:
        cmd += ["-m", m]
    if args.yunet:
        cmd += ["--yunet", args.yunet]
    if args.no_baselines:
        cmd.append("--no-baselines")
    subprocess.run(cmd, check=True)
    print(f"\nbudget: {args.steps} steps × batch 8 at {args.size}² ({args.init_steps} content-only), "
          f"translated at {args.process_size} for evaluation; wall time per variant (min): "
          + ", ".join(f"{n} {wall_minutes(args.root, n):.1f}" for n in args.only)
          + f"; this call {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
