"""Black-and-white photos give black-and-white cartoons (the network alone tints them)."""

import numpy as np
import pytest
from PIL import Image

from artifygan import Cartoonizer
from artifygan.cli import main
from artifygan.imageio import is_grey


@pytest.fixture(scope="module")
def snapshot(tiny_snapshot):
    return tiny_snapshot


def grey_photo(noise: float = 0.0, seed: int = 0) -> Image.Image:
    """A grey ramp with a dark disc; ``noise``: independent per-channel noise (JPEG chroma error)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64]
    g = 60.0 + 2.5 * x
    g[(y - 24) ** 2 + (x - 32) ** 2 < 100] = 30.0
    a = np.repeat(g[..., None], 3, axis=2) + rng.normal(0, noise, (48, 64, 3))
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def spread(img: Image.Image) -> int:
    a = np.asarray(img.convert("RGB"), dtype=np.int16)
    return int((a.max(axis=2) - a.min(axis=2)).max())


def test_grey_pictures_are_told_from_toned_and_colour_ones():
    assert is_grey(grey_photo())
    assert is_grey(grey_photo(noise=1.5))  # chroma noise of a re-saved JPEG
    assert is_grey(grey_photo().convert("L"))  # any mode
    sepia = np.asarray(grey_photo(), dtype=np.float64) * np.array([1.0, 0.85, 0.65])
    assert not is_grey(Image.fromarray(sepia.astype(np.uint8)))
    colour = np.asarray(grey_photo()).copy()
    colour[:, :8] = (200, 40, 40)  # an eighth of the picture in red
    assert not is_grey(Image.fromarray(colour))


def test_a_grey_photo_comes_back_grey_and_a_colour_one_keeps_its_colours(snapshot):
    tinted = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch", keep_grey=False)
    kept = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch")
    photo = grey_photo(noise=1.0)
    raw = tinted(photo)
    assert spread(raw) > 10  # the untrained network tints grey input: the case this guards
    out = kept(photo)
    assert out.size == photo.size and spread(out) == 0
    expect = np.asarray(raw.convert("L"), dtype=np.int16)
    assert np.abs(np.asarray(out, dtype=np.int16)[..., 0] - expect).max() == 0  # the tinted output's luminance
    colour = np.asarray(grey_photo()).copy()
    colour[:, :8] = (200, 40, 40)
    assert np.array_equal(np.asarray(kept(Image.fromarray(colour))), np.asarray(tinted(Image.fromarray(colour))))


def test_alpha_survives_and_the_cli_writes_grey(snapshot, tmp_path):
    rgba = grey_photo().convert("RGBA")
    alpha = np.zeros((48, 64), np.uint8)
    alpha[8:40, 8:56] = 255
    rgba.putalpha(Image.fromarray(alpha))
    out = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch")(rgba)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out.getchannel("A")), alpha)
    assert spread(out.convert("RGB")) == 0
    src = tmp_path / "bw.png"
    grey_photo().save(src)
    for flags, grey in (([], True), (["--colour-grey-photos"], False)):
        dst = tmp_path / f"out{len(flags)}"
        assert main(["translate", str(src), "-o", str(dst), "-m", str(snapshot), "--mode", "whole",
                     "--device", "cpu", *flags]) == 0
        written = Image.open(next(dst.iterdir()))
        assert (spread(written) == 0) is grey
