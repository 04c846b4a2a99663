"""The photo's skin tone given back after the network: level moved, lines kept, highlights bounded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from artifygan.face_skin import FaceSkin, chosen_face_skin, face_weight
from artifygan.faces import Face
from artifygan.skin_tone import SkinTone, keep_skin_tone

LM = np.array([[100, 100], [140, 100], [120, 120], [108, 140], [132, 140]], np.float64)
FACE = Face((85.0, 75.0, 155.0, 165.0), LM, 0.9)
BROWN = (110, 70, 50)


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def scene(skin=BROWN, far=None) -> np.ndarray:
    """A blue picture with a face-and-neck of one skin colour; ``far``: a skin patch far from the face."""
    img = np.zeros((256, 320, 3), np.uint8)
    img[:] = (40, 60, 150)
    cv2.ellipse(img, (120, 125), (45, 60), 0, 0, 360, skin, -1)
    cv2.rectangle(img, (100, 170), (140, 256), skin, -1)
    if far is not None:
        img[20:60, 270:310] = far
    return img


def paler(img: np.ndarray, by: int) -> np.ndarray:
    out = img.astype(np.int16)
    skin = (np.abs(out - BROWN).sum(-1) < 5)
    out[skin] = np.clip(out[skin] + by, 0, 255)
    return out.astype(np.uint8)


def test_the_skin_level_moves_by_the_share_kept_and_the_drawn_lines_stay():
    photo = scene()
    out = paler(photo, 60)  # the network's paler skin
    cv2.line(out, (110, 150), (130, 150), (20, 20, 20), 2)  # a drawn line on the chin
    cheek, neck = (slice(110, 130), slice(95, 110)), (slice(200, 250), slice(110, 130))
    gap = lab(out)[cheek][..., 0].mean() - lab(photo)[cheek][..., 0].mean()
    assert gap > 15
    for keep in (1.0, 0.6):
        got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=keep, margin=None))
        for part in (cheek, neck):  # the face and the skin below it alike
            now = lab(got)[part][..., 0].mean() - lab(photo)[part][..., 0].mean()
            assert now == pytest.approx(float((1 - keep) * gap), abs=1.0)
        assert got[150, 120].max() < 60  # the line is still drawn
        assert np.array_equal(got[5:30, 5:30], out[5:30, 5:30])  # the blue ground is not skin


def test_skin_far_from_any_face_and_pictures_without_faces_are_left_alone():
    photo = scene(far=BROWN)
    out = paler(photo, 60)
    got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=1.0, margin=None))
    assert np.abs(got[25:55, 275:305].astype(int) - out[25:55, 275:305]).max() <= 2  # another person's hand
    assert keep_skin_tone(out, photo, [], SkinTone()) is out


def test_a_blown_out_highlight_on_the_face_comes_down_to_the_margin():
    photo = scene()
    out = photo.copy()
    out[118:128, 95:105] = 250  # a near-white blob on the cheek
    got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=0.0, margin=10.0))
    assert lab(got)[122, 100, 0] <= lab(photo)[122, 100, 0] + 10 + 3
    assert np.array_equal(got[:40], out[:40]) and np.array_equal(got[150:], out[150:])  # only the face oval


def test_settings_are_checked_recorded_and_kept_by_a_chosen_line_share():
    with pytest.raises(ValueError, match="keep must be in"):
        SkinTone(keep=1.5)
    with pytest.raises(ValueError, match="margin must be"):
        SkinTone(margin=-1)
    recorded = FaceSkin.from_dict({"lines": 0.4, "textured": True, "tone": {"keep": 0.6, "margin": 10}})
    assert recorded.tone == SkinTone(0.6, 10) and FaceSkin.from_dict(recorded.to_meta()) == recorded
    assert FaceSkin.from_dict({"lines": 0.4}).tone is None  # older snapshots: the network's tone
    with pytest.raises(ValueError, match="face_skin: tone: unknown"):
        FaceSkin.from_dict({"tone": {"keeep": 1}})
    assert chosen_face_skin(recorded, 0.2) == FaceSkin(lines=0.2, textured=False, tone=SkinTone(0.6, 10))
    assert chosen_face_skin(recorded, False) is None


def test_what_is_bright_in_the_photo_too_stays_bright():
    photo = scene()
    cv2.circle(photo, (100, 122), 5, (250, 220, 120), -1)  # a gold badge on the skin, bright in the photo
    out = photo.copy()
    got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=0.0, margin=10.0))
    assert np.abs(got[118:127, 96:105].astype(int) - out[118:127, 96:105]).max() <= 1


def test_a_large_picture_gets_what_a_small_one_gets():
    """The smooth fields are found at a working scale (a 1536² portrait took 0.8 s at full scale)."""
    photo, small_face = scene(), FACE
    out = paler(photo, 60)
    cv2.line(out, (110, 150), (130, 150), (20, 20, 20), 2)
    big = lambda a: cv2.resize(a, (a.shape[1] * 3, a.shape[0] * 3), interpolation=cv2.INTER_NEAREST)  # noqa: E731
    big_face = Face(tuple(3 * v for v in small_face.box), small_face.landmarks * 3, 0.9)
    got_big = keep_skin_tone(big(out), big(photo), [big_face], SkinTone())
    got_small = keep_skin_tone(out, photo, [small_face], SkinTone())
    diff = np.abs(got_big[1::3, 1::3].astype(int) - got_small)
    assert np.percentile(diff, 99) <= 3 and diff.mean() < 0.5


def test_around_a_kept_photo_only_the_pasted_faces_change():
    """Face mode around the photo: the neck is the photo's own and must stay so; the pasted face, ears and
    forehead included, all take the tone (the oval alone left a pale ring inside the paste)."""
    photo = scene()
    out = paler(photo, 60)
    pasted = np.zeros(photo.shape[:2], np.float32)
    pasted[60:185, 70:170] = 1.0  # where face mode pasted the cartoon face
    neck, side = (slice(200, 250), slice(110, 130)), (slice(118, 128), slice(76, 80))  # side: out of the oval
    got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=1.0, margin=None), cartoon=pasted)
    assert np.array_equal(got[neck], out[neck])
    assert abs(lab(got)[side][..., 0].mean() - lab(photo)[side][..., 0].mean()) < 3  # pasted, so toned too


def test_the_tone_is_measured_on_the_pasted_face_only():
    """Kept-photo pixels inside the oval (photo − photo = 0) diluted the shift: the same face came out
    paler around a kept photo than in a whole cartoon."""
    photo = scene()
    out = paler(photo, 60)
    half = out.copy()
    half[:125] = photo[:125]  # face mode: the photo kept above the paste's top edge
    pasted = np.zeros(photo.shape[:2], np.float32)
    pasted[125:] = 1.0
    whole = keep_skin_tone(out, photo, [FACE], SkinTone(keep=1.0, margin=None))
    kept = keep_skin_tone(half, photo, [FACE], SkinTone(keep=1.0, margin=None), cartoon=pasted)
    chin = (slice(140, 160), slice(110, 130))
    assert abs(lab(kept)[chin][..., 0].mean() - lab(whole)[chin][..., 0].mean()) < 1.5


def test_a_group_photo_with_small_faces_is_toned_at_a_bounded_working_size(monkeypatch):
    """With every face's eyes under 40 px apart a 12 MP photo was worked at full size: 2-7 s and a
    gigabyte; the working picture stays under MAX_WORK_PIXELS whatever the faces."""
    import artifygan.skin_tone as st

    sizes: list[tuple[int, int]] = []
    real = st._lab
    monkeypatch.setattr(st, "_lab", lambda rgb: (sizes.append(rgb.shape[:2]), real(rgb))[1])
    photo = np.zeros((3000, 4000, 3), np.uint8)
    photo[:] = (40, 60, 150)
    faces = []
    for i in range(4):  # four faces, eyes 30 px apart
        cx, cy = 500 + 900 * i, 1500
        cv2.ellipse(photo, (cx, cy), (34, 45), 0, 0, 360, BROWN, -1)
        faces.append(Face((cx - 35.0, cy - 45.0, cx + 35.0, cy + 45.0), (LM - [120, 120]) * 0.75 + [cx, cy], 0.9))
    out = paler(photo, 60)
    got = keep_skin_tone(out, photo, faces, SkinTone(keep=1.0, margin=None))
    assert sizes[0][0] * sizes[0][1] <= st.MAX_WORK_PIXELS * 1.01  # the working copies, not the full 12 MP
    cheek = (slice(1495, 1505), slice(1390, 1400))  # the second face's cheek
    assert abs(lab(got)[cheek][..., 0].mean() - lab(photo)[cheek][..., 0].mean()) < 3  # still toned


def test_a_black_and_white_photo_keeps_its_tone_inside_the_faces_only():
    """Grey has no skin colour: the whole picture would count as the face's skin, and the tone a halo."""
    photo = cv2.cvtColor(cv2.cvtColor(scene(), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    out = np.clip(photo.astype(np.int16) + 40, 0, 255).astype(np.uint8)  # paler everywhere
    got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=1.0, margin=None))
    assert np.array_equal(got[:25], out[:25]) and np.array_equal(got[195:], out[195:])  # beyond the face oval
    region = face_weight(photo.shape[:2], LM) > 0.99
    assert lab(got)[region, 0].mean() < lab(out)[region, 0].mean() - 5  # the face itself moved
    assert (got.max(-1) == got.min(-1)).all()  # and it stays exactly grey


