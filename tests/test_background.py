"""A style's plain background (artifygan.background): found in the references, recorded, painted behind the person."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from artifygan.background import (
    BackgroundStep,
    PlainBackground,
    parse_colour,
    person_mask,
    plain_corner_colour,
    recorded_background,
    references_background,
)
from artifygan.face_finder import LazyFaces
from artifygan.faces import Face
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.models.snapshot import SnapshotError
from artifygan.styles import AdaptConfig
from artifygan.styles.postprocess import style_postprocess

from .conftest import DATA, YUNET, need_shared, with_meta

BLUE = (40, 90, 200)
AVATAR = {"background": {"colour": "#2850c8", "feather": 0}}  # a style's recorded backdrop


def portrait(size: int = 128, seed: int = 0) -> tuple[np.ndarray, Face]:
    """A textured green-grey wall, a skin-coloured head with dark hair and a red torso at the bottom,
    and the face box a detector would give."""
    rng = np.random.default_rng(seed)
    a = (np.array([90, 130, 100]) + rng.normal(0, 12, (size, size, 3))).clip(0, 255)
    yy, xx = np.mgrid[:size, :size] / size
    hair = ((xx - 0.5) / 0.26) ** 2 + ((yy - 0.42) / 0.32) ** 2 < 1
    head = ((xx - 0.5) / 0.2) ** 2 + ((yy - 0.47) / 0.25) ** 2 < 1
    torso = (yy > 0.7) & (np.abs(xx - 0.5) < 0.38)  # the neck joins it to the head
    a[hair] = (50, 35, 25)
    a[head] = (225, 175, 145)
    a[torso] = (190, 40, 50)
    face = Face(box=(0.31 * size, 0.25 * size, 0.69 * size, 0.7 * size), landmarks=None, score=0.99)
    return a.astype(np.uint8), face


class FakeDetector:
    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces
        self.calls = 0

    def detect(self, rgb: np.ndarray) -> list[Face]:
        self.calls += 1
        return self.faces


def test_colours_and_settings_are_checked_and_round_trip():
    assert parse_colour("#FFa000") == (255, 160, 0) == parse_colour("ffa000")
    for bad in ("#fff", "white", "#gg0000", ""):
        with pytest.raises(ValueError, match="#rrggbb"):
            parse_colour(bad)
    bg = PlainBackground((255, 160, 0), feather=2.0)
    assert bg.to_meta() == {"colour": "#ffa000", "feather": 2.0}
    assert recorded_background({"postprocess": {"background": bg.to_meta()}}) == bg
    assert recorded_background({}) is None and recorded_background({"postprocess": {}}) is None
    with pytest.raises(ValueError, match="feather"):
        PlainBackground((0, 0, 0), feather=20)
    with pytest.raises(ValueError, match="three integers"):
        PlainBackground((0, 0, 300))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown background setting"):
        recorded_background({"postprocess": {"background": {"colour": "#ffffff", "blur": 1}}})
    with pytest.raises(ValueError, match="postprocess.background: .*#rrggbb"):
        recorded_background({"postprocess": {"background": {"colour": [255, 255, 255]}}})


def test_references_with_plain_corners_give_their_backdrop_and_a_majority_is_needed():
    rng = np.random.default_rng(0)
    avatar = np.full((100, 80, 3), 250, np.uint8)
    avatar[30:, 20:60] = (200, 150, 120)  # the person, away from the top corners
    busy = rng.integers(0, 255, (100, 80, 3), dtype=np.uint8)  # a print: its background is drawn
    two_tone = avatar.copy()
    two_tone[:, 40:] = (20, 20, 20)  # plain corners, but not alike
    assert plain_corner_colour(Image.fromarray(avatar)) == (250, 250, 250)
    assert plain_corner_colour(Image.fromarray(busy)) is None
    assert plain_corner_colour(Image.fromarray(two_tone)) is None
    grey = avatar.copy()
    grey[avatar[..., 0] == 250] = 230
    refs = [Image.fromarray(x) for x in (avatar, avatar, grey, busy)]
    assert references_background(refs) == (250, 250, 250)  # 3 of 4 plain: the median colour
    assert references_background(refs[2:]) is None  # 1 of 2 is not more than half
    assert references_background([]) is None


def test_the_cut_keeps_the_person_and_drops_the_wall():
    rgb, face = portrait()
    m = person_mask(rgb, [face])
    assert m.shape == (128, 128) and m.dtype == np.float32
    assert m[40:90, 50:78].min() == 1.0  # the face
    assert m[110:, 30:98].mean() > 0.95  # the torso
    assert m[:15, :15].max() == 0.0 and m[:15, -15:].max() == 0.0  # the wall above, left and right
    assert m[60:100, :8].mean() < 0.05  # and beside the person
    big = np.asarray(Image.fromarray(rgb).resize((640, 640)))  # cut at the working size, mask at full size
    scaled = Face(tuple(5 * v for v in face.box), None, 0.99)  # type: ignore[arg-type]
    mb = person_mask(big, [scaled])
    assert mb.shape == (640, 640)
    assert np.abs(np.asarray(Image.fromarray(m).resize((640, 640))) - mb).mean() < 0.05


def test_the_step_paints_only_the_background_and_leaves_faceless_pictures_alone(monkeypatch):
    rgb, face = portrait()
    photo = Image.fromarray(rgb)
    cartoon = Image.fromarray(np.full((128, 128, 3), 100, np.uint8))
    step = BackgroundStep(PlainBackground(BLUE, feather=0))
    out = np.asarray(step.apply(cartoon, photo, [face]))
    assert (out[:15, :15] == BLUE).all() and (out[40:90, 50:78] == 100).all()
    assert step.apply(cartoon, photo, []) is cartoon  # no face: nothing to cut out

    import artifygan.faces
    from artifygan.face_finder import LazyFaces
    from artifygan.hub import WeightsNotFoundError

    def missing(*a, **k):
        raise WeightsNotFoundError("YuNet face detector: not found (offline)")

    monkeypatch.setattr(artifygan.faces, "PhotoFaceDetector", missing)
    lazy = LazyFaces()
    with pytest.warns(UserWarning, match="are off: no face detector"):
        assert lazy.detect(rgb) == []
    assert lazy.detect(rgb) == []  # warned once, still safe


def test_a_snapshot_that_records_it_paints_the_background_on_every_surface(tiny_snapshot, tmp_path, monkeypatch):
    import artifygan.faces

    rgb, face = portrait()
    fake = FakeDetector([face])
    monkeypatch.setattr(artifygan.faces, "PhotoFaceDetector", lambda *a, **k: fake)  # loaded by LazyFaces
    snap = with_meta(tiny_snapshot, tmp_path / "avatar", postprocess=AVATAR)
    photo = Image.fromarray(rgb)
    plain = np.asarray(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")(photo))
    for backend in ("torch", "onnx"):
        if backend == "onnx":
            pytest.importorskip("onnxruntime")
        out = np.asarray(Cartoonizer.from_pretrained(snap, device="cpu", backend=backend)(photo))
        assert (out[:15, :15] == (40, 80, 200)).all()  # the wall: the recorded colour
        assert np.abs(out[40:90, 50:78].astype(int) - plain[40:90, 50:78]).max() <= 2  # the face: the model's
    kept = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch", background=False)
    assert kept.background is None  # the model's own output, up to float noise between runs (oneDNN)
    assert np.abs(np.asarray(kept(photo)).astype(int) - plain).max() <= 2
    bad = with_meta(tiny_snapshot, tmp_path / "bad", postprocess={"background": {"colour": "blue"}})
    with pytest.raises(SnapshotError, match=r"config.json: postprocess.background: .*#rrggbb"):
        Cartoonizer.from_pretrained(bad, device="cpu")


def test_adapt_records_the_references_backdrop_unless_told_otherwise():
    avatar = np.full((64, 64, 3), 255, np.uint8)
    avatar[20:, 16:48] = (200, 150, 120)
    refs = [Image.fromarray(avatar)] * 3
    busy = [Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))]
    faceless = FakeDetector([])  # (the eyes step, artifygan.eyes, finds no face in these)
    auto = style_postprocess(AdaptConfig(), refs, faceless)["postprocess"]
    assert auto == {"photo_colour": {"gain": 1.25, "skin": True}, "background": {"colour": "#ffffff", "feather": 1.5}}
    assert "background" not in style_postprocess(AdaptConfig(), busy, faceless)["postprocess"]
    assert style_postprocess(AdaptConfig(background="keep", photo_colour=0), refs, faceless) == {}
    chosen = style_postprocess(AdaptConfig(background="#000000", photo_colour=0), busy, faceless)
    assert chosen == {"postprocess": {"background": {"colour": "#000000", "feather": 1.5}}}
    with pytest.raises(ValueError, match="background: auto, keep or a colour"):
        AdaptConfig(background="white")


def test_face_mode_paints_the_finished_picture_once_and_not_around_a_kept_photo(tiny_snapshot, tmp_path):
    from artifygan.inference.wild import WildCartoonizer, WildOptions

    rgb, face = portrait(256)
    s = 256
    lms = np.array([[0.42, 0.42], [0.58, 0.42], [0.5, 0.5], [0.44, 0.6], [0.56, 0.6]], np.float32) * s
    face = Face(face.box, lms, 0.99)
    snap = with_meta(tiny_snapshot, tmp_path / "avatar", postprocess=AVATAR)
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    assert cz.background is not None
    step_detector = FakeDetector([face])
    cz.face_finder = LazyFaces(detector=step_detector)
    wild = WildCartoonizer(cz, detector=FakeDetector([face]))
    photo = Image.fromarray(rgb)
    r = wild(photo)
    assert r.mode == "face"
    out = np.asarray(r.image)
    assert (out[:30, :30] == (40, 80, 200)).all() and (out[:30, -30:] == (40, 80, 200)).all()
    assert not (out[90:170, 100:156] == (40, 80, 200)).all(axis=-1).any()  # the pasted face: never painted
    assert step_detector.calls == 0  # the faces face mode found, not a second detection
    kept = np.asarray(wild(photo, options=WildOptions(background="keep")).image)
    assert np.array_equal(kept[:30, :30], rgb[:30, :30])  # around a kept photo nothing is painted
    grey_photo = photo.convert("L").convert("RGB")  # black and white: the backdrop is greyed with the rest
    grey = np.asarray(wild(grey_photo).image).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 2]).max() <= 1
    assert abs(grey[:30, :30].mean() - np.dot((40, 80, 200), (0.299, 0.587, 0.114))) < 2
    # a black-and-white style with a backdrop greyed the kept photo too, all of it (a grey cartoon of a
    # colour photo: its backdrop is greyed with the faces, but around a kept photo there is no backdrop)
    pencil = with_meta(tiny_snapshot, tmp_path / "pencil", postprocess={**AVATAR, "grey": True})
    cz = Cartoonizer.from_pretrained(pencil, device="cpu", backend="torch")
    cz.face_finder = LazyFaces(detector=FakeDetector([face]))
    wild = WildCartoonizer(cz, detector=FakeDetector([face]))
    kept = np.asarray(wild(photo, options=WildOptions(background="keep")).image)
    assert np.array_equal(kept[:30, :30], rgb[:30, :30])  # the photo, in its colours
    painted = np.asarray(wild(photo).image).astype(int)
    assert np.abs(painted[..., 0] - painted[..., 2]).max() <= 1  # a cartoon of it: all grey, backdrop too


SELFIE = DATA / "selfie2anime" / "trainA"


@need_shared(YUNET, SELFIE)
def test_translate_paints_a_real_photos_background_with_the_detector_it_was_given(tiny_snapshot, tmp_path,
                                                                                  monkeypatch):
    """A real selfie on a wide textured wall, whole mode, the detector given only as --yunet: the wall takes
    the style's colour, the face does not; --background keep keeps the wall."""
    from artifygan.cli import main

    monkeypatch.delenv("ARTIFYGAN_YUNET", raising=False)
    snap = with_meta(tiny_snapshot, tmp_path / "avatar", postprocess=AVATAR)
    wall = np.random.default_rng(0).integers(60, 200, (320, 480, 3), dtype=np.uint8)
    photo = Image.fromarray(wall)
    photo.paste(Image.open(sorted(SELFIE.glob("*.jpg"))[0]).convert("RGB").resize((200, 200)), (140, 120))
    photo.save(tmp_path / "me.png")
    common = ["-m", str(snap), "--mode", "whole", "--yunet", str(YUNET), "--device", "cpu", "-q"]
    assert main(["translate", str(tmp_path / "me.png"), "-o", str(tmp_path / "out"), *common]) == 0
    out = np.asarray(Image.open(tmp_path / "out" / "me.png").convert("RGB"))
    assert (out[:40, :40] == (40, 80, 200)).all() and (out[:40, -40:] == (40, 80, 200)).all()
    assert not (out[190:260, 200:280] == (40, 80, 200)).all(axis=-1).any()  # the face
    assert main(["translate", str(tmp_path / "me.png"), "-o", str(tmp_path / "kept"), *common,
                 "--background", "keep"]) == 0
    kept = np.asarray(Image.open(tmp_path / "kept" / "me.png").convert("RGB"))
    assert not (kept[:40, :40] == (40, 80, 200)).all(axis=-1).any()
