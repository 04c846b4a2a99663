"""Skin smoothing (issue 13's worst case): flatter skin on heavily textured faces, nothing on smooth ones."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan import Cartoonizer
from artifygan.imageio import tensor_to_pil
from artifygan.models import GENERATORS, save_generator
from artifygan.models.snapshot import SnapshotError
from artifygan.skin_smoothing import SkinSmoothing, recorded_skin_smoothing, skin_mask, texture_share

from .conftest import with_meta

SKIN = (220, 170, 140)  # YCrCb chroma ~ (155, 105): inside the skin box
BLUE = (40, 90, 200)


def face(colour=SKIN, lines: int = 0, size: int = 96, blue_cols: int = 0) -> np.ndarray:
    """A flat picture of ``colour`` with a web of 1-px lines ``lines`` grey levels darker every 6 px
    (wrinkles); the last ``blue_cols`` columns are blue, with the same web."""
    a = np.zeros((size, size, 3), np.float32) + np.array(colour, np.float32)
    if blue_cols:
        a[:, -blue_cols:] = BLUE
    a[::6] -= lines
    a[:, ::6] -= lines
    return a.clip(0, 255).astype(np.uint8)


def test_the_mask_finds_skin_and_only_skin_coloured_centres():
    m = skin_mask(face(blue_cols=24))
    assert m[:, :60].min() > 0.9 and m[:, -12:].max() < 0.01
    assert skin_mask(face(colour=(128, 128, 128))).max() == 0  # a grey centre: no skin step at all
    assert skin_mask(face(colour=BLUE)).max() == 0


def test_smooth_skin_is_left_exactly_as_it_was():
    s = SkinSmoothing()
    smooth = face(lines=0)
    assert texture_share(smooth, skin_mask(smooth)) == 0.0
    assert s.apply_array(smooth, smooth) is smooth


def test_wrinkled_skin_is_flattened_and_other_colours_kept():
    s = SkinSmoothing()
    a = face(lines=60, blue_cols=32)
    mask = skin_mask(a)
    before = texture_share(a, mask)
    assert before > s.full  # the web of lines is far above the full-strength texture share
    out = s.apply_array(a, a)
    assert texture_share(out, mask) < 0.5 * before
    assert np.array_equal(out[:, -16:], a[:, -16:])  # the blue part (beyond the mask's feather) is untouched


def test_a_grey_picture_with_lines_is_untouched():
    a = face(colour=(128, 128, 128), lines=60)
    assert np.array_equal(SkinSmoothing().apply_array(a, a), a)


def test_the_weight_ramps_from_start_to_full():
    s = SkinSmoothing(start=0.04, full=0.10)
    assert s.weight(0.0) == 0.0 and s.weight(0.04) == 0.0
    assert s.weight(0.07) == pytest.approx(0.5) and s.weight(0.10) == 1.0 and s.weight(0.5) == 1.0


@pytest.mark.parametrize("raw", [{"start": 0.2, "full": 0.1}, {"passes": 0}, {"d": 1.5}, {"sigma_color": -1},
                                 {"threshold": True}, {"radius": 3}, [0.04, 0.1], "on"])
def test_bad_settings_are_refused_with_the_entry_named(raw):
    with pytest.raises(ValueError, match="preprocess.skin"):
        recorded_skin_smoothing({"preprocess": {"skin": raw}})


def test_settings_round_trip_through_the_config():
    s = SkinSmoothing(start=0.05, full=0.2, passes=2)
    assert recorded_skin_smoothing({"preprocess": {"skin": json.loads(json.dumps(s.to_meta()))}}) == s
    assert recorded_skin_smoothing({"preprocess": {"bilateral": {}}}) is None
    assert recorded_skin_smoothing(None) is None


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1})
    return save_generator(g, "light", tmp_path_factory.mktemp("model") / "snap")


def test_the_inference_path_applies_the_recorded_step(snapshot, tmp_path):
    bil = {"d": 5, "sigma_color": 20, "sigma_space": 3}
    plain = Cartoonizer.from_pretrained(with_meta(snapshot, tmp_path / "b", preprocess={"bilateral": bil}),
                                        device="cpu", backend="torch")
    skin_path = with_meta(snapshot, tmp_path / "s", preprocess={"bilateral": bil, "skin": SkinSmoothing().to_meta()})
    skin = Cartoonizer.from_pretrained(skin_path, device="cpu", backend="torch")
    assert plain.skin is None and skin.skin == SkinSmoothing()
    wrinkled, smooth = Image.fromarray(face(lines=70)), Image.fromarray(face(lines=0))
    a, b = (np.asarray(cz.translate([wrinkled])[0], np.int16) for cz in (plain, skin))
    assert np.abs(a - b).max() > 10  # the wrinkled face reaches the generator flattened
    a, b = (np.asarray(cz.translate([smooth])[0]) for cz in (plain, skin))
    assert np.array_equal(a, b)  # a smooth one, exactly as before
    off = Cartoonizer.from_pretrained(skin_path, device="cpu", backend="torch", smooth_input=False)
    assert off.smoothing is None and off.skin is None  # --smooth-input off is the bare network


def test_the_skin_step_can_erase_strokes_on_textured_faces_only(snapshot, tmp_path):
    from artifygan.cartoon_losses import clean_strokes

    bil = {"d": 5, "sigma_color": 20, "sigma_space": 3}
    skin = with_meta(snapshot, tmp_path / "s", preprocess={"bilateral": bil, "skin": SkinSmoothing().to_meta()})
    both = with_meta(snapshot, tmp_path / "t",
                     preprocess={"bilateral": bil, "skin": SkinSmoothing(strokes=True).to_meta()})
    a, b = (Cartoonizer.from_pretrained(p, device="cpu", backend="torch", border=0) for p in (skin, both))
    assert a.skin_strokes is None and b.skin_strokes is not None
    wrinkled, smooth = Image.fromarray(face(lines=70)), Image.fromarray(face(lines=0))
    prep = b.preprocess(wrinkled)
    assert 0 < prep.skin_weight <= 1 and b.preprocess(smooth).skin_weight == 0
    raw = b.forward_bytes(prep.tensor[None])[0].float() / 127.5 - 1  # what translate hands postprocess
    erased = clean_strokes(raw[None], prep.tensor[None], b.skin_strokes)[0]
    expected = tensor_to_pil((raw + prep.skin_weight * (erased - raw)).clamp(-1, 1))
    assert np.array_equal(np.asarray(b(wrinkled)), np.asarray(expected))  # the cleanup, by the face's weight
    assert np.abs(np.asarray(b(wrinkled), np.int16) - np.asarray(a(wrinkled), np.int16)).max() > 0
    assert np.array_equal(np.asarray(b(smooth)), np.asarray(a(smooth)))  # a smooth face: exactly as before
    for flag in (True, False):  # --clean-strokes on (everywhere) / off (nowhere) overrides it
        assert Cartoonizer.from_pretrained(both, device="cpu", clean_strokes=flag).skin_strokes is None
    with pytest.raises(SnapshotError, match="skin strokes must be true or false"):
        Cartoonizer.from_pretrained(with_meta(snapshot, tmp_path / "x", preprocess={
            "bilateral": bil, "skin": {"strokes": "yes"}}), device="cpu")


def test_a_malformed_entry_fails_at_load_naming_the_file(snapshot, tmp_path):
    bad = with_meta(snapshot, tmp_path / "bad", preprocess={"skin": {"start": 2}})
    with pytest.raises(SnapshotError, match="config.json.*preprocess.skin"):
        Cartoonizer.from_pretrained(bad, device="cpu", backend="torch")


def test_evaluate_records_and_reports_the_skin_step(snapshot, tmp_path):
    from artifygan.metrics.evaluate import snapshot_candidate
    from artifygan.metrics.report import markdown_table

    snap = with_meta(snapshot, tmp_path / "e", preprocess={"bilateral": {"d": 5, "sigma_color": 20, "sigma_space": 3},
                                                      "skin": {"start": 0.05, "full": 0.2}})
    info = snapshot_candidate("s", str(snap), "cpu", "torch").info["input_smoothing"]
    assert info["skin"] == SkinSmoothing(start=0.05, full=0.2).to_meta()
    row = {"model": "s", "params": 1, "kid_x100": 1.0, "kid_x100_std": 0.1, "fid": 2.0, "face_kept": 1.0,
           "landmark_nme": 0.05, "cheek_strokes": 0.01, "detail_eyes": 0.9, "detail_mouth": 0.9, "img_per_s": 3.0,
           "input_smoothing": info}
    md = markdown_table({"protocol": {"n_photos": 4, "n_reference": 4, "size": 64, "inception_resize": "pil_bicubic",
                                      "kid": {"subsets": 2, "subset_size": 2}}, "results": [row]})
    assert "s: bilateral d 5, sigma_color 20, sigma_space 3, then skin start 0.05, full 0.2," in md


def test_the_bundled_default_records_the_skin_step():
    cz = Cartoonizer.from_pretrained(device="cpu", backend="torch")
    assert cz.skin == recorded_skin_smoothing(cz.meta) == SkinSmoothing(strokes=True)
    assert cz.skin_strokes is not None  # older, textured faces: their strokes erased too (2026-12-07)


@pytest.fixture()
def wrinkled_data(tiny_data, tmp_path):
    """The tiny cartoons with 4 photos of wrinkled skin (40×40)."""
    (tmp_path / "photos").mkdir()
    for i in range(4):
        Image.fromarray(face(lines=60 + 10 * i, size=40)).save(tmp_path / "photos" / f"{i}.png")
    shutil.copytree(tiny_data / "cartoons", tmp_path / "cartoons")
    return tmp_path


def test_training_applies_the_skin_step_to_its_crops_and_records_it(wrinkled_data, tmp_path):
    from artifygan.data.dataset import UnpairedImages
    from artifygan.input_smoothing import InputSmoothing
    from artifygan.training.loop import train

    from .conftest import tiny_config

    bilateral, skin = InputSmoothing(5, 40.0, 3.0), SkinSmoothing(start=0.0, full=0.01)
    folders = [str(wrinkled_data / "photos")], [str(wrinkled_data / "cartoons")]
    plain = UnpairedImages(*folders, size=32, photo_smoothing=bilateral)
    skinned = UnpairedImages(*folders, size=32, photo_smoothing=bilateral, photo_skin=skin)
    raw = UnpairedImages(*folders, size=32)[(0, 1)]["photo"].permute(1, 2, 0).numpy()
    p, s = plain[(0, 1)]["photo"].permute(1, 2, 0).numpy(), skinned[(0, 1)]["photo"].permute(1, 2, 0).numpy()
    assert np.array_equal(s, skin.apply_array(raw, bilateral.apply_array(raw)))  # the same crop, both steps
    assert np.abs(s.astype(int) - p.astype(int)).max() > 10  # the skin step did flatten the wrinkles
    with pytest.raises(ValueError, match="needs photo_smoothing"):
        UnpairedImages(*folders, size=32, photo_skin=skin)
    run = train(tiny_config(wrinkled_data, "train.init_steps=1", "train.adv_steps=1",
                            'data.photo_smoothing={"d": 5, "sigma_color": 40, "sigma_space": 3}',
                            'data.photo_skin={"start": 0.0, "full": 0.01}'),
                run_root=tmp_path / "runs", progress=False)
    meta = json.loads((run / "snapshots" / "step_0000002" / "config.json").read_text())
    assert meta["preprocess"]["skin"] == skin.to_meta()
    assert Cartoonizer.from_pretrained(run, device="cpu", backend="torch").skin == skin


@pytest.mark.parametrize(("extra", "message"), [
    ('data.photo_skin={}', "needs data.photo_smoothing"),
    ('data.photo_skin={"begin": 0.1}', "data.photo_skin: skin settings must be an object"),
])
def test_a_bad_training_skin_setting_fails_before_training(tiny_data, tmp_path, extra, message):
    from artifygan.training.loop import train

    from .conftest import tiny_config

    smoothing = ('data.photo_smoothing={"d": 5, "sigma_color": 40, "sigma_space": 3}',) if "begin" in extra else ()
    with pytest.raises(ValueError, match=message):
        train(tiny_config(tiny_data, "train.init_steps=1", *smoothing, extra), run_root=tmp_path / "runs",
              progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_student_takes_the_teachers_input_steps_as_a_pair(tiny_data, tmp_path):
    from artifygan.training.setup import photo_steps

    pre = {"bilateral": {"d": 5, "sigma_color": 40, "sigma_space": 3}, "skin": SkinSmoothing(full=0.2).to_meta()}
    teacher = str(save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "t",
                                 extra={"preprocess": pre}))
    bilateral, skin = photo_steps(None, None, teacher)  # both of the teacher's
    assert bilateral.to_meta() == pre["bilateral"] and skin == SkinSmoothing(full=0.2)
    own = {"d": 7, "sigma_color": 25, "sigma_space": 6}
    assert photo_steps(own, None, teacher)[1] is None  # a filter of the user's own: no skin step of the teacher's
    assert photo_steps(own, {}, teacher)[1] == SkinSmoothing()
    assert photo_steps(None, {"full": 0.5}, teacher)[1] == SkinSmoothing(full=0.5)  # after the teacher's filter
    plain = str(save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "p"))
    with pytest.raises(ValueError, match="needs data.photo_smoothing"):
        photo_steps(None, {}, plain)


def test_the_training_run_records_the_teachers_skin_step(tiny_data, tmp_path):
    from artifygan.training.loop import train

    from .conftest import tiny_config

    torch.manual_seed(0)
    pre = {"bilateral": {"d": 5, "sigma_color": 40, "sigma_space": 3}, "skin": SkinSmoothing(full=0.2).to_meta()}
    teacher = save_generator(GENERATORS.build("light", {"ch": 8, "n_blocks": 1}), "light", tmp_path / "teacher",
                             extra={"preprocess": pre})
    run = train(tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=0", f"model.teacher={teacher}",
                            "loss.teacher=1"), run_root=tmp_path / "a", progress=False)
    meta = json.loads((run / "snapshots" / "step_0000001" / "config.json").read_text())
    assert meta["preprocess"]["skin"] == pre["skin"] and meta["preprocess"]["bilateral"] == pre["bilateral"]


def test_skin_patches_come_from_inside_the_skin_of_the_given_mask():
    from artifygan.training.side_gans import skin_patches

    a = face(blue_cols=40)  # 96²: skin on the left 56 columns, blue on the right
    x = torch.from_numpy(a).permute(2, 0, 1).float().div(127.5).sub(1).unsqueeze(0).repeat(2, 1, 1, 1)
    p = skin_patches(x, x, 16, n=20)
    assert p.shape == (40, 3, 16, 16)
    skin = torch.tensor(SKIN).float().div(127.5).sub(1).view(1, 3, 1, 1)
    assert (p - skin).abs().amax() < 0.02  # every pixel of every patch is skin, none blue
    # the output's patches follow its photo's skin: a blue output keeps the places the photo gives
    out = torch.full_like(x, 0.5).requires_grad_(True)
    q = skin_patches(out, x, 16, n=4)
    q.sum().backward()
    assert out.grad[:, :, :, -24:].abs().sum() == 0 and out.grad.abs().sum() > 0  # differentiable, skin only
    # no skin at all (a grey picture): patches from the centre
    grey = torch.zeros(1, 3, 64, 64)
    grey[..., 24:40, 24:40] = 1.0
    assert torch.equal(skin_patches(grey, grey, 16, n=3), torch.ones(3, 3, 16, 16))
