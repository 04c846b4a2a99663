"""The README's main job.

Default: cartoonize the bundled example photo(s) with the bundled default model. ``--train`` (or an
install without a bundled model) runs the pipeline demo instead: it finds selfie2anime-style data
(photos in trainA/, cartoons in trainB/) or makes a tiny synthetic set, trains the light generator for a
few steps and cartoonizes one held-out photo with the result.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .imageio import list_images, save_image

SHARED_CANDIDATES = ("../shared/data/selfie2anime", "shared/data/selfie2anime")
MARKER = ".artifygan-demo"  # in a folder the demo made: a later demo may empty it; no other folder is touched


def own_folder(path: Path) -> Path:
    """An empty folder the demo may fill: ``path`` when it is new or an earlier demo's (it holds ``MARKER``),
    else an earlier demo's sibling ``path.name-XXXXXX``, else a new one: a user's folder of that name (their
    data, even the data the demo reads) is never emptied or written into."""
    if path.is_symlink() or (path.exists() and not (path / MARKER).is_file()):
        earlier = sorted(p for p in path.parent.glob(f"{glob.escape(path.name)}-" + "[0-9a-f]" * 6)
                         if p.is_dir() and not p.is_symlink() and (p / MARKER).is_file())
        if earlier:  # an earlier demo's sibling: refilled, so runs do not pile up new folders
            path = earlier[0]
        else:
            while True:  # a plain mkdir honours the umask (mkdtemp would make it 0700)
                sibling = path.with_name(f"{path.name}-{secrets.token_hex(3)}")
                try:
                    sibling.mkdir()
                    break
                except FileExistsError:
                    continue
            path = sibling
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by `artifygan demo`; a later demo empties and refills this folder\n")
    return path


def find_data(data: Path | None) -> Path | None:
    """--data, then $ARTIFYGAN_DATA, then ../shared/data/selfie2anime; None → make synthetic data."""
    for cand in (data, os.environ.get("ARTIFYGAN_DATA"), *SHARED_CANDIDATES):
        if cand and (Path(cand) / "trainA").is_dir() and (Path(cand) / "trainB").is_dir():
            return Path(cand)
    if data is not None:
        raise FileNotFoundError(f"{data}: expected trainA/ (photos) and trainB/ (cartoons) inside")
    return None


def synthetic_photo(rng: np.random.Generator, size: int = 128) -> Image.Image:
    """Smooth shading and a face-like ellipse with noise: photo statistics, no hard outlines."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(60, 200, 3)
    img = base + 50 * np.stack([xx, yy, xx * yy], -1) + rng.normal(0, 6, (size, size, 3))
    cy, cx, r = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.2, 0.3)
    face = ((xx - cx) ** 2 + ((yy - cy) / 1.3) ** 2) < r**2
    img[face] = img[face] * 0.5 + np.array([220, 180, 150]) * 0.5
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def synthetic_cartoon(rng: np.random.Generator, size: int = 128) -> Image.Image:
    """Flat colour regions with dark outlines: the texture a cartoon discriminator looks for."""
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(150, 255, 3)))
    d = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = rng.integers(0, size // 2, 2)
        w, h = rng.integers(size // 6, size // 2, 2)
        d.ellipse([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=tuple(int(v) for v in rng.integers(0, 255, 3)),
                  outline=(20, 20, 20), width=2)
    return img


def make_synthetic(root: Path, n: int = 32, size: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    for sub, fn in (("trainA", synthetic_photo), ("trainB", synthetic_cartoon)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            save_image(fn(rng) if size is None else fn(rng, size), root / sub / f"{i:04d}.png")
    return root


def run_demo(data: Path | None, out: Path, steps: int = 30, n_train: int = 64) -> Path:
    from .config import load_config
    from .inference.batch import translate_paths
    from .inference.cartoonizer import Cartoonizer
    from .training.loop import train

    out = Path(out)
    src = find_data(data)
    if src is None:
        print("no selfie2anime data found: making a tiny synthetic set")
        src = make_synthetic(own_folder(out / "synthetic"))
    photos, cartoons = list_images([src / "trainA"], False), list_images([src / "trainB"], False)
    if len(photos) < 2 or not cartoons:  # one photo is held out: training needs another, and a cartoon
        raise ValueError(f"{src}: the demo needs at least 2 photos in trainA/ and 1 cartoon in trainB/ "
                         f"(found {len(photos)} and {len(cartoons)})")
    # A small subset keeps the demo to about a minute on 2 CPU cores; the last photo is held out.
    subset = own_folder(out / "data")
    for name, files in (("photos", photos[: min(n_train, len(photos) - 1)]), ("cartoons", cartoons[:n_train])):
        (subset / name).mkdir(parents=True)
        for f in files:
            shutil.copyfile(f, subset / name / f.name)
    held_out = photos[-1]
    print(f"training data: {src} ({min(n_train, len(photos) - 1)} photos, {min(n_train, len(cartoons))} cartoons)")
    cfg = load_config(None, [
        f"data.photos={subset / 'photos'}", f"data.cartoons={subset / 'cartoons'}", "data.size=128",
        "data.num_workers=0", "train.batch_size=4", f"train.init_steps={max(1, steps // 3)}",
        f"train.adv_steps={steps - max(1, steps // 3)}", "train.log_every=5", f"train.sample_every={steps}",
        f"train.snapshot_every={steps}", f"train.checkpoint_every={steps}", "train.n_samples=4",
    ])
    run = train(cfg, run_root=out / "runs", name="demo")
    cz = Cartoonizer.from_pretrained(run)
    report = translate_paths(cz, [held_out], own_folder(out / "translated"), ext=".png", progress=False)
    if report.failed:
        raise RuntimeError(report.failed[0][1])
    result = report.written[0]
    print(f"run folder:   {run} (config, log, stats.jsonl, samples/, snapshots/)")
    print(f"input photo:  {held_out}")
    print(f"cartoonized:  {result}")
    print("note: a few CPU steps only show the pipeline works; see README 'Train' for real runs.")
    return result


def cartoonize_examples(out: Path) -> list[Path]:
    """Translate the bundled example photos with the bundled default model; print where they went."""
    from .inference.batch import translate_paths
    from .inference.cartoonizer import Cartoonizer
    from .pretrained import default_model, example_photos

    model = default_model()
    cz = Cartoonizer.from_pretrained(model, resize=256)  # the model was trained on faces at 128–256 px
    # a folder of the demo's own (an earlier demo's is refilled; a user's "examples" is never written into)
    report = translate_paths(cz, example_photos(), own_folder(Path(out) / "examples"), ext=".png", progress=False)
    if report.failed:
        raise RuntimeError(report.failed[0][1])
    print(f"model:       {model} ({cz.meta.get('generator')}, backend {cz.backend})")
    for src, dst in zip(example_photos(), report.written, strict=True):
        print(f"cartoonized: {src.name} -> {dst}")
    return report.written
