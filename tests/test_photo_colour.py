"""The photo's colours outside the skin (artifygan.photo_colour), a postprocess that few-shot styles record."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.models.snapshot import SnapshotError
from artifygan.photo_colour import PhotoColour, _join, _split, apply_photo_colour, recorded_photo_colour

from .conftest import with_meta


def test_luma_and_chroma_split_and_join_exactly_as_pils_ycbcr():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1  # not the global RNG
    y, c = _split(x)
    assert torch.allclose(_join(y, c), x, atol=1e-5)
    rgb = ((x[0] + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    pil = np.asarray(Image.fromarray(rgb).convert("YCbCr"), np.float32)
    y8, c8 = _split(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1)
    # within PIL's rounding: one level, plus float32 error (it depended on the draw before it was seeded)
    assert np.abs((y8[0, 0].numpy() + 1) * 127.5 - pil[..., 0]).max() <= 1.001
    assert np.abs(c8[0].permute(1, 2, 0).numpy() * 127.5 + 128 - pil[..., 1:]).max() <= 1.001


def test_the_output_keeps_its_luma_and_takes_the_photos_colour_scaled_by_the_gain():
    out = torch.zeros(1, 3, 16, 16)  # mid grey: all luma, no colour
    photo = torch.tensor([0.3, -0.1, -0.2]).view(1, 3, 1, 1).expand(1, 3, 16, 16).clone()  # a plain red-brown
    got = apply_photo_colour(out, photo, PhotoColour(gain=1.0, skin=False))
    y_got, c_got = _split(got)
    c_photo = _split(photo)[1]
    assert torch.allclose(y_got, torch.zeros_like(y_got), atol=1e-5)  # the style's luminance
    assert torch.allclose(c_got, c_photo, atol=1e-5)  # the photo's colour
    doubled = _split(apply_photo_colour(out, photo, PhotoColour(gain=2.0, skin=False)))[1]
    assert torch.allclose(doubled, 2 * c_photo, atol=1e-5)


def test_skin_keeps_the_outputs_own_colour():
    """A photo whose centre is skin-coloured (the skin seed) and whose border is blue: the output's colour
    stays on the skin, the photo's comes back on the blue border."""
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:] = (100, 120, 160)
    rgb[16:48, 16:48] = (224, 172, 140)  # skin
    photo = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    out = torch.tensor([0.2, 0.0, -0.2]).view(1, 3, 1, 1).expand(1, 3, 64, 64).clone()  # a warm flat style
    got = apply_photo_colour(out, photo, PhotoColour(gain=1.0))
    c_out, c_photo, c_got = _split(out)[1], _split(photo)[1], _split(got)[1]
    assert torch.allclose(c_got[..., 32, 32], c_out[..., 32, 32], atol=0.02)  # skin: the style's colour
    assert torch.allclose(c_got[..., 2, 2], c_photo[..., 2, 2], atol=0.02)  # background: the photo's
    assert torch.allclose(_split(got)[0], _split(out)[0], atol=1e-4)  # luma untouched everywhere


def test_a_snapshot_that_records_it_applies_it_on_every_backend_and_bad_settings_name_the_file(tiny_snapshot,
                                                                                                 tmp_path):
    snap = with_meta(tiny_snapshot, tmp_path / "styled", postprocess={"photo_colour": {"gain": 1.0, "skin": False}})
    photo = Image.fromarray(np.random.default_rng(3).integers(90, 166, (40, 40, 3), dtype=np.uint8))  # no clipping
    plain = np.asarray(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")(photo), np.float32)
    outs = {}
    for backend in ("torch", "onnx"):
        if backend == "onnx":
            pytest.importorskip("onnxruntime")
        cz = Cartoonizer.from_pretrained(snap, device="cpu", backend=backend)
        assert cz.photo_colour == PhotoColour(gain=1.0, skin=False)
        outs[backend] = np.asarray(cz(photo), np.float32)
    styled = outs["torch"]
    lum = np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(styled @ lum - plain @ lum).mean() < 2.0  # the model's lines and shading
    cb = lambda a: 0.564 * (a[..., 2] - a @ lum)  # noqa: E731
    assert np.corrcoef(cb(styled).ravel(), cb(np.asarray(photo, np.float32)).ravel())[0, 1] > 0.9  # photo's colour
    if "onnx" in outs:
        assert np.abs(outs["onnx"] - styled).max() <= 2
    bad = with_meta(tiny_snapshot, tmp_path / "bad", postprocess={"photo_colour": {"gain": -1}})
    with pytest.raises(SnapshotError, match=r"config.json: postprocess.photo_colour: .*gain"):
        Cartoonizer.from_pretrained(bad, device="cpu")
    assert recorded_photo_colour({}) is None and recorded_photo_colour({"postprocess": {}}) is None
    with pytest.raises(ValueError, match="unknown photo_colour setting"):
        recorded_photo_colour({"postprocess": {"photo_colour": {"hue": 1}}})
    with pytest.raises(ValueError, match="skin must be true or false, got 'false'"):  # bool("false") was True
        recorded_photo_colour({"postprocess": {"photo_colour": {"skin": "false"}}})
