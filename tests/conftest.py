"""Shared fixtures: tiny synthetic datasets and a tiny, fast training config (CPU only)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artifygan.config import Config, load_config
from artifygan.demo import synthetic_cartoon, synthetic_photo

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARTIFYGAN_SHARED", REPO.parent / "shared"))

TINY_OVERRIDES = [
    "data.size=32", "data.num_workers=0", "train.batch_size=2", "train.log_every=1", "train.sample_every=2",
    "train.snapshot_every=2", "train.checkpoint_every=2", "train.n_samples=2", "train.device=cpu",
    "model.generator_args.ch=8", "model.generator_args.n_blocks=1", "model.discriminator_args.base_ch=8",
    "model.content=vgg19", "model.content_args.pretrained=false", "model.content_args.layer=relu2_2",
]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """8 synthetic photos and 8 synthetic cartoons at 40×40 (PNG)."""
    root = tmp_path_factory.mktemp("tinydata")
    rng = np.random.default_rng(0)
    for sub, fn in (("photos", synthetic_photo), ("cartoons", synthetic_cartoon)):
        (root / sub).mkdir()
        for i in range(8):
            fn(rng, 40).save(root / sub / f"{i:02d}.png")
    return root


def tiny_config(data: Path, *extra: str) -> Config:
    return load_config(None, [f"data.photos={data / 'photos'}", f"data.cartoons={data / 'cartoons'}",
                              *TINY_OVERRIDES, *extra])


def random_rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


DATA = SHARED / "data"
MODELS = SHARED / "models"
YUNET = MODELS / "face_detection_yunet_2026may.onnx"
ANIME = MODELS / "lbpcascade_animeface.xml"


@pytest.fixture(autouse=True)
def _grabcut_backdrops(monkeypatch):
    """Styles' backdrops are cut with GrabCut in tests unless a test asks for the segmenter: the suite must
    not depend on (or try to download) MediaPipe's file. ``SEGMENTER_FILE`` is that file when it is here."""
    monkeypatch.setenv("ARTIFYGAN_SEGMENTER", "off")


@pytest.fixture(autouse=True)
def _no_detector_download(monkeypatch, tmp_path_factory):
    """The steps placed by faces (the default's clean face skin, a style's backdrop and eyes) find YuNet through
    $ARTIFYGAN_YUNET, the cache or a download: the suite never downloads. Unless the caller set the variable
    (or a test injects a detector or names a file), it points at a file that is not there, so those steps are
    off with their one warning, at once, whatever the network does."""
    if not os.environ.get("ARTIFYGAN_YUNET"):
        monkeypatch.setenv("ARTIFYGAN_YUNET", str(tmp_path_factory.getbasetemp() / "no-yunet.onnx"))
    if not os.environ.get("ARTIFYGAN_ANIME_CASCADE"):  # adapt's reference crops: whole pictures, as offline
        monkeypatch.setenv("ARTIFYGAN_ANIME_CASCADE", str(tmp_path_factory.getbasetemp() / "no-cascade.xml"))


def _segmenter_file() -> Path:
    from artifygan.hub import cache_dir
    from artifygan.segmenter import installed_mediapipe_file

    given = os.environ.get("ARTIFYGAN_TEST_SEGMENTER")
    if given:
        return Path(given)
    installed = installed_mediapipe_file()  # .ci/run installs mediapipe 0.10 without its dependencies
    if installed is not None and installed.is_file():
        return installed
    return cache_dir() / "selfie_segmentation.tflite"


SEGMENTER_FILE = _segmenter_file()


def need_shared(*paths: Path):
    """Skip (with the reason) when ../shared data or models are not on this machine."""
    missing = [str(p) for p in paths if not p.exists()]
    return pytest.mark.skipif(bool(missing), reason=f"shared data not available: {', '.join(missing)}")


def with_meta(src: Path, dst: Path, **entries) -> Path:
    """A copy of snapshot ``src`` at ``dst`` whose config.json has these top-level entries set (e.g. a
    recorded ``preprocess`` or ``postprocess``)."""
    import json
    import shutil

    shutil.copytree(src, dst)
    meta = json.loads((dst / "config.json").read_text())
    meta.update(entries)
    (dst / "config.json").write_text(json.dumps(meta))
    return dst


@pytest.fixture(scope="session")
def tiny_snapshot(tmp_path_factory) -> Path:
    """A tiny untrained light generator saved as a snapshot (fast, deterministic)."""
    import torch

    from artifygan.models import GENERATORS, save_generator

    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    return save_generator(g, "light", tmp_path_factory.mktemp("model") / "snap")