def test_a_small_face_beside_a_large_one_gets_its_tone_too():
    """The working scale follows the largest face; a face a sixteenth of its size fell below the skin mask."""
    photo = np.zeros((900, 900, 3), np.uint8)
    photo[:] = (40, 60, 150)
    cv2.ellipse(photo, (400, 420), (225, 300), 0, 0, 360, BROWN, -1)  # a face with eyes 200 apart
    cv2.ellipse(photo, (820, 120), (14, 19), 0, 0, 360, BROWN, -1)  # one with eyes 12 apart
    big = Face((175.0, 120.0, 625.0, 720.0), LM * 5 + [-200, -80], 0.9)
    small = Face((806.0, 101.0, 834.0, 139.0), (LM - [120, 100]) * 0.3 + [820, 120], 0.9)
    out = paler(photo, 60)
    out[:, :700] = photo[:, :700]  # the large face drawn in its own tone, the small one paler
    got = keep_skin_tone(out, photo, [big, small], SkinTone(keep=1.0, margin=None))
    cheek = (slice(123, 127), slice(812, 816))
    assert abs(lab(got)[cheek][..., 0].mean() - lab(photo)[cheek][..., 0].mean()) < 3  # its own shift, whole
    assert np.abs(got[400:440, 350:450].astype(int) - out[400:440, 350:450]).max() <= 1  # and not the large one's


