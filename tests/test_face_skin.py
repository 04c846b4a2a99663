"""Clean face skin (artifygan.face_skin): lines smoothed out of the face's skin, eyes and mouth left alone."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
from PIL import Image

from artifygan.commands.common import clean_face_choice
from artifygan.face_finder import LazyFaces
from artifygan.face_skin import FaceSkin, clean_face_skin, face_weight, recorded_face_skin
from artifygan.faces import Face
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.metrics.faceparts import stroke_mask
from artifygan.models.snapshot import SnapshotError

from .conftest import with_meta
from .test_background import FakeDetector

SKIN = (225, 180, 150)


def face_at(scale: float = 1.0) -> Face:
    """A face 70 px between the eyes at scale 1 (the step's reference), in a 256² picture."""
    lms = np.array([[93, 110], [163, 110], [128, 150], [103, 180], [153, 180]], np.float32) * scale
    return Face((58 * scale, 50 * scale, 198 * scale, 230 * scale), lms, 0.99)


def cracked_face(scale: float = 1.0) -> np.ndarray:
    """Peach skin with dark eyes and mouth, and thin dark lines across both cheeks and the forehead."""
    n = round(256 * scale)
    a = np.full((n, n, 3), SKIN, np.uint8)
    lm = face_at(scale).landmarks
    assert lm is not None
    for x, y in lm[:2]:
        cv2.circle(a, (round(x), round(y)), round(9 * scale), (40, 30, 30), -1)
    cv2.line(a, tuple(np.round(lm[3]).astype(int)), tuple(np.round(lm[4]).astype(int)), (120, 40, 50),
             max(1, round(3 * scale)))
    for x0, y0, x1, y1 in ((70, 140, 100, 165), (186, 140, 156, 165), (100, 75, 150, 70)):  # cheeks, forehead
        cv2.line(a, (round(x0 * scale), round(y0 * scale)), (round(x1 * scale), round(y1 * scale)),
                 (150, 110, 95), max(1, round(2 * scale)))
    return a


def line_pixels(a: np.ndarray) -> int:
    """Thin dark-stroke pixels (the evaluate figure's test, at 256²) where the step cleans fully."""
    grey = cv2.cvtColor(cv2.resize(a, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    region = face_weight(grey.shape, face_at().landmarks) > 0.9  # type: ignore[arg-type]
    return int((stroke_mask(grey) & region).sum())


def line_depth(a: np.ndarray) -> float:
    """How much darker than their 9×9 median the pixels are, summed where the step cleans fully (256²)."""
    grey = cv2.cvtColor(cv2.resize(a, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    region = face_weight(grey.shape, face_at().landmarks) > 0.9  # type: ignore[arg-type]
    return float(np.clip(cv2.medianBlur(grey, 9).astype(int) - grey, 0, None)[region].sum())


def test_settings_are_checked_and_round_trip():
    assert FaceSkin.from_dict(FaceSkin(0.7).to_meta()) == FaceSkin(0.7)
    for bad in ({"lines": -0.1}, {"lines": 1.5}, {"lines": float("nan")}, {"strength": 1}, "on"):
        with pytest.raises(ValueError, match="face_skin"):
            FaceSkin.from_dict(bad)
    assert recorded_face_skin({}) is None
    assert recorded_face_skin({"postprocess": {"face_skin": {}}}) == FaceSkin()
    assert clean_face_choice("auto") is None and clean_face_choice("off") is False
    assert clean_face_choice("on") is True and clean_face_choice("0.25") == 0.25
    for bad_choice in ("1.5", "-1", "nan", "strong"):
        with pytest.raises(argparse.ArgumentTypeError, match="auto, on, off or a number"):
            clean_face_choice(bad_choice)


def test_a_textured_face_gets_more_of_its_lines_lifted():
    a = cracked_face()
    rng = np.random.default_rng(0)
    wrinkled = a.copy()  # the photo: fine dark texture over the skin (the input skin step's measure: > 0.10)
    specks = rng.random(a.shape[:2]) < 0.2
    wrinkled[specks] = (np.asarray(SKIN) * 0.8).astype(np.uint8)
    smooth_photo = np.full_like(a, SKIN)
    depth = {}
    for name, photo, textured in (("smooth", smooth_photo, True), ("wrinkled", wrinkled, True),
                                  ("wrinkled, off", wrinkled, False)):
        depth[name] = line_depth(clean_face_skin(a, photo, [face_at()], FaceSkin(0.0, textured=textured)))
    assert depth["wrinkled"] < 0.5 * depth["smooth"]  # lines 0 became up to 1 on the textured face
    assert depth["wrinkled, off"] == pytest.approx(depth["smooth"], rel=0.1)
    assert FaceSkin.from_dict({"lines": 0.4}) == FaceSkin(0.4, textured=True)
    with pytest.raises(ValueError, match="textured must be true or false"):
        FaceSkin.from_dict({"textured": "yes"})


def test_the_weight_covers_cheeks_and_forehead_and_spares_eyes_nose_and_mouth():
    w = face_weight((256, 256), face_at().landmarks)  # type: ignore[arg-type]
    for x, y in ((85, 160), (171, 160), (128, 70)):  # both cheeks, the forehead
        assert w[y, x] > 0.9
    for x, y in ((93, 110), (163, 110), (93, 95), (128, 150), (128, 180)):  # eyes, a brow, nose tip, mouth
        assert w[y, x] < 0.25
    assert w[5, 5] == 0 and w[255, 128] < 0.01 and w[128, 5] == 0  # outside the face
    turned = 255 - face_at().landmarks  # type: ignore[operator]  # the same face upside down
    w = face_weight((256, 256), turned)
    assert w[255 - 70, 255 - 128] > 0.9 and w[255 - 110, 255 - 93] < 0.25  # its forehead; an eye


@pytest.mark.parametrize("scale", [1.0, 4.0])  # at the reference size, and a face 4x larger (filtered smaller)
def test_lines_on_the_skin_go_and_the_rest_stays(scale):
    a = cracked_face(scale)
    out = clean_face_skin(a, a, [face_at(scale)], FaceSkin(1.0))
    before, after = line_pixels(a), line_pixels(out)
    assert before > 100 and after < 0.1 * before
    lm = face_at(scale).landmarks
    assert lm is not None
    eye = (round(lm[0][1]), round(lm[0][0]))
    assert np.array_equal(out[eye], a[eye])  # the eye keeps its dark pupil
    far = np.ones(a.shape[:2], bool)
    far[round(40 * scale):round(245 * scale), round(45 * scale):round(212 * scale)] = False
    assert np.array_equal(out[far], a[far])  # outside the face: exactly the input
    milder = clean_face_skin(a, a, [face_at(scale)], FaceSkin(0.4))
    assert line_depth(out) < line_depth(milder) < 0.8 * line_depth(a)  # lines 0.4 lifts less than 1.0


def test_around_a_kept_photo_only_the_pasted_part_is_cleaned():
    """The oval reaches past the top of face mode's paste (onto the kept photo's hair): only the pasted
    cartoon may change there, as the skin tone already did."""
    a = cracked_face()
    pasted = np.zeros(a.shape[:2], np.float32)
    pasted[120:, :] = 1.0  # the paste covers the lower face only
    out = clean_face_skin(a, a, [face_at()], FaceSkin(1.0), cartoon=pasted)
    assert np.array_equal(out[:120], a[:120])  # the kept photo: exactly as it was
    below = lambda x: np.concatenate([np.full_like(x[:120], SKIN), x[120:]])  # noqa: E731
    assert line_pixels(below(out)) < 0.2 * line_pixels(below(a))  # the pasted part's cheeks: cleaned


def test_no_face_tiny_faces_and_non_skin_are_left_alone():
    a = cracked_face()
    assert np.array_equal(clean_face_skin(a, a, [], FaceSkin(1.0)), a)
    tiny = Face((0, 0, 9, 9), np.array([[2, 2], [6, 2], [4, 4], [3, 6], [5, 6]], np.float32), 0.9)
    assert np.array_equal(clean_face_skin(a, a, [tiny, Face((0, 0, 9, 9), None, 0.9)], FaceSkin(1.0)), a)
    blue = a.copy()  # the face painted blue in the photo: a pixel unlike the skin at the face's centre is kept
    photo = np.full_like(a, SKIN)
    photo[:, :100] = (40, 60, 200)
    out = clean_face_skin(blue, photo, [face_at()], FaceSkin(1.0))
    assert line_pixels(out[:, :80]) == line_pixels(a[:, :80])


def test_a_face_cut_by_the_picture_edge_takes_its_skin_colour_from_the_face():
    """The face's centre on the left edge: its crop's centre falls beside the face, on a blue backdrop."""
    a = np.ascontiguousarray(cracked_face()[:, 128:])
    photo = np.full_like(a, SKIN)
    photo[:, 62:] = (40, 60, 200)
    lms = face_at().landmarks - [128, 0]  # type: ignore[operator]
    out = clean_face_skin(a, photo, [Face((0, 50, 70, 230), lms, 0.99)], FaceSkin(1.0))
    region = face_weight(a.shape[:2], lms) > 0.9
    region[:, 60:] = False
    before, after = ((stroke_mask(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)) & region).sum() for x in (a, out))
    assert before > 50 and after < 0.1 * before


def test_the_default_records_it_and_every_surface_applies_it(tiny_snapshot, tmp_path):
    from artifygan.inference.wild import WildCartoonizer, WildOptions

    assert Cartoonizer.from_pretrained(None, device="cpu").face_skin is not None  # the bundled default
    snap = with_meta(tiny_snapshot, tmp_path / "clean", postprocess={"face_skin": {"lines": 1.0}})
    photo = Image.fromarray(cracked_face())
    plain = np.asarray(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")(photo))
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    finder = FakeDetector([face_at()])
    cz.face_finder = LazyFaces(detector=finder)
    out = np.asarray(cz(photo))
    assert finder.calls == 1
    expected = clean_face_skin(plain, np.asarray(photo), [face_at()], FaceSkin(1.0))
    assert np.abs(out.astype(int) - expected).max() <= 2  # the photo's faces place it, after the network
    assert not np.array_equal(out, plain)
    off = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch", clean_face=False)
    assert off.face_skin is None and np.abs(np.asarray(off(photo)).astype(int) - plain).max() <= 2
    assert Cartoonizer.from_pretrained(snap, device="cpu", clean_face=0.3).face_skin.settings == FaceSkin(0.3, False)
    assert Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", clean_face=True).face_skin.settings == FaceSkin()
    face_mode = WildCartoonizer(cz, WildOptions(background="keep"), detector=FakeDetector([face_at()]))
    before = finder.calls
    r = face_mode(photo)
    assert r.mode == "face" and finder.calls == before  # face mode's own faces, not a second detection
    saved = tmp_path / "saved"
    off.save_pretrained(saved)  # a copy records the steps it runs
    assert recorded_face_skin(Cartoonizer.from_pretrained(saved, device="cpu").meta) is None
    bad = with_meta(tiny_snapshot, tmp_path / "bad", postprocess={"face_skin": {"lines": 2}})
    with pytest.raises(SnapshotError, match=r"config.json: postprocess.face_skin: .*\[0, 1\]"):
        Cartoonizer.from_pretrained(bad, device="cpu")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", clean_face=float("nan"))


def test_without_a_face_detector_it_warns_once_and_translates(tiny_snapshot, tmp_path, monkeypatch):
    snap = with_meta(tiny_snapshot, tmp_path / "clean", postprocess={"face_skin": {}})
    monkeypatch.setenv("ARTIFYGAN_YUNET", str(tmp_path / "missing.onnx"))
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    plain = Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")
    photo = Image.fromarray(cracked_face())
    with pytest.warns(UserWarning, match="clean face skin.*are off: no face detector"):
        out = cz(photo)
    assert np.abs(np.asarray(out).astype(int) - np.asarray(plain(photo))).max() <= 2


def test_the_cli_prints_the_missing_detector_as_one_warning_line(tiny_snapshot, tmp_path, monkeypatch, capsys):
    from artifygan.cli import main

    snap = with_meta(tiny_snapshot, tmp_path / "clean", postprocess={"face_skin": {}})
    monkeypatch.setenv("ARTIFYGAN_YUNET", str(tmp_path / "missing.onnx"))
    Image.fromarray(cracked_face()).save(tmp_path / "me.png")
    assert main(["translate", str(tmp_path / "me.png"), "-o", str(tmp_path / "out"), "-m", str(snap), "--mode",
                 "whole", "--device", "cpu", "-q"]) == 0
    err = capsys.readouterr().err.splitlines()
    warned = [line for line in err if "no face detector" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: the steps placed by faces (clean face skin")
    assert not any("UserWarning" in line or "face_finder.detect" in line for line in err)
    assert (tmp_path / "out" / "me.png").is_file()


def test_a_share_given_by_number_is_the_share_on_every_face():
    """The textured faces' extra (up to all lines lifted) overrode a number: --clean-face 0 and 1 gave the
    same picture of the bundled astronaut, whose skin counts as textured."""
    from artifygan.face_skin import chosen_face_skin

    recorded = FaceSkin(0.4, textured=True)
    for share in (0.0, 0.5, 1.0):
        chosen = chosen_face_skin(recorded, share)
        assert chosen is not None and chosen.lines == share and chosen.textured is False
    assert chosen_face_skin(recorded, True) == recorded  # "on": as recorded, textured faces included


def test_python_choices_are_checked():
    from artifygan.face_skin import chosen_face_skin

    recorded = FaceSkin(0.4)
    assert chosen_face_skin(recorded, np.bool_(True)) == recorded
    assert chosen_face_skin(recorded, np.bool_(False)) is None
    assert chosen_face_skin(None, np.float32(0.3)) == FaceSkin(0.3, False)  # not 0.30000001192092896 in a config
    assert chosen_face_skin(None, 0) == FaceSkin(0.0, False)  # 0: the skin still smoothed, no line lifted
    for bad in ("on", "0.5", [0.5]):
        with pytest.raises(ValueError, match="clean_face: None"):
            chosen_face_skin(recorded, bad)  # type: ignore[arg-type]


class RecordingDetector(FakeDetector):
    def detect(self, rgb: np.ndarray) -> list[Face]:
        self.seen = rgb.copy()
        return super().detect(rgb)


def test_faces_are_found_in_the_photo_not_its_smoothed_copy(tiny_snapshot, tmp_path):
    snap = with_meta(tiny_snapshot, tmp_path / "smoothed", postprocess={"face_skin": {}},
                     preprocess={"bilateral": {"d": 9, "sigma_color": 80.0, "sigma_space": 9.0}})
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    finder = RecordingDetector([face_at()])
    cz.face_finder = LazyFaces(detector=finder)
    photo = cracked_face()
    cz(Image.fromarray(photo))
    assert np.array_equal(finder.seen, photo)  # the smoothing would have blurred the lines it was shown


def test_face_mode_around_a_kept_background_leaves_untranslated_faces_alone(tiny_snapshot, tmp_path):
    from artifygan.inference.wild import WildCartoonizer, WildOptions

    photo = np.concatenate([cracked_face(), cracked_face()], axis=1)  # two faces side by side, 512×256
    first = face_at()
    assert first.landmarks is not None
    second = Face((first.box[0] + 256, first.box[1], first.box[2] + 256, first.box[3]),
                  first.landmarks + np.array([256, 0], np.float32), 0.98)
    snap = with_meta(tiny_snapshot, tmp_path / "clean", postprocess={"face_skin": {"lines": 1.0}})
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    for background in ("keep", "blur"):
        wild = WildCartoonizer(cz, WildOptions(background=background, max_faces=1),
                               detector=FakeDetector([first, second]))
        out = np.asarray(wild(Image.fromarray(photo)).image)
        if background == "keep":
            assert np.array_equal(out[:, 300:], photo[:, 300:])  # the face over the cap: still the photo's pixels
        blurred = WildCartoonizer(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch"),
                                  WildOptions(background=background, max_faces=1),
                                  detector=FakeDetector([first, second]))(Image.fromarray(photo)).image
        assert np.array_equal(out[:, 300:], np.asarray(blurred)[:, 300:])  # no step there, kept or blurred


def test_a_named_detector_file_that_is_missing_is_an_error_in_whole_mode_too(tmp_path, capsys):
    from artifygan.cli import main

    Image.fromarray(cracked_face()).save(tmp_path / "me.png")
    code = main(["translate", str(tmp_path / "me.png"), "-o", str(tmp_path / "out"), "--mode", "whole",
                 "--yunet", str(tmp_path / "nope.onnx"), "--device", "cpu", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {tmp_path / 'nope.onnx'}: YuNet face detector not found (from path option)"]
    assert not (tmp_path / "out").exists()
    assert main(["serve", "--yunet", str(tmp_path / "nope.onnx"), "--port", "0"]) == 2  # before the server starts
    assert capsys.readouterr().err.strip().endswith("YuNet face detector not found (from path option)")


def test_a_web_request_or_a_call_may_skip_it(tiny_snapshot, tmp_path):
    from artifygan.inference.wild import WildOptions
    from artifygan.web.service import Service

    snap = with_meta(tiny_snapshot, tmp_path / "clean", postprocess={"face_skin": {"lines": 1.0}})
    service = Service({"clean": snap, "plain": tiny_snapshot}, device="cpu")
    for name in ("clean", "plain"):
        service.load(name).cz.face_finder = LazyFaces(detector=FakeDetector([face_at()]))
    photo = Image.fromarray(cracked_face())
    on, off = (np.asarray(service.translate(photo, "clean", "whole", clean_face=v).image) for v in (True, False))
    plain = np.asarray(service.translate(photo, "plain", "whole").image)
    assert not np.array_equal(on, plain) and np.array_equal(off, plain)  # skipped for that request only
    assert np.array_equal(np.asarray(service.translate(photo, "clean", "whole").image), on)
    cz = service.load("clean").cz
    assert np.array_equal(np.asarray(cz(photo, clean_face=False)), plain)
    from artifygan.inference.wild import WildCartoonizer

    wild = WildCartoonizer(cz, detector=FakeDetector([face_at()]))
    face_mode = [np.asarray(wild(photo, options=WildOptions(background="keep", clean_face=v)).image)
                 for v in (True, False)]
    assert not np.array_equal(*face_mode)
