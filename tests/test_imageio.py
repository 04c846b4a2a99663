import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artifygan.imageio import (
    ImageError,
    atomic_write_bytes,
    centre_square,
    decode_image,
    is_image,
    iter_images,
    load_image,
    save_image,
    show,
    to_rgb,
)

from .conftest import random_rgb


def test_modes_become_rgb(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk)  # pure red in CMYK
    img = load_image(cmyk)
    assert img.mode == "RGB" and img.size == (20, 10)
    r, g, b = img.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60

    p16 = tmp_path / "grey16.png"
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(p16)
    img = load_image(p16)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 255, 255)

    grey = tmp_path / "grey.png"
    Image.new("L", (8, 8), 100).save(grey)
    assert load_image(grey).getpixel((1, 1)) == (100, 100, 100)

    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(rgba)
    rgb, alpha = load_image(rgba, with_alpha=True)
    assert rgb.getpixel((0, 0)) == (255, 255, 255)  # transparent → white for the net
    assert alpha is not None and alpha.getpixel((0, 0)) == 0

    from artifygan.imageio import to_rgb

    rgb, alpha = to_rgb(Image.new("LA", (4, 4), (100, 128)).convert("La"))  # premultiplied: Pillow has no La → RGBA
    assert rgb.mode == "RGB" and alpha is not None and alpha.getpixel((0, 0)) == 128


def test_one_colour_marked_clear_is_transparent_in_every_png_mode(tmp_path):
    """PNG's tRNS on RGB, grey and 16-bit grey pictures (what PNG optimisers make of stickers) was read
    only for palettes: the clear band came out as an opaque green cartoon band."""
    a = np.full((8, 10, 3), 100, np.uint8)
    a[:3] = (0, 255, 0)
    g = np.full((8, 10), 50, np.uint8)
    g[:3] = 7
    g16 = np.full((8, 10), 5000, np.uint16)
    g16[:3] = 300
    for name, arr, key in (("rgb", a, (0, 255, 0)), ("l", g, 7), ("i16", g16, 300)):
        path = tmp_path / f"{name}.png"
        Image.fromarray(arr).save(path, transparency=key)
        rgb, alpha = load_image(path, with_alpha=True)
        assert alpha is not None and np.asarray(alpha)[:, 0].tolist() == [0] * 3 + [255] * 5, name
        assert rgb.getpixel((0, 0)) == (255, 255, 255) and rgb.getpixel((0, 5)) != (255, 255, 255)
    Image.fromarray(a).save(tmp_path / "odd.png", transparency=(0, 255, 0))
    img = Image.open(tmp_path / "odd.png")
    img.info["transparency"] = b"\x00\x01"  # not a value this mode holds: ignored, as viewers do
    assert to_rgb(img)[1] is None


def test_exif_orientation_applied(tmp_path):
    p = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    random_rgb(60, 40).save(p, exif=exif)
    assert load_image(p).size == (40, 60)
    from artifygan.imageio import read_input

    assert read_input(Image.open(p))[0].size == (40, 60)  # a PIL image opened by the caller: upright too


def test_content_not_extension(tmp_path):
    fake_jpg = tmp_path / "really_png.jpg"
    random_rgb(8, 8).save(fake_jpg, format="PNG")
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "noext").write_bytes(fake_jpg.read_bytes())
    assert is_image(fake_jpg) and not is_image(tmp_path / "notes.jpg")
    assert [p.name for p in iter_images(tmp_path)] == ["noext", "really_png.jpg"]
    assert load_image(fake_jpg).size == (8, 8)


@pytest.mark.parametrize("content, msg", [(b"", "not an image"), (b"hello", "not an image")])
def test_bad_files_name_the_file(tmp_path, content, msg):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=f"bad.jpg: {msg}"):
        load_image(p)


def test_truncated_and_missing(tmp_path):
    good = tmp_path / "good.jpg"
    random_rgb(64, 64).save(good, quality=95)
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ImageError, match="trunc.jpg"):
        load_image(trunc)
    with pytest.raises(ImageError, match="missing.png: file not found"):
        load_image(tmp_path / "missing.png")


def test_save_is_atomic_and_by_suffix(tmp_path):
    img = random_rgb(8, 8).convert("RGBA")
    save_image(img, tmp_path / "a" / "out.jpg")
    with Image.open(tmp_path / "a" / "out.jpg") as im:
        assert im.format == "JPEG"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["out.jpg"]  # no temp files left
    with pytest.raises(ImageError, match="unsupported output format"):
        save_image(img, tmp_path / "x.xyz")


