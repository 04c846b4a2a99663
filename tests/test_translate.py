"""Inference: the Cartoonizer and `artifygan translate` on awkward real-world inputs."""

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan import Cartoonizer
from artifygan.cli import main
from artifygan.commands.common import add_model_args, add_wild_args, build_wild
from artifygan.inference.cartoonizer import default_batch_size
from artifygan.models import GENERATORS, save_generator
from artifygan.models.snapshot import SnapshotError

from .conftest import random_rgb, with_meta


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    return save_generator(g, "light", tmp_path_factory.mktemp("model") / "snap")


def test_keeps_size_aspect_and_alpha(snapshot):
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu")
    for w, h in [(37, 23), (64, 64), (5, 3)]:
        assert cz(random_rgb(w, h)).size == (w, h)
    rgba = random_rgb(30, 20).convert("RGBA")
    rgba.putalpha(77)
    out = cz(rgba)
    assert out.mode == "RGBA" and out.getpixel((3, 3))[3] == 77
    assert cz(np.zeros((10, 12, 3), np.uint8)).size == (12, 10)


def test_batched_equals_single_and_resize_path(snapshot):
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", batch_size=3)
    imgs = [random_rgb(32, 24, seed=i) for i in range(4)] + [random_rgb(20, 20)]
    batched = cz.translate(imgs)
    single = [cz(im) for im in imgs]
    for a, b in zip(batched, single, strict=True):
        diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
        assert diff.max() <= 1
    small = Cartoonizer.from_pretrained(snapshot, device="cpu", max_side=16)
    assert small(random_rgb(64, 40)).size == (64, 40)  # processed at 16 px, returned at input size



def test_batch_size_defaults_to_one_on_the_cpu_and_follows_the_flag(snapshot, monkeypatch):
    assert default_batch_size(torch.device("cpu")) == 1  # measured fastest on the CPU (README, Performance)
    assert default_batch_size(torch.device("cuda")) == 4
    assert Cartoonizer.from_pretrained(snapshot, device="cpu").batch_size == 1
    assert Cartoonizer.from_pretrained(snapshot, device="cpu", batch_size=6).batch_size == 6
    seen = []
    real = Cartoonizer.__init__

    def spy(self, *a, **kw):
        real(self, *a, **kw)
        seen.append(self.batch_size)

    monkeypatch.setattr(Cartoonizer, "__init__", spy)
    for flags, want in (([], 1), (["--batch-size", "3"], 3)):
        parser = argparse.ArgumentParser()
        add_model_args(parser)
        add_wild_args(parser)
        build_wild(parser.parse_args(["-m", str(snapshot), "--device", "cpu", "--mode", "whole", *flags]))
        assert seen[-1] == want

def test_missing_model_is_clear(tmp_path, monkeypatch):
    import artifygan.pretrained as pretrained

    monkeypatch.setattr(pretrained, "DEFAULT_MODEL", tmp_path / "absent")
    with pytest.raises(SnapshotError, match="no default model"):
        Cartoonizer.from_pretrained(None)
    with pytest.raises(SnapshotError, match="nowhere"):
        Cartoonizer.from_pretrained(tmp_path / "nowhere")


