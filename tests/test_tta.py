"""Test-time ensembles (inference.tta): the mean of the generator on mirrored and shifted copies."""

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan import Cartoonizer
from artifygan.cli import main
from artifygan.commands.common import TTA_MODES
from artifygan.imageio import pil_to_tensor, tensor_to_pil
from artifygan.inference.tta import PASSES, TTA, ensemble


@pytest.fixture(scope="module")
def snapshot(tiny_snapshot):
    return tiny_snapshot


def photo(seed: int = 0) -> Image.Image:
    a = np.random.default_rng(seed).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    a[:, :28, 0] = 220  # not mirror-symmetric
    return Image.fromarray(a)


def test_the_cli_names_every_mode_and_each_runs_its_passes():
    assert set(TTA_MODES) == set(TTA) == set(PASSES)
    x = torch.randn(2, 3, 16, 24)
    calls: list[str] = []

    def counted(b):
        calls.append(mode)
        return b * 1.0

    for mode in TTA:
        out = ensemble(counted, x, mode)
        assert calls.count(mode) == PASSES[mode]
        assert torch.allclose(out, x, atol=1e-6)  # an equivariant map is its own ensemble: nothing moves
    with pytest.raises(ValueError, match="x4"):
        ensemble(lambda b: b, x, "mirror")


def test_x2_halves_what_only_one_copy_draws():
    x = torch.zeros(1, 1, 8, 8)

    def mark(b):  # draws a line at column 3 of whatever it sees, wherever the face is
        return b + (torch.arange(b.shape[-1]) == 3).float()

    out = ensemble(mark, x, "x2")[0, 0, 0]
    # the plain copy draws at column 3; the mirrored copy, padded by 2 on every side, draws at its column 3,
    # which lands at column 12 - 1 - 3 - 2 = 6 of the photo after unmirroring and cropping
    assert out.tolist() == [0, 0, 0, 0.5, 0, 0, 0.5, 0]


def test_the_cartoonizer_averages_the_network_on_the_photo_and_its_shifted_mirror(snapshot):
    import torch.nn.functional as F

    kw = dict(device="cpu", backend="torch", smooth_input=False, border=0)  # the ensemble alone, no border rows
    plain = Cartoonizer.from_pretrained(snapshot, **kw)
    x2 = Cartoonizer.from_pretrained(snapshot, **kw, tta="x2")
    im = photo()
    t = pil_to_tensor(im)[None]
    with torch.inference_mode():
        mirrored = plain.generator(F.pad(t, (2, 2, 2, 2), mode="reflect").flip(dims=[3])).flip(dims=[3])
        expect = (plain.generator(t) + mirrored[..., 2:-2, 2:-2]) / 2
    got = np.asarray(x2(im), dtype=np.int16)
    assert np.abs(got - np.asarray(tensor_to_pil(expect[0]), dtype=np.int16)).max() <= 1
    assert np.abs(got - np.asarray(plain(im), dtype=np.int16)).max() > 0
    x4 = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch", smooth_input=False, tta="x4")(im)
    assert x4.size == im.size
    with pytest.raises(ValueError, match="test-time ensemble"):
        Cartoonizer.from_pretrained(snapshot, device="cpu", tta="both")


def test_one_shared_cartoonizer_serves_each_call_its_own_ensemble(snapshot):
    """``tta=`` per call (translate, __call__, WildOptions): the same picture as a Cartoonizer built with
    that ensemble, and the shared model's own setting is never changed (the web service shares one)."""
    from artifygan.inference.wild import WildCartoonizer, WildOptions

    shared = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch", smooth_input=False)
    x2 = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch", smooth_input=False, tta="x2")
    im = photo(2)
    assert np.array_equal(np.asarray(shared(im, "x2")), np.asarray(x2(im)))
    assert np.array_equal(np.asarray(shared.translate([im], tta="x2")[0]), np.asarray(x2(im)))
    assert np.array_equal(np.asarray(x2(im, "off")), np.asarray(shared(im)))
    wild = WildCartoonizer(shared)
    whole = wild(im, options=WildOptions(mode="whole", tta="x2")).image
    assert whole is not None and np.array_equal(np.asarray(whole), np.asarray(x2(im)))
    assert shared.tta == "off" and x2.tta == "x2"
    with pytest.raises(ValueError, match="test-time ensemble"):
        WildOptions(tta="x3")
    with pytest.raises(ValueError, match="test-time ensemble"):
        shared(im, "both")


def test_onnx_and_torch_agree_under_the_ensemble(snapshot):
    pytest.importorskip("onnxruntime")
    im = photo(1)
    outs = [np.asarray(Cartoonizer.from_pretrained(snapshot, device="cpu", backend=b, smooth_input=False,
                                                   tta="x4")(im), dtype=np.int16) for b in ("torch", "onnx")]
    assert np.abs(outs[0] - outs[1]).max() <= 2


def test_the_cli_flag_reaches_the_output(snapshot, tmp_path):
    src = tmp_path / "p.png"
    photo().save(src)
    outs = {}
    for mode in ("off", "x2"):
        dst = tmp_path / mode
        assert main(["translate", str(src), "-o", str(dst), "-m", str(snapshot), "--mode", "whole",
                     "--backend", "torch", "--tta", mode]) == 0
        outs[mode] = np.asarray(Image.open(next(dst.iterdir())), dtype=np.int16)
    assert np.abs(outs["off"] - outs["x2"]).max() > 0


def test_evaluate_names_and_records_each_mode(snapshot):
    from artifygan.metrics.evaluate import snapshot_candidate

    cand = snapshot_candidate("s+x2", str(snapshot), "cpu", "torch", tta="x2")
    assert cand.info["tta"] == "x2" and cand.info["keep_grey"] is True


def test_evaluate_cli_scores_each_model_once_per_mode(snapshot, tmp_path, monkeypatch):
    import json

    import artifygan.metrics.evaluate as ev

    from .test_metrics import FakeDetector, FakeFeatures, _set

    monkeypatch.setattr(ev, "InceptionFeatures", FakeFeatures)
    monkeypatch.setattr(ev, "PhotoFaceDetector", FakeDetector)
    photos, refs = _set(tmp_path / "p", 8, "photo"), _set(tmp_path / "r", 8, "cartoon", 1)
    assert main(["evaluate", "-m", f"s={snapshot}", "--tta", "off", "x2", "--photos", str(photos), "--reference",
                 str(refs), "-o", str(tmp_path / "rep"), "-n", "8", "--size", "64", "--kid-subsets", "3",
                 "--device", "cpu", "--backend", "torch", "--no-baselines", "-q"]) == 0
    rows = json.loads((tmp_path / "rep" / "report.json").read_text())["results"]
    assert [(r["model"], r["tta"]) for r in rows] == [("s", "off"), ("s+x2", "x2")]
    assert rows[0]["kid_x100"] != rows[1]["kid_x100"]


def test_ensembles_run_a_stride_8_generator():
    """The shifted copy was padded by 2 on every side: H + 4 is not a multiple of 8, and the fast
    generator's skips disagreed in size."""
    from artifygan.models import GENERATORS

    torch.manual_seed(0)
    g = GENERATORS.build("fast", {"ch": 8, "n_blocks": 1})
    assert g.stride == 8
    img = Image.new("RGB", (96, 64), (120, 90, 60))
    for mode in ("off", "x2", "x4"):
        assert Cartoonizer(g, device="cpu", tta=mode)(img).size == (96, 64)
