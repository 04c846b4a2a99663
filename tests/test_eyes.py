"""Bigger eyes for styles that draw them (artifygan.eyes): found in the references, recorded, applied."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from artifygan.eyes import BigEyes, enlarge_eyes, eye_white_share, recorded_eyes
from artifygan.face_finder import LazyFaces
from artifygan.faces import Face
from artifygan.inference.cartoonizer import Cartoonizer
from artifygan.models.snapshot import SnapshotError
from artifygan.styles import AdaptConfig
from artifygan.styles.postprocess import style_eyes, style_postprocess

from .conftest import with_meta
from .test_background import FakeDetector

EYES = np.array([[40.0, 50.0], [88.0, 50.0]])  # eye distance 48: warp radius 0.45 × 48 = 21.6 px


def face_at(eyes: np.ndarray = EYES) -> Face:
    lms = np.vstack([eyes, [[64, 70], [50, 90], [78, 90]]]).astype(np.float32)
    return Face((20.0, 20.0, 108.0, 110.0), lms, 0.99)


def drawn_face(white_eyes: bool) -> np.ndarray:
    """Peach skin with a dark pupil at each eye; ``white_eyes``: a wide white eye around each pupil."""
    a = np.full((128, 128, 3), (230, 180, 150), np.uint8)
    yy, xx = np.mgrid[:128, :128]
    for cx, cy in EYES:
        if white_eyes:
            a[((xx - cx) / 10) ** 2 + ((yy - cy) / 7) ** 2 < 1] = (250, 250, 250)
        a[(xx - cx) ** 2 + (yy - cy) ** 2 < 9] = (30, 20, 20)
    return a


def test_settings_are_checked_and_round_trip():
    assert BigEyes.from_dict(BigEyes(1.3).to_meta()) == BigEyes(1.3)
    for bad in ({"scale": 1.0}, {"scale": 2.5}, {"radius": 0.8}, {"size": 2}, "big"):
        with pytest.raises(ValueError, match="eyes"):
            BigEyes.from_dict(bad)
    assert recorded_eyes({}) is None
    assert recorded_eyes({"postprocess": {"eyes": {"scale": 1.5}}}) == BigEyes(1.5)
    for bad_choice in ("3", "big", "1"):
        with pytest.raises(ValueError, match="eyes: auto, off or a scale"):
            AdaptConfig(eyes=bad_choice)


def test_the_warp_magnifies_each_eye_and_leaves_the_rest_untouched():
    a = drawn_face(white_eyes=False)
    out = enlarge_eyes(a, [face_at()], BigEyes(1.5))
    dark_before, dark_after = (a[..., 0] < 100).sum(), (out[..., 0] < 100).sum()
    assert 1.9 < dark_after / dark_before < 2.6  # areas grow by about scale² = 2.25
    yy, xx = np.mgrid[:128, :128]
    outside = np.min([np.hypot(xx - cx, yy - cy) for cx, cy in EYES], axis=0) > 0.45 * 48 + 1
    assert np.array_equal(out[outside], a[outside])
    assert np.array_equal(enlarge_eyes(a, [], BigEyes()), a)
    tiny = face_at(np.array([[60.0, 50.0], [63.0, 50.0]]))  # 3 px apart: too small to warp
    assert np.array_equal(enlarge_eyes(a, [tiny], BigEyes()), a)


def test_drawn_eye_whites_turn_it_on_and_photo_eyes_do_not():
    drawn, plain = drawn_face(True), drawn_face(False)
    assert eye_white_share(drawn, face_at()) > 0.1 and eye_white_share(plain, face_at()) == 0.0
    assert eye_white_share(drawn, Face((0, 0, 9, 9), None, 1.0)) is None
    finder = FakeDetector([face_at()])
    cartoon_refs = [Image.fromarray(drawn)] * 3
    assert style_eyes(AdaptConfig(), cartoon_refs, finder) == BigEyes(1.5)
    assert style_eyes(AdaptConfig(), [Image.fromarray(plain)] * 3, finder) is None
    assert style_eyes(AdaptConfig(), cartoon_refs, FakeDetector([])) is None  # no face: no evidence
    assert style_eyes(AdaptConfig(eyes="off"), cartoon_refs, finder) is None
    assert style_eyes(AdaptConfig(eyes="1.3"), [], FakeDetector([])) == BigEyes(1.3)
    measured: dict = {}
    post = style_postprocess(AdaptConfig(photo_colour=0, background="keep"), cartoon_refs, finder, measured)
    assert post == {"postprocess": {"eyes": {"scale": 1.5, "radius": 0.45}}}
    assert measured["eye_white_share"] == round(eye_white_share(drawn, face_at()), 4)  # why: kept in the config
    style_eyes(AdaptConfig(), cartoon_refs, FakeDetector([]), measured)
    assert measured["eye_white_share"] is None  # no face found


def test_a_style_that_records_them_changes_only_the_eyes_on_every_surface(tiny_snapshot, tmp_path):
    from artifygan.inference.wild import WildCartoonizer, WildOptions

    snap = with_meta(tiny_snapshot, tmp_path / "big-eyes", postprocess={"eyes": {"scale": 1.6}})
    photo = Image.fromarray(drawn_face(False))
    plain = np.asarray(Cartoonizer.from_pretrained(tiny_snapshot, device="cpu", backend="torch")(photo)).astype(int)
    cz = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch")
    finder = FakeDetector([face_at()])
    cz.face_finder = LazyFaces(detector=finder)
    out = np.asarray(cz(photo)).astype(int)
    yy, xx = np.mgrid[:128, :128]
    near = np.min([np.hypot(xx - cx, yy - cy) for cx, cy in EYES], axis=0) < 0.45 * 48
    assert np.abs(out - plain)[near].max() > 10  # the eyes moved
    assert np.abs(out - plain)[~near].max() <= 2  # nothing else did
    assert finder.calls == 1
    off = Cartoonizer.from_pretrained(snap, device="cpu", backend="torch", background=False)
    assert off.eyes is None and np.abs(np.asarray(off(photo)).astype(int) - plain).max() <= 2
    kept = np.asarray(cz(photo, paint_background=False)).astype(int)  # keeping the backdrop keeps the eyes step
    assert np.abs(kept - out).max() <= 2
    face_mode = WildCartoonizer(cz, WildOptions(background="keep"), detector=FakeDetector([face_at()]))
    before = finder.calls
    r = face_mode(photo)
    assert r.mode == "face" and finder.calls == before  # the faces face mode found, not a second detection
    same_without = WildCartoonizer(off, WildOptions(background="keep"), detector=FakeDetector([face_at()]))
    diff = np.abs(np.asarray(r.image).astype(int) - np.asarray(same_without(photo).image))
    assert diff[near].max() > 10 and diff[~near].max() <= 2
    bad = with_meta(tiny_snapshot, tmp_path / "bad", postprocess={"eyes": {"scale": 4}})
    with pytest.raises(SnapshotError, match=r"config.json: postprocess.eyes: .*\(1, 2\]"):
        Cartoonizer.from_pretrained(bad, device="cpu")


def test_eyes_off_the_picture_are_not_measured_over_the_whole_of_it():
    """A landmark left of or above the picture gave negative slice ends, read from the far side."""
    rgb = np.zeros((50, 50, 3), np.uint8)
    rgb[:, 25:] = 255
    lm = np.array([[-10, -10], [10, -10], [0, 5], [-5, 15], [5, 15]], np.float64)
    assert eye_white_share(rgb, Face((-20.0, -20.0, 20.0, 20.0), lm, 0.9)) is None
    assert eye_white_share(rgb, Face((0.0, 0.0, 9.0, 9.0), np.full((5, 2), np.nan), 0.9)) is None