def test_a_face_as_narrow_as_face_mode_translates_gets_its_tone():
    """Face mode translates faces down to 24 px wide (eyes ~9.5 px apart); under 12 px the tone skipped
    them, and they stayed 8 L* paler than the photo."""
    photo = cv2.resize(scene(), (77, 61), interpolation=cv2.INTER_AREA)  # the face's eyes 40 → 9.6 px apart
    small = Face(tuple(v * 0.24 for v in FACE.box), LM * 0.24, 0.9)
    out = paler(photo, 60)
    got = keep_skin_tone(out, photo, [small], SkinTone(keep=1.0, margin=None))
    cheek = (slice(27, 31), slice(24, 27))
    assert abs(lab(got)[cheek][..., 0].mean() - lab(photo)[cheek][..., 0].mean()) < 4


def test_a_black_and_white_photo_with_a_colour_cartoon_keeps_the_cartoons_colour():
    """--colour-grey-photos: the cartoon of a grey photo is tinted; the face must not become a grey oval."""
    photo = cv2.cvtColor(cv2.cvtColor(scene(), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    out = np.clip(photo.astype(np.int16) + np.array([30, 40, 70]), 0, 255).astype(np.uint8)  # paler, blue-tinted
    got = keep_skin_tone(out, photo, [FACE], SkinTone(keep=1.0, margin=None))
    region = face_weight(photo.shape[:2], LM) > 0.99
    spread = got[region].max(-1).astype(int) - got[region].min(-1)
    assert spread.min() > 20  # still tinted as the rest of the cartoon
    assert lab(got)[region, 0].mean() < lab(out)[region, 0].mean() - 5  # the lightness moved


def test_a_field_put_back_in_a_box_is_what_resizing_all_of_it_gives():
    from artifygan.skin_tone import _box, _up

    for w, h, sx in ((1000, 1000, 0.1), (333, 511, 0.37), (90, 60, 1.0)):
        sy = round(h * sx) / h
        small = np.zeros((round(h * sx), round(w * sx)), np.float32)
        small[len(small) // 2, small.shape[1] // 2] = 1.0
        box = _box(small > 0, small.shape[1] / w, sy, w, h)
        assert box is not None
        whole = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        x0, y0, x1, y1 = box
        assert np.abs(_up(small, box, small.shape[1] / w, sy) - whole[y0:y1, x0:x1]).max() < 0.03  # 1/32-px weights
        outside = whole.copy()
        outside[y0:y1, x0:x1] = 0
        assert outside.max() == 0  # nothing of the field beyond the box
