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


def test_black_and_white_references_make_a_grey_style_that_keeps_no_photo_colours():
    from artifygan.photo_colour import references_grey
    from artifygan.styles import AdaptConfig
    from artifygan.styles.postprocess import style_grey, style_postprocess

    bw = [grey_photo(noise=1.5, seed=s) for s in range(3)]  # pencil sketches, saved as JPEG
    colour = np.asarray(grey_photo()).copy()
    colour[:, :8] = (200, 40, 40)
    coloured = [Image.fromarray(colour)] * 2
    assert references_grey(bw + coloured) == 0.6 and references_grey(coloured) == 0.0
    measured: dict = {}
    assert style_grey(AdaptConfig(), bw + coloured, measured) and measured == {"grey_share": 0.6}
    assert not style_grey(AdaptConfig(), bw[:2] + coloured)  # half is not most
    assert style_grey(AdaptConfig(grey="on"), coloured) and not style_grey(AdaptConfig(grey="off"), bw)
    keep = dict(background="keep", eyes="off")
    assert style_postprocess(AdaptConfig(**keep), bw) == {"postprocess": {"grey": True}}  # no photo_colour
    assert style_postprocess(AdaptConfig(**keep), coloured) == {
        "postprocess": {"photo_colour": {"gain": 1.25, "skin": True}}}
    with pytest.raises(ValueError, match="grey: must be one of auto, on, off"):
        AdaptConfig(grey="maybe")


def test_a_grey_style_greys_colour_photos_on_every_surface_and_a_bad_entry_names_the_file(snapshot, tmp_path):
    from artifygan.inference.video import FrameTranslator
    from artifygan.inference.wild import WildCartoonizer, WildOptions
    from artifygan.models.snapshot import SnapshotError

    from .conftest import with_meta

    styled = with_meta(snapshot, tmp_path / "pencil", postprocess={"grey": True})
    colour = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    plain = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch")(Image.fromarray(colour))
    assert spread(plain) > 10
    for keep_grey in (True, False):  # the user's choice for grey photos does not undo the style's own
        cz = Cartoonizer.from_pretrained(styled, device="cpu", backend="torch", keep_grey=keep_grey)
        assert cz.grey_style
        out = cz(Image.fromarray(colour))
        assert spread(out) == 0  # grey, and the plain model's luminance
        assert np.abs(np.asarray(out, np.int16)[..., 0] - np.asarray(plain.convert("L"), np.int16)).max() == 0
    whole = WildCartoonizer(cz, WildOptions(mode="whole"))
    assert spread(whole(Image.fromarray(colour)).image) == 0
    frames = FrameTranslator(whole)([colour, colour])
    assert max(spread(Image.fromarray(f)) for f in frames) == 0
    src = tmp_path / "colour.png"
    Image.fromarray(colour).save(src)
    assert main(["translate", str(src), "-o", str(tmp_path / "out"), "-m", str(styled), "--mode", "whole",
                 "--device", "cpu"]) == 0
    assert spread(Image.open(tmp_path / "out" / "colour.png")) == 0
    bad = with_meta(snapshot, tmp_path / "bad", postprocess={"grey": "yes"})
    with pytest.raises(SnapshotError, match=r"config.json: postprocess.grey must be true or false"):
        Cartoonizer.from_pretrained(bad, device="cpu")
