"""Face-part figures on tiny synthetic faces: cheek strokes and eye/mouth detail (no YuNet needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from artifygan.faces import Face
from artifygan.metrics import METRICS
from artifygan.metrics.faceparts import part_boxes, stroke_mask, stroke_share

SIZE = 128
# YuNet order: eye, eye, nose tip, mouth corner, mouth corner; inter-ocular distance 40 px
LANDMARKS = np.array([[44, 50], [84, 50], [64, 72], [50, 92], [78, 92]], np.float64)
FACE = Face((24.0, 20.0, 104.0, 115.0), LANDMARKS, 1.0)


def skin(seed: int = 0) -> np.ndarray:
    """Smooth skin: a gentle gradient with mild noise (σ 3 grey levels)."""
    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:SIZE, 0:SIZE][0] / SIZE
    g = 170 + 20 * yy + rng.normal(0, 3, (SIZE, SIZE))
    return np.clip(np.repeat(g[..., None], 3, -1), 0, 255).astype(np.uint8)


def face_image(seed: int = 0) -> Image.Image:
    """Skin plus eyes (white, iris, lids) and a mouth: detail that a good cartoon keeps."""
    im = Image.fromarray(skin(seed))
    d = ImageDraw.Draw(im)
    for x, y in LANDMARKS[:2]:
        d.ellipse([x - 10, y - 5, x + 10, y + 5], fill=(235, 235, 235), outline=(60, 40, 30), width=1)
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(70, 90, 140))
        d.line([x - 11, y - 8, x + 11, y - 9], fill=(90, 60, 40), width=2)
    d.chord([50, 86, 78, 98], 0, 180, fill=(170, 60, 70), outline=(110, 30, 40))
    return im


def with_strokes(im: Image.Image) -> Image.Image:
    """Thin (1 px) dark cracks across both cheeks, as a 'sketch filter' draws them."""
    out = im.copy()
    d = ImageDraw.Draw(out)
    for x in (30, 70):
        for k in range(4):
            d.line([x, 62 + 5 * k, x + 24, 66 + 5 * k], fill=(110, 100, 95), width=1)
    return out


def test_boxes_sit_under_the_eyes_and_around_eyes_and_mouth():
    b = part_boxes(LANDMARKS, (SIZE, SIZE))
    assert len(b.cheeks) == 2 and len(b.eyes) == 2 and b.mouth is not None
    for (x0, y0, x1, y1), (ex, ey) in zip(b.cheeks, LANDMARKS[:2], strict=True):
        assert y0 >= ey + 0.3 * 40 and y1 <= ey + 0.8 * 40  # below the lower lid, above the mouth
        assert x1 - x0 == 16 and y1 - y0 == 16  # 0.4 × 0.4 iod
        assert abs((x0 + x1) / 2 - ex) <= 3
    assert b.eyes[0] == (32, 42, 56, 58)
    x0, y0, x1, y1 = b.mouth
    assert x0 < 50 and x1 > 78 and y0 < 92 < y1
    # boxes are clipped to the image; one that falls outside disappears instead of crashing
    off = part_boxes(LANDMARKS + np.array([60.0, 0.0]), (SIZE, SIZE))  # right eye at x = 144
    assert len(off.eyes) == 1 and len(off.cheeks) == 1 and off.eyes[0][2] <= SIZE


def test_stroke_mask_counts_thin_dark_lines_not_broad_shading():
    g = np.full((40, 40), 180, np.uint8)
    g[:, 10] = 150  # thin line, 30 levels darker
    g[:, 25:37] = 120  # broad dark region (shading): the 9×9 median follows it
    g[5, :8] = 170  # only 10 levels darker: below the threshold
    m = stroke_mask(g)
    assert m[:, 10].all() and not m[:, 28:35].any() and not m[5, :8].any()
    assert stroke_share(g, ((0, 0, 20, 40),)) == pytest.approx(40 / 800)
    assert stroke_share(g, ()) is None


def test_cheek_strokes_score_higher_than_clean_skin():
    clean, cracked = face_image(), with_strokes(face_image())
    res = METRICS["face_parts"]([clean, clean], [clean, cracked], photo_faces=[[FACE], [FACE]])
    clean_share, cracked_share = (p["cheek_strokes"] for p in res.per_image)
    assert clean_share < 0.005
    assert cracked_share > 0.08
    assert res.cheek_strokes == pytest.approx((clean_share + cracked_share) / 2)
    assert res.evaluated == 2


def test_detail_is_one_for_identity_and_drops_when_blurred_or_flat():
    photo = face_image()
    blurred = photo.filter(ImageFilter.GaussianBlur(2))
    flat = Image.new("RGB", photo.size, (180, 180, 180))
    darker_lines = Image.fromarray((np.asarray(photo, np.float64) * 0.6 + 40).astype(np.uint8))
    res = METRICS["face_parts"]([photo] * 4, [photo, blurred, flat, darker_lines], photo_faces=[[FACE]] * 4)
    ident, blur, fl, gain = res.per_image
    assert ident["detail_eyes"] == pytest.approx(1.0) and ident["detail_mouth"] == pytest.approx(1.0)
    assert blur["detail_eyes"] < 0.8 and blur["detail_mouth"] < 0.8
    assert fl["detail_eyes"] == 0.0 and fl["detail_mouth"] == 0.0
    assert gain["detail_eyes"] > 0.97 and gain["detail_mouth"] > 0.97  # same edges, weaker: detail kept


def test_no_face_in_photo_gives_none_and_outputs_are_compared_at_the_photo_size():
    photo = face_image()
    big = photo.resize((256, 256), Image.BICUBIC)
    res = METRICS["face_parts"]([photo, photo], [photo, big], photo_faces=[[], [FACE]])
    assert res.per_image[0] == {"cheek_strokes": None, "detail_eyes": None, "detail_mouth": None,
                                "skin_lightening": None, "photo_cheek_lightness": None}
    assert res.per_image[1]["detail_eyes"] > 0.9
    assert res.evaluated == 1
    with pytest.raises(ValueError, match="detector"):
        METRICS["face_parts"]([photo], [photo])


def test_skin_lightening_is_the_cheeks_lightness_gain_and_the_darkest_quarter_is_reported_apart():
    """The default paled dark skin most (issue 13's by-eye review): every report now says by how much."""
    import cv2

    def lightness(im: Image.Image) -> float:  # the left cheek box's middle
        return float(np.median(cv2.cvtColor(np.asarray(im, np.float32)[68:76, 38:46] / 255, cv2.COLOR_RGB2LAB)[..., 0]))

    photos = [Image.fromarray((np.asarray(face_image(i), np.float32) * f).astype(np.uint8))
              for i, f in enumerate((0.35, 0.6, 0.8, 1.0))]  # dark to light skin
    paler = [Image.fromarray(np.clip(np.asarray(p, np.int16) + (40 if i == 0 else 10), 0, 255).astype(np.uint8))
             for i, p in enumerate(photos)]  # the darkest paled most
    res = METRICS["face_parts"](photos, paler, photo_faces=[[FACE]] * 4)
    gains = [lightness(b) - lightness(a) for a, b in zip(photos, paler, strict=True)]
    assert [p["skin_lightening"] for p in res.per_image] == pytest.approx(gains, abs=1.0)
    assert res.skin_lightening == pytest.approx(float(np.mean(gains)), abs=1.0)
    assert res.skin_lightening_dark == pytest.approx(gains[0], abs=1.0)  # a quarter of four: the darkest
    same = METRICS["face_parts"](photos, photos, photo_faces=[[FACE]] * 4)
    assert same.skin_lightening == 0 and same.skin_lightening_dark == 0


def test_boxes_past_a_corner_are_dropped_not_turned_into_the_whole_picture():
    """Two negative sides made a positive area, and the slice rgb[0:-20, 0:-30] most of the picture."""
    from artifygan.metrics.faceparts import part_boxes

    boxes = part_boxes(LANDMARKS - 200, (SIZE, SIZE))
    assert boxes.cheeks == () and boxes.eyes == () and boxes.mouth is None