def test_translate_folder_with_bad_and_awkward_files(snapshot, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    random_rgb(40, 30).save(src / "ok.jpg")
    random_rgb(24, 24).save(src / "png_named.jpg", format="PNG")
    Image.new("CMYK", (20, 16), (0, 255, 255, 0)).save(src / "sub" / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    random_rgb(60, 40).save(src / "rotated.jpg", exif=exif)
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (src / "readme.txt").write_text("ignored: not an image, no image suffix")
    out = tmp_path / "out"
    out.mkdir()
    (out / "ok.jpg").write_bytes(b"old")  # replaced as asked (--overwrite), atomically, never half-written

    rc = main(["translate", str(src), "-o", str(out), "-m", str(snapshot), "-q", "--device", "cpu",
               "--mode", "whole", "--overwrite"])
    captured = capsys.readouterr()
    assert rc == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "corrupt.jpg" in errors[0]
    assert "wrote 4 image(s)" in captured.out and "1 failed" in captured.out
    with Image.open(out / "ok.jpg") as im:
        assert im.size == (40, 30) and im.format == "JPEG"
    with Image.open(out / "rotated.jpg") as im:
        assert im.size == (40, 60)  # EXIF orientation honoured
    with Image.open(out / "sub" / "cmyk.jpg") as im:
        assert im.size == (20, 16) and im.mode == "RGB"
    assert (out / "png_named.jpg").is_file()
    assert not (out / "corrupt.jpg").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_translate_missing_input_reported(snapshot, tmp_path, capsys):
    rc = main(["translate", str(tmp_path / "nope.jpg"), "-o", str(tmp_path / "o"), "-m", str(snapshot), "-q",
               "--mode", "whole"])
    assert rc == 1 and "nope.jpg: no such file" in capsys.readouterr().err


def test_several_folders_and_name_clashes_do_not_overwrite(snapshot, tmp_path, capsys):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        random_rgb(24, 20, seed=ord(d)).save(tmp_path / d / "x.jpg")
    random_rgb(24, 20, seed=7).save(tmp_path / "a" / "x.png")  # x.jpg and x.png both want x.png
    out = tmp_path / "o"
    rc = main(["translate", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out), "-m", str(snapshot),
               "-q", "--mode", "whole", "--ext", "png"])
    err = capsys.readouterr().err
    assert rc == 1 and "already" in err and "x.png" in err  # the clash is reported, the rest written
    assert (out / "a" / "x.png").is_file() and (out / "b" / "x.png").is_file()
    assert not (out / "x.png").exists()


def test_missing_face_detector_is_one_clear_error(snapshot, tmp_path, capsys):
    random_rgb(24, 20).save(tmp_path / "p.jpg")
    rc = main(["translate", str(tmp_path / "p.jpg"), "-o", str(tmp_path / "o"), "-m", str(snapshot), "-q",
               "--yunet", str(tmp_path / "missing.onnx")])
    err = capsys.readouterr().err
    assert rc != 0 and "missing.onnx" in err and "--mode whole" in err


def test_a_recorded_postprocess_runs_on_every_output_and_a_bad_one_names_the_file(snapshot, tmp_path):
    from artifygan.cartoon_losses import StrokeCleanup, clean_strokes
    from artifygan.imageio import pil_to_tensor

    snap = with_meta(snapshot, tmp_path / "clean", postprocess={"clean_strokes": {"k": 3}})
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    raw = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch")
    clean = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    x = pil_to_tensor(photo)[None]
    expected = clean_strokes(raw.forward(x), x, StrokeCleanup(k=3)).clamp(-1, 1)
    assert torch.allclose(clean.forward(x), expected, atol=1e-6)
    assert not torch.allclose(clean.forward(x), raw.forward(x), atol=1e-3)
    assert Cartoonizer.from_pretrained(snap, device="cpu", backend="torch", clean_strokes=False).cleanup is None
    forced = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch", clean_strokes=True)
    assert forced.cleanup == StrokeCleanup()
    src = tmp_path / "in.png"
    photo.save(src)
    outs = {}
    for flag in ("on", "off"):
        assert main(["translate", str(src), "-o", str(tmp_path / flag), "-m", str(snapshot), "--mode", "whole",
                     "--backend", "torch", "--clean-strokes", flag]) == 0
        outs[flag] = np.asarray(Image.open(next((tmp_path / flag).iterdir())), dtype=np.int16)
    assert np.abs(outs["on"] - outs["off"]).max() > 0  # the flag reaches the inference path
    bad = with_meta(snapshot, tmp_path / "bad", postprocess={"clean_strokes": {"size": 3}})
    with pytest.raises(SnapshotError, match="config.json: postprocess.clean_strokes"):
        Cartoonizer.from_pretrained(bad, device="cpu", backend="torch")


def test_forward_bytes_is_forward_quantised_and_translate_uses_it(snapshot):
    """The uint8 path (what a GPU copies back) must give the same pixels as the float path."""
    from artifygan.imageio import pil_to_tensor, to_bytes

    for backend in ("torch", "onnx"):
        for clean in (False, True):
            cz = Cartoonizer.from_pretrained(snapshot, device="cpu", backend=backend, clean_strokes=clean)
            x = torch.stack([pil_to_tensor(random_rgb(24, 16, seed=i)) for i in range(3)])
            q = cz.forward_bytes(x)
            assert q.dtype == torch.uint8 and q.shape == x.shape
            assert torch.equal(q, to_bytes(cz.forward(x)))
    photo = random_rgb(40, 32, seed=5)  # a multiple of the stride, above the minimum side: no resize
    prep = cz.preprocess(photo)
    via_float = cz.postprocess(cz.forward(prep.tensor[None])[0], prep)
    assert np.array_equal(np.asarray(cz(photo)), np.asarray(via_float))


def test_border_rows_below_the_picture_are_mirrored_in_and_cropped_off(snapshot):
    """The default drew a bright line along its bottom edge: the net sees mirrored rows below, cut after."""
    import torch.nn.functional as F

    from artifygan.imageio import pil_to_tensor, tensor_to_pil

    photo = random_rgb(40, 32, seed=5)  # 40 × 32: a multiple of the stride, no resize
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", smooth_input=False)
    assert cz.border == 16 and Cartoonizer.from_pretrained(snapshot, device="cpu", border=5).border == 8
    prep = cz.preprocess(photo)
    assert tuple(prep.tensor.shape) == (3, 32 + 16, 40) and prep.net_size == (40, 32)
    x = pil_to_tensor(photo)
    assert torch.equal(prep.tensor, F.pad(x[None], (0, 0, 0, 16), mode="reflect")[0])
    out = cz(photo)
    assert out.size == (40, 32)
    expected = tensor_to_pil(cz.forward(prep.tensor[None])[0][:, :32, :40])
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    off = Cartoonizer.from_pretrained(snapshot, device="cpu", smooth_input=False, border=0)
    assert tuple(off.preprocess(photo).tensor.shape) == (3, 32, 40)
    assert not np.array_equal(np.asarray(off(photo)), np.asarray(out))  # the net saw a different picture


def test_a_thin_strip_is_padded_not_enlarged_past_max_side(snapshot):
    """A 6000×1 PNG of 103 bytes was enlarged to 32 px tall: 6 MP, 97 s of CPU, per web request."""
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", smooth_input=False)
    for size in [(6000, 1), (1, 500), (3000, 2)]:
        im = random_rgb(*size)
        t = cz.preprocess(im).tensor
        assert max(t.shape[-2:]) <= cz.max_side + cz.border and min(t.shape[-2:]) >= 32
        assert cz(im).size == size
    assert tuple(cz.preprocess(random_rgb(20, 30)).tensor.shape) == (3, 48 + 16, 32)  # small: still enlarged
    with pytest.raises(TypeError, match=r"translate takes a list of images; for one image, call the Cartoonizer"):
        cz.translate("photo.jpg")


@pytest.mark.parametrize("kw", [{"max_side": -1}, {"resize": -5}, {"tile_overlap": -1}, {"border": -2},
                                {"tile": 0}, {"tile": -5}])
def test_out_of_range_cartoonizer_options_are_refused(snapshot, kw):
    with pytest.raises(ValueError, match=rf"{next(iter(kw))}: out of range \("):
        Cartoonizer.from_pretrained(snapshot, device="cpu", **kw)


@pytest.mark.parametrize("kw", [{"clean_strokes": "off"}, {"smooth_input": "off"}, {"background": "keep"},
                                {"keep_grey": "no"}, {"tile": 300.5}, {"tile_overlap": 10.5}, {"border": 3.5},
                                {"resize": 96.0}, {"batch_size": "2"}])
def test_cartoonizer_options_of_the_wrong_kind_are_refused(snapshot, kw):
    """The CLI's words are strings, truthy in Python: "off" turned a step on; floats failed deep in torch."""
    with pytest.raises(ValueError, match=rf"^{next(iter(kw))}: "):
        Cartoonizer.from_pretrained(snapshot, device="cpu", **kw)
    assert Cartoonizer.from_pretrained(snapshot, device="cpu", tta=None).tta == "off"  # None: no ensemble


def test_a_picture_of_exactly_tile_squared_pixels_runs_in_one_pass(snapshot):
    """The border rows below the picture counted in the area: a 1024² photo ran as two 1024² tiles."""
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", max_side=0, tile=64)
    calls: list[tuple[int, ...]] = []
    real = cz.forward_bytes
    cz.forward_bytes = lambda b, tta=None: (calls.append(tuple(b.shape)), real(b, tta))[1]  # type: ignore[method-assign]
    assert cz(random_rgb(64, 64)).size == (64, 64)
    assert calls == [(1, 3, 64 + cz.border, 64)]


def test_ext_takes_any_case_and_refuses_what_it_cannot_write(snapshot, tmp_path, capsys):
    src = tmp_path / "in.png"
    random_rgb(40, 48, seed=4).save(src)
    for ext, suffix, fmt in (("JPG", ".jpg", "JPEG"), (".webP", ".webp", "WEBP"), ("tif", ".tif", "TIFF")):
        out = tmp_path / f"out-{suffix[1:]}"
        assert main(["translate", str(src), "-o", str(out), "-m", str(snapshot), "--mode", "whole", "-q",
                     "--device", "cpu", "--ext", ext]) == 0
        written = list(out.iterdir())
        assert [p.name for p in written] == [f"in{suffix}"]  # it was in.png, as PNG, for JPG and webP
        with Image.open(written[0]) as im:
            assert im.format == fmt
    for bad in ("gif", "xyz"):
        with pytest.raises(SystemExit):
            main(["translate", str(src), "-o", str(tmp_path / "never"), "--ext", bad])
        assert f"cannot write '{bad}'; choose one of jpg" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_an_empty_folder_says_no_images_were_found(snapshot, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a picture")
    assert main(["translate", str(tmp_path / "empty"), "-o", str(tmp_path / "out"), "-m", str(snapshot),
                 "--mode", "whole", "-q", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "note: " in captured.err and "empty: no images found in this folder" in captured.err
    assert "wrote 0 image(s)" in captured.out


def test_a_transparent_picture_is_composited_once_on_every_surface(tiny_snapshot, tmp_path):
    """The CLI and the web decoded it (composited on white), put the alpha back, and the inference path
    composited again: a black pixel at alpha 128 reached the network as 191, from a Python path as 127."""
    from artifygan.imageio import decode_image, read_input
    from artifygan.inference.wild import WildCartoonizer, WildOptions
    from artifygan.web.service import Limits, decode_upload

    rgba = np.zeros((40, 48, 4), np.uint8)
    rgba[..., :3] = np.asarray(random_rgb(48, 40, seed=5))
    rgba[..., 3] = np.linspace(0, 255, 48, dtype=np.uint8)[None, :]  # every alpha from clear to opaque
    path = tmp_path / "see_through.png"
    Image.fromarray(rgba, "RGBA").save(path)
    once, _ = read_input(path)
    for picture in (decode_image(path).picture(), decode_upload(path.read_bytes(), Limits())):
        assert np.array_equal(np.asarray(read_input(picture)[0]), np.asarray(once))
    wild = WildCartoonizer(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu"), WildOptions(mode="whole"))
    direct = np.asarray(wild(path).image)
    assert main(["translate", str(path), "-o", str(tmp_path / "out"), "-m", str(tiny_snapshot), "--mode", "whole",
                 "--device", "cpu", "-q"]) == 0
    cli = np.asarray(Image.open(tmp_path / "out" / "see_through.png"))
    assert cli.shape == direct.shape == (40, 48, 4) and np.array_equal(cli, direct)
