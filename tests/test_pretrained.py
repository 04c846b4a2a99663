"""The bundled default model and example photo: load, run on CPU, produce a real cartoon."""

import numpy as np
import pytest

from artifygan import Cartoonizer
from artifygan.pretrained import default_model, example_photos

pytestmark = pytest.mark.skipif(default_model() is None, reason="no default model bundled in this checkout")


def test_bundled_model_runs_on_cpu_and_changes_the_photo():
    cz = Cartoonizer.from_pretrained(device="cpu", resize=256)
    photo = example_photos()[0]
    from artifygan.imageio import load_image

    src = load_image(photo)
    out = cz(src)
    a, b = np.asarray(src, np.float32), np.asarray(out, np.float32)
    assert out.size == src.size
    assert b.std() > 10, "output must not be constant"
    assert np.abs(a - b).mean() > 2, "output must not be the input"
    assert np.corrcoef(a.mean(-1).ravel(), b.mean(-1).ravel())[0, 1] > 0.5, "the photo's structure must survive"


def test_bundled_model_is_small():
    cz = Cartoonizer.from_pretrained(device="cpu", backend="torch")
    assert sum(p.numel() for p in cz.generator.parameters()) <= 2_000_000
    assert sum(f.stat().st_size for f in default_model().iterdir()) <= 10 * 2**20


def test_cli_translate_without_model_uses_default(tmp_path, capsys):
    from artifygan.cli import main

    assert main(["translate", str(example_photos()[0]), "-o", str(tmp_path), "-q", "--mode", "whole"]) == 0
    assert (tmp_path / "astronaut.jpg").is_file()
