"""Input smoothing (issue 13): a snapshot-recorded bilateral filter of the photo before the generator."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan import Cartoonizer
from artifygan.cli import main
from artifygan.input_smoothing import InputSmoothing, recorded_smoothing
from artifygan.models import GENERATORS, save_generator
from artifygan.models.snapshot import SnapshotError

from .conftest import with_meta


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    return save_generator(g, "light", tmp_path_factory.mktemp("model") / "snap")


def textured_edge(seed: int = 0) -> Image.Image:
    """Left half grey 80, right half grey 180, both with ±8 grey levels of noise (skin texture)."""
    a = np.full((48, 64, 3), 80.0)
    a[:, 32:] = 180.0
    a += np.random.default_rng(seed).normal(0, 8, a.shape)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def test_the_filter_removes_texture_and_keeps_edges():
    photo = textured_edge()
    out = np.asarray(InputSmoothing().apply(photo), dtype=np.float64)
    a = np.asarray(photo, dtype=np.float64)
    inner = (slice(8, 40), slice(4, 26))  # flat left region, away from the edge and borders
    assert out[inner].std() < 0.5 * a[inner].std()  # texture at least halved
    step_in = a[:, 36:40].mean() - a[:, 24:28].mean()
    step_out = out[:, 36:40].mean() - out[:, 24:28].mean()
    assert step_out > 0.97 * step_in  # the 100-level edge survives
    assert out.shape == a.shape


@pytest.mark.parametrize("bad", [{"d": 0}, {"d": 2.5}, {"sigma_color": -1}, {"sigma_space": "7"}, {"radius": 3}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError, match="bilateral"):
        recorded_smoothing({"preprocess": {"bilateral": bad}})


def test_a_recorded_smoothing_runs_before_the_generator(snapshot, tmp_path):
    snap = with_meta(snapshot, tmp_path / "smooth", preprocess={"bilateral": {"d": 5, "sigma_color": 30.0,
                                                                               "sigma_space": 4.0}})
    photo = textured_edge(1)
    raw = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch")
    smooth = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    assert raw.smoothing is None and smooth.smoothing == InputSmoothing(5, 30.0, 4.0)
    expected = raw(InputSmoothing(5, 30.0, 4.0).apply(photo))
    assert np.array_equal(np.asarray(smooth(photo)), np.asarray(expected))
    assert not np.array_equal(np.asarray(smooth(photo)), np.asarray(raw(photo)))
    off = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch", smooth_input=False)
    assert off.smoothing is None and np.array_equal(np.asarray(off(photo)), np.asarray(raw(photo)))
    forced = Cartoonizer.from_pretrained(snapshot, device="cpu", backend="torch", smooth_input=True)
    assert forced.smoothing == InputSmoothing()
    # the ONNX backend shares the preprocess: the same smoothing reaches it
    onnx = Cartoonizer.from_pretrained(snap, device="cpu", backend="onnx")
    diff = np.abs(np.asarray(onnx(photo), dtype=np.int16) - np.asarray(expected, dtype=np.int16))
    assert diff.max() <= 2


def test_a_malformed_entry_names_the_config(snapshot, tmp_path):
    snap = with_meta(snapshot, tmp_path / "bad", preprocess={"bilateral": {"d": -3}})
    with pytest.raises(SnapshotError, match=r"config\.json: preprocess\.bilateral d must be"):
        Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")


def test_the_cli_flag_reaches_the_inference_path(snapshot, tmp_path):
    src = tmp_path / "in.png"
    textured_edge(2).save(src)
    outs = {}
    for flag in ("on", "off"):
        assert main(["translate", str(src), "-o", str(tmp_path / flag), "-m", str(snapshot), "--mode", "whole",
                     "--backend", "torch", "--smooth-input", flag]) == 0
        outs[flag] = np.asarray(Image.open(next((tmp_path / flag).iterdir())), dtype=np.int16)
    assert np.abs(outs["on"] - outs["off"]).max() > 0


def test_evaluate_records_the_smoothing_that_ran(snapshot, tmp_path):
    from artifygan.metrics.evaluate import snapshot_candidate

    snap = with_meta(snapshot, tmp_path / "smooth", preprocess={"bilateral": {"d": 5, "sigma_color": 20,
                                                                               "sigma_space": 3}})
    assert snapshot_candidate("s", str(snap), "cpu", "torch").info["input_smoothing"] == {
        "bilateral": {"d": 5, "sigma_color": 20, "sigma_space": 3}}
    assert snapshot_candidate("s", str(snap), "cpu", "torch", smooth_input=False).info["input_smoothing"] is None
    from artifygan.metrics.report import markdown_table

    row = {"model": "s", "params": 1, "kid_x100": 1.0, "kid_x100_std": 0.1, "fid": 2.0, "face_kept": 1.0,
           "landmark_nme": 0.05, "cheek_strokes": 0.01, "detail_eyes": 0.9, "detail_mouth": 0.9, "img_per_s": 3.0}
    report = {"protocol": {"n_photos": 4, "n_reference": 4, "size": 64, "inception_resize": "pil_bicubic",
                           "kid": {"subsets": 2, "subset_size": 2}},
              "results": [{**row, "input_smoothing": {"bilateral": {"d": 5, "sigma_color": 20, "sigma_space": 3}}},
                          {**row, "model": "bare", "input_smoothing": None}]}
    md = markdown_table(report)
    assert "s: bilateral d 5, sigma_color 20, sigma_space 3." in md and "bare: bilateral" not in md


def test_the_bundled_default_records_its_smoothing():
    cz = Cartoonizer.from_pretrained(device="cpu", backend="torch")
    assert cz.smoothing is not None and cz.smoothing == recorded_smoothing(cz.meta)


def test_training_smooths_its_photo_crops_and_its_snapshots_record_it(tiny_data, tmp_path):
    from artifygan.data.dataset import UnpairedImages
    from artifygan.training.loop import train

    from .conftest import tiny_config

    setting = InputSmoothing(5, 40.0, 3.0)
    plain = UnpairedImages([str(tiny_data / "photos")], [str(tiny_data / "cartoons")], size=32)
    smooth = UnpairedImages([str(tiny_data / "photos")], [str(tiny_data / "cartoons")], size=32,
                            photo_smoothing=setting)
    p, s = plain[(1, 3)]["photo"], smooth[(1, 3)]["photo"]
    expected = np.asarray(setting.apply(Image.fromarray(p.permute(1, 2, 0).numpy())))
    assert np.array_equal(s.permute(1, 2, 0).numpy(), expected)  # the same crop, then filtered
    assert not torch.equal(p, s)
    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1",
                      'data.photo_smoothing={"d": 5, "sigma_color": 40, "sigma_space": 3}')
    run = train(cfg, run_root=tmp_path / "runs", progress=False)
    meta = json.loads((run / "snapshots" / "step_0000002" / "config.json").read_text())
    assert meta["preprocess"]["bilateral"] == {"d": 5, "sigma_color": 40, "sigma_space": 3}
    assert Cartoonizer.from_pretrained(run, device="cpu", backend="torch").smoothing == setting


def test_a_bad_training_setting_fails_before_training(tiny_data, tmp_path):
    from artifygan.training.loop import train

    from .conftest import tiny_config

    cfg = tiny_config(tiny_data, "train.init_steps=1", 'data.photo_smoothing={"d": 5, "sigma": 3}')
    with pytest.raises(ValueError, match="data.photo_smoothing: bilateral settings"):
        train(cfg, run_root=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_teacher_sees_photos_smoothed_as_it_records_and_the_student_records_it(tiny_data, tmp_path, caplog):
    from artifygan.training.loop import train

    from .conftest import tiny_config

    torch.manual_seed(0)
    teacher = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "teacher",
                             extra={"preprocess": {"bilateral": {"d": 5, "sigma_color": 40, "sigma_space": 3}}})
    args = ("train.init_steps=1", "train.adv_steps=0", "model.generator_args={\"ch\": 8, \"n_blocks\": 1}",
            f"model.teacher={teacher}", "loss.teacher=1")
    run = train(tiny_config(tiny_data, *args), run_root=tmp_path / "a", progress=False)
    meta = json.loads((run / "snapshots" / "step_0000001" / "config.json").read_text())
    assert meta["preprocess"]["bilateral"] == {"d": 5, "sigma_color": 40, "sigma_space": 3}
    # a smoothing of the user's own wins, with a warning that the teacher sees other photos
    own = train(tiny_config(tiny_data, *args, 'data.photo_smoothing={"d": 7, "sigma_color": 25, "sigma_space": 6}'),
                run_root=tmp_path / "b", progress=False)
    meta = json.loads((own / "snapshots" / "step_0000001" / "config.json").read_text())
    assert meta["preprocess"]["bilateral"] == {"d": 7, "sigma_color": 25, "sigma_space": 6}
    assert "differs from the teacher's recorded" in caplog.text