def test_outputs_respect_the_umask_like_cp(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_image(random_rgb(8, 8), tmp_path / "out.png")
        atomic_write_bytes(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "out.png").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644


def test_250_character_file_name_can_be_written(tmp_path):
    name = "x" * 246 + ".png"  # 250 characters: a temporary name 14 longer would not fit (NAME_MAX 255)
    save_image(random_rgb(8, 8), tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_nan_float_tiff_is_one_clean_error(tmp_path, recwarn):
    p = tmp_path / "nan.tif"
    arr = np.zeros((4, 4), np.float32)
    arr[1, 1], arr[2, 2] = np.nan, np.inf
    Image.fromarray(arr, mode="F").save(p)
    with pytest.raises(ImageError, match=r"nan.tif: unreadable image \(.*NaN or infinite"):
        load_image(p)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no raw numpy warning


def test_odd_file_names_are_quoted_in_messages(tmp_path):
    p = tmp_path / "two\nlines.jpg"
    p.write_bytes(b"junk")
    with pytest.raises(ImageError) as err:
        load_image(p)
    assert "\n" not in str(err.value) and "two\\nlines.jpg" in str(err.value)
    assert show("plain name.jpg") == "plain name.jpg"


def test_animated_images_report_their_frames(tmp_path):
    frames = [random_rgb(16, 12, seed=i) for i in range(3)]
    for ext in ("gif", "webp"):
        frames[0].save(tmp_path / f"a.{ext}", save_all=True, append_images=frames[1:], duration=100)
        assert decode_image(tmp_path / f"a.{ext}").frames == 3
    frames[0].save(tmp_path / "still.gif")
    assert decode_image(tmp_path / "still.gif").frames == 1


def test_centre_square_crops_the_middle_and_resizes_only_when_asked():
    arr = np.zeros((20, 30, 3), np.uint8)
    arr[:, 5:25] = 255  # the centred 20×20 square is white, the side strips black
    img = Image.fromarray(arr)
    square = centre_square(img)
    assert square.size == (20, 20) and np.asarray(square).min() == 255
    assert centre_square(img, 20).tobytes() == square.tobytes()  # already that size: no resampling
    assert centre_square(img, 8).size == (8, 8)


def test_a_failed_write_names_the_file_asked_for_and_leaves_no_temporary(tmp_path):
    (tmp_path / "a.json").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OSError) as exc:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
    assert str(tmp_path / "a.json") in str(exc.value) and ".tmp" not in str(exc.value)
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_numpy_pictures_of_common_layouts_are_read_and_the_rest_named():
    from artifygan.imageio import ImageError, array_to_image, read_input

    grey = np.full((6, 8), 0.5, np.float32)
    assert np.asarray(array_to_image(grey)).tolist() == [[128] * 8] * 6  # float in [0, 1] → ×255
    assert array_to_image(np.full((6, 8, 3), 65535, np.uint16)).getpixel((0, 0)) == (255, 255, 255)
    assert array_to_image(np.full((6, 8, 3), 257 * 9, ">u2")).getpixel((0, 0)) == (9, 9, 9)  # big-endian
    assert array_to_image(np.zeros((6, 8, 1), np.uint8)).mode == "L"
    assert array_to_image(np.ones((6, 8), bool)).getpixel((0, 0)) == 255
    assert read_input(np.zeros((6, 8, 4), np.uint8))[1] is not None  # alpha kept
    for bad, said in [(np.zeros(10), "got shape (10,)"), (np.zeros((0, 0, 3), np.uint8), "got shape (0, 0, 3)"),
                      (np.zeros((3, 8, 8), np.float32), "channels first? use arr.transpose(1, 2, 0)"),
                      (np.full((4, 4, 3), 2.0), "must lie in [0, 1], got 2 to 2"),
                      (np.full((4, 4), np.nan), "NaN or infinite"), (np.zeros((4, 4), np.int64), "pixels of int64")]:
        with pytest.raises(ImageError, match=re.escape(said)):
            read_input(bad)
    with pytest.raises(ImageError, match=re.escape("the image is empty (0×10 pixels)")):
        read_input(Image.new("RGB", (0, 10)))


def test_a_picture_too_large_to_open_is_an_image_that_is_too_large(tmp_path):
    """A 60000² PNG header was listed as "not an image" (a 12000² one as "too large")."""
    import struct
    import zlib

    from artifygan.imageio import ImageError, decode_image, is_image

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    assert is_image(huge)
    with pytest.raises(ImageError, match="huge.png: image too large"):
        decode_image(huge)


def test_a_folder_that_cannot_be_written_is_said_before_any_work(tmp_path, monkeypatch):
    """evaluate and adapt found a read-only output folder only at their end (minutes of work lost, and
    adapt named its hidden temporary folder). root ignores modes, so the permission check is stood in for."""
    import os

    from artifygan.imageio import file_in_the_way
    from artifygan.metrics.evaluate import check_report_output
    from artifygan.styles.adapt import check_output

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != ro and real(p, mode))
    assert file_in_the_way(ro / "a" / "x.png", ro / "a") == \
        f"{ro / 'a' / 'x.png'}: cannot write: no permission on {ro} (or it is read-only)"
    assert file_in_the_way(ro / "x.png", ro, permission=False) is None  # reading a cache there is fine
    assert file_in_the_way(tmp_path / "x.png", tmp_path) is None
    with pytest.raises(ValueError, match="report: cannot write: no permission on"):
        check_report_output(ro / "report", [tmp_path / "photos"])
    from artifygan.styles import StyleError

    with pytest.raises(StyleError, match="style: cannot write: no permission on"):
        check_output(ro / "style")

