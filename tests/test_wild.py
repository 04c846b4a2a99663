"""Photos in the wild: faces found, aligned, pasted back; no-face fallback; tiling; sidecar output."""

import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from artifygan import Cartoonizer
from artifygan.cli import main
from artifygan.faces import Face
from artifygan.inference.tiling import tile_starts, translate_tiled
from artifygan.inference.wild import WildCartoonizer, WildOptions, face_mask, paste_face
from artifygan.models import GENERATORS

from .conftest import DATA, YUNET, need_shared, random_rgb

SELFIES = DATA / "selfie2anime" / "trainA"
CELEBA = DATA / "celeba" / "img_align_celeba_half"


@pytest.fixture(scope="module")
def snapshot(tiny_snapshot):
    return tiny_snapshot


def background(w: int, h: int, seed: int = 0) -> Image.Image:
    return random_rgb(w, h, seed).filter(ImageFilter.GaussianBlur(6))


def group_photo() -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """Two real faces of different sizes pasted into a larger synthetic background; returns their boxes."""
    img = background(720, 480)
    big = Image.open(sorted(SELFIES.glob("*.jpg"))[0]).convert("RGB").resize((200, 200))
    small = Image.open(CELEBA / "000010.jpg").convert("RGB").resize((120, 147))
    img.paste(big, (40, 140))
    img.paste(small, (520, 60))
    return img, [(40, 140, 240, 340), (520, 60, 640, 207)]


def test_tile_starts_cover_and_overlap():
    for length, tile, ov in [(100, 100, 8), (1000, 256, 32), (257, 256, 32), (4000, 768, 64)]:
        starts = tile_starts(length, min(tile, length), ov, 4)
        assert starts[0] == 0 and starts[-1] + min(tile, length) == length
        assert all(b - a <= tile - ov for a, b in itertools.pairwise(starts))
        assert all(s % 4 == 0 for s in starts[:-1])


def test_tiled_matches_untiled_and_has_no_seams():
    torch.manual_seed(0)
    g = GENERATORS.build("light", {"ch": 8, "n_blocks": 1, "norm": "none"}).eval()
    x = torch.rand(3, 200, 296) * 2 - 1
    with torch.inference_mode():
        full = g(x[None])[0]
        tiled = translate_tiled(x, g, tile=96, overlap=32, align=4, batch_size=3)
    assert tiled.shape == full.shape
    assert (tiled - full).abs().mean() < 0.01  # padding effects fade in the blended overlaps


def test_cartoonizer_tiles_large_images(snapshot):
    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", max_side=0, tile=128)
    img = random_rgb(333, 201)
    out = cz(img)
    assert out.size == (333, 201)
    whole = Cartoonizer.from_pretrained(snapshot, device="cpu", max_side=0, tile=4096)(img)
    diff = np.abs(np.asarray(out, np.int16) - np.asarray(whole, np.int16))
    assert diff.mean() < 40  # same picture; per-tile normalisation shifts tones a little


def test_face_mask_is_zero_at_the_border():
    m = face_mask(256, 0.035)
    assert m.shape == (256, 256) and m.max() > 0.99
    assert m[0].max() == 0 and m[-1].max() == 0 and m[:, 0].max() == 0 and m[:, -1].max() == 0


def test_paste_face_blends_only_inside_and_matches_colour():
    base = np.full((100, 120, 3), 100.0, np.float32)
    face = np.full((64, 64, 3), 200.0, np.float32)
    m = np.array([[2.0, 0, -40], [0, 2.0, -80]])  # image → crop: the crop covers x 20..52, y 40..72
    before = base.copy()
    paste_face(base, face, face_mask(64, 0.05), m, color_match=True)
    assert base.shape == before.shape
    assert (base[:35] == before[:35]).all() and (base[:, :15] == before[:, :15]).all()
    assert (base[75:] == before[75:]).all() and (base[:, 55:] == before[:, 55:]).all()
    centre = base[56, 36]
    assert 150 < centre[0] <= 200  # the face shows at its centre


@pytest.fixture(scope="module")
def wild(snapshot):
    return WildCartoonizer(Cartoonizer.from_pretrained(snapshot, device="cpu"), yunet=str(YUNET))


@need_shared(YUNET, SELFIES, CELEBA)
class TestWithRealFaces:
    def test_group_photo_all_faces_largest_first_and_keep_mode(self, wild):
        img, boxes = group_photo()
        r = wild(img, options=WildOptions(background="keep"))
        assert r.mode == "face" and r.image.size == img.size
        done = [f for f in r.faces if f.translated]
        assert len(done) == 2
        assert done[0].box[2] - done[0].box[0] > done[1].box[2] - done[1].box[0]  # largest first
        a, b = np.asarray(img, np.int16), np.asarray(r.image, np.int16)
        changed = np.abs(a - b).max(-1) > 0
        far = np.ones(changed.shape, bool)  # pixels well away from both pasted faces
        for x0, y0, x1, y1 in boxes:
            mx, my = x1 - x0, y1 - y0
            far[max(0, y0 - my):y1 + my, max(0, x0 - mx):x1 + mx] = False
        assert not changed[far].any()
        for x0, y0, x1, y1 in boxes:  # and each face did change
            assert changed[y0:y1, x0:x1].mean() > 0.3

    def test_cap_and_min_size(self, wild):
        img, _ = group_photo()
        r = wild(img, options=WildOptions(max_faces=1, background="keep"))
        assert [f.translated for f in r.faces] == [True, False] and "cap" in r.faces[1].reason
        r = wild(img, options=WildOptions(min_face=110, background="keep"))
        assert [f.translated for f in r.faces] == [True, False] and "smaller" in r.faces[1].reason

    def test_no_face_falls_back_or_skips(self, wild):
        img = background(300, 200)
        r = wild(img)
        assert r.mode == "whole" and "no face" in r.note and r.image.size == (300, 200)
        r = wild(img, options=WildOptions(no_face="skip"))
        assert r.mode == "skipped" and r.image is None

    def test_rotated_phone_photo(self, wild, tmp_path):
        img, _ = group_photo()
        exif = Image.Exif()
        exif[0x0112] = 6  # stored sideways; viewers rotate it 90° clockwise
        path = tmp_path / "phone.jpg"
        img.rotate(90, expand=True).save(path, exif=exif, quality=95)
        r = wild(path, options=WildOptions(background="blur"))
        assert r.image.size == img.size  # upright, as the viewer shows it
        assert sum(f.translated for f in r.faces) == 2

    def test_cli_side_by_side_json_and_notes(self, snapshot, tmp_path, capsys):
        img, _ = group_photo()
        src = tmp_path / "in"
        src.mkdir()
        img.save(src / "group.jpg", quality=95)
        background(200, 160).save(src / "wall.png")
        out = tmp_path / "out"
        rc = main(["translate", str(src), "-o", str(out), "-m", str(snapshot), "-q", "--device", "cpu",
                   "--yunet", str(YUNET), "--side-by-side", "--json", "--background", "keep"])
        captured = capsys.readouterr()
        assert rc == 0
        assert "wall.png: no face found" in captured.err
        with Image.open(out / "group.jpg") as im:
            assert im.size == (2 * img.width, img.height)
        info = json.loads((out / "group.jpg.json").read_text())
        assert info["mode"] == "face" and sum(f["translated"] for f in info["faces"]) == 2
        assert len(info["faces"][0]["box"]) == 4 and "total" in info["timings_ms"]
        assert json.loads((out / "wall.png.json").read_text())["mode"] == "whole"


class FakeYuNet:
    """Stands in for cv2.FaceDetectorYN: answers fixed rows (x, y, w, h, 5 landmarks, score)."""

    def __init__(self, rows):
        self.rows = np.asarray(rows, np.float32)

    def setInputSize(self, size):  # OpenCV's name
        pass

    def detect(self, img):
        return 1, self.rows


def phantom_rows():
    lm = [2, 2, 5, 2, 3, 4, 2, 6, 5, 6]
    return [[-np.inf, 0, np.inf, 4, *lm, 0.9],  # the ≤ 8 px phantom: infinite box
            [np.nan, 1, 3, 3, *lm, 0.9],  # NaN box
            [1, 1, 5, 5, *([np.nan] * 10), 0.9],  # NaN landmarks
            [500, 500, 40, 40, *lm, 0.9],  # far outside the 8×8 image
            [4, 4, 24, 24, *lm, 0.95]]  # the one real face (the detector works at 4× on 8 px)


def test_phantom_faces_with_inf_nan_boxes_are_dropped(snapshot):
    import threading

    from artifygan.faces import PhotoFaceDetector

    det = PhotoFaceDetector.__new__(PhotoFaceDetector)
    det.net, det.score, det._lock = FakeYuNet(phantom_rows()), 0.8, threading.Lock()
    faces = det.detect(np.zeros((8, 8, 3), np.uint8))
    assert [f.box for f in faces] == [(0.625, 0.625, 6.625, 6.625)]  # (4 + 0.5) / 4 - 0.5: centre to centre

    class Given:  # a caller's own detector (or video tracks) hands over phantoms too
        def detect(self, rgb):
            return [Face((-np.inf, 0.0, np.inf, 4.0), np.full((5, 2), 3.0), 0.9),
                    Face((0.0, 0.0, 6.0, np.nan), np.full((5, 2), 3.0), 0.9)]

    wild = WildCartoonizer(Cartoonizer.from_pretrained(snapshot, device="cpu"), detector=Given())
    r = wild(random_rgb(8, 8))
    assert r.faces == [] and r.mode == "whole"
    json.dumps(r.sidecar(), allow_nan=False)  # strict JSON: no Infinity/NaN
    r = wild(random_rgb(8, 8), faces=Given().detect(None))
    assert r.faces == [] and r.mode == "whole"


def test_a_file_that_is_not_a_detector_is_one_line(tmp_path):
    from artifygan.faces import PhotoFaceDetector

    bad = tmp_path / "notes.txt"
    bad.write_text("not a network")
    with pytest.raises(ValueError, match=r"notes.txt: cannot load YuNet model \(") as caught:
        PhotoFaceDetector(bad, download=False)
    assert "\n" not in str(caught.value)  # OpenCV's own message ends in a newline


@need_shared(YUNET)
def test_a_thin_strip_has_no_face_and_never_crashes_the_detector():
    from artifygan.faces import PhotoFaceDetector

    det = PhotoFaceDetector(str(YUNET), download=False)
    for h, w in ((1, 6000), (6000, 1), (2, 3000), (1, 1)):  # 1280 / 6000 rounded a side to 0: cv2.error
        assert det.detect(np.zeros((h, w, 3), np.uint8)) == []


def test_a_shrinking_face_crop_is_averaged_not_aliased():
    """OpenCV's warps take INTER_AREA as bilinear: a 12 MP photo's face shrunk to 256² turned fine
    stripes into moiré (the crop's spread 74 grey levels, where averaging gives ~0)."""
    import cv2

    from artifygan.faces import align_by_eyes, warp_crop

    stripes = np.zeros((1500, 2000, 3), np.uint8)
    stripes[:, 1::2] = 255  # one-pixel stripes: any crop shrunk to a tenth must average them to grey
    m = np.array([[0.128, 0, -100.0], [0, 0.128, -60.0]])
    crop = warp_crop(stripes, m, 128)
    assert crop.std() < 6 and abs(crop.mean() - 127.5) < 3
    rng = np.random.default_rng(0)  # a smooth picture: the same crop as the plain warp, at the same place
    smooth = cv2.GaussianBlur(rng.integers(0, 255, (1500, 2000, 3)).astype(np.float32), (0, 0), 30)
    smooth = cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    eyes = np.array([[900.0, 700.0], [1300.0, 760.0], [1100, 900], [950, 1050], [1250, 1060]])
    crop, mat = align_by_eyes(smooth, eyes, 128)
    plain = cv2.warpAffine(smooth, mat, (128, 128), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    assert np.abs(crop.astype(int) - plain).mean() < 1.0  # within a grey level: rounding and averaging


def test_an_anime_cascade_that_is_not_one_is_one_line(tmp_path):
    """OpenCV raised inside the constructor: a SystemError traceback from prepare --anime-cascade."""
    from artifygan.faces import AnimeFaceDetector

    bad = tmp_path / "junk.xml"
    bad.write_text("<junk")
    with pytest.raises(ValueError, match=r"junk.xml: cannot load the anime face cascade"):
        AnimeFaceDetector(bad, download=False)


def test_yunet_coordinates_map_back_pixel_centre_to_pixel_centre():
    """A photo is detected at a working scale; x / s put a 12 MP photo's landmarks a pixel off."""
    import threading

    from artifygan.faces import PhotoFaceDetector

    class Net:  # YuNet's answer: a face whose nose is the working picture's centre pixel
        def setInputSize(self, size):
            self.size = size

        def detect(self, img):
            h, w = img.shape[:2]
            c, k = np.array([(w - 1) / 2, (h - 1) / 2]), w / 320  # a face of the same size at every pass
            lm = np.tile(c, 5) + k * np.array([-20, -10, 20, -10, 0, 0, -15, 15, 15, 15])
            return None, np.array([[c[0] - 40 * k, c[1] - 50 * k, 80 * k, 100 * k, *lm, 0.95]], np.float32)

    det = PhotoFaceDetector.__new__(PhotoFaceDetector)
    det.net, det._lock, det.score = Net(), threading.Lock(), 0.8
    for w, h in ((4000, 3000), (1001, 333), (200, 150), (640, 480)):
        (face,) = det.detect(np.zeros((h, w, 3), np.uint8))
        np.testing.assert_allclose(face.landmarks[2], [(w - 1) / 2, (h - 1) / 2], atol=1e-3)
        assert abs((face.box[0] + face.box[2]) / 2 - (w - 1) / 2) < 1e-3


def test_face_mode_decides_black_and_white_once_for_the_whole_photo(snapshot):
    """A grey photo with a red caption is a colour photo: its face crops, grey on their own, were greyed
    and pasted grey into the tinted cartoon around them."""
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(60, 200, (240, 200, 1), dtype=np.uint8), 3, axis=2)
    photo = grey.copy()
    photo[228:] = (200, 30, 30)  # the caption strip, far below the face's crop
    lm = np.array([[36, 40], [60, 40], [48, 52], [39, 64], [57, 64]], np.float64)
    face = Face((24.0, 24.0, 72.0, 80.0), lm, 0.99)

    class Given:
        def detect(self, rgb):
            return [face]

    cz = Cartoonizer.from_pretrained(snapshot, device="cpu", clean_face=False)
    wild = WildCartoonizer(cz, detector=Given())
    core = (slice(40, 60), slice(40, 56))
    for background in ("cartoon", "keep"):
        out = np.asarray(wild(Image.fromarray(photo), options=WildOptions(background=background)).image, np.int16)
        assert (out[core].max(-1) - out[core].min(-1)).mean() > 2, background  # in colour, as the photo is
        out = np.asarray(wild(Image.fromarray(grey), options=WildOptions(background=background)).image, np.int16)
        assert (out.max(-1) == out.min(-1)).all(), background  # a grey photo: all of it grey, faces included


def test_a_large_photo_is_searched_finely_enough_for_the_narrowest_face_asked_for():
    """At the 1280-pixel working copy a 40-pixel face of a 4000-pixel photo was 13 pixels wide: unseen, so
    face mode fell back to translating the whole picture."""
    import threading

    from artifygan.faces import FIND_PX, PhotoFaceDetector

    class Net:
        def __init__(self):
            self.sizes = []

        def setInputSize(self, size):
            self.sizes.append(size[0])

        def detect(self, img):
            return None, None

    det = PhotoFaceDetector.__new__(PhotoFaceDetector)
    det.net, det._lock, det.score = Net(), threading.Lock(), 0.8

    def searched(*args, **kwargs) -> list[int]:
        det.net.sizes.clear()
        det.detect(*args, **kwargs)
        return det.net.sizes

    big = np.zeros((300, 4000, 3), np.uint8)  # wide, so cheap: the scale follows the longer side
    assert searched(big) == [1280, 640, 320]  # the working copy, then the close-ups' coarser passes
    assert searched(big, min_face=24)[0] == round(4000 * FIND_PX / 24)
    assert searched(big, min_face=10)[0] == 4000  # never above the photo's own size
    assert searched(np.zeros((300, 1000, 3), np.uint8), min_face=24) == [1000, 640, 320]  # at its own size
    assert searched(np.zeros((200, 300, 3), np.uint8)) == [320]  # small pictures: one pass
    wild = WildCartoonizer.__new__(WildCartoonizer)
    wild._detector, wild.options = det, WildOptions(min_face=40)
    det.net.sizes.clear()
    wild.detect(big)
    assert det.net.sizes[0] == round(4000 * FIND_PX / 40)  # face mode asks for its own narrowest face


def test_a_close_up_too_large_for_the_working_copy_is_found_at_a_coarser_pass():
    """YuNet misses faces wider than ~400 of its pixels: a 1400-pixel selfie filled with a face had none,
    and face mode (the web API's default) translated the whole picture."""
    import threading

    from artifygan.faces import PhotoFaceDetector

    class Net:  # finds the picture-filling face only when it is at most 500 pixels wide
        def setInputSize(self, size):
            self.size = size

        def detect(self, img):
            h, w = img.shape[:2]
            if w > 500:
                return None, None
            lm = np.array([0.35, 0.4, 0.65, 0.4, 0.5, 0.55, 0.38, 0.7, 0.62, 0.7]) * w
            return None, np.array([[0.1 * w, 0.1 * h, 0.8 * w, 0.8 * h, *lm, 0.9]], np.float32)

    det = PhotoFaceDetector.__new__(PhotoFaceDetector)
    det.net, det._lock, det.score = Net(), threading.Lock(), 0.8
    (face,) = det.detect(np.zeros((1400, 1400, 3), np.uint8))
    assert abs(face.box[0] - 140) < 2 and abs(face.width - 1120) < 4  # found once, in the photo's pixels


def test_face_crops_run_at_the_face_size_whatever_resize_and_max_side_say(snapshot):
    """--resize 96 (or --max-side 128) ran every aligned 256² face at 96: faces are translated at
    --face-size; resize and max_side are for whole pictures."""
    lm = np.array([[36, 40], [60, 40], [48, 52], [39, 64], [57, 64]], np.float64)
    face = Face((24.0, 24.0, 72.0, 80.0), lm, 0.99)

    class Given:
        def detect(self, rgb):
            return [face]

    for kw in ({"resize": 96}, {"max_side": 128}):
        cz = Cartoonizer.from_pretrained(snapshot, device="cpu", clean_face=False, **kw)
        shapes: list[tuple[int, ...]] = []
        real = cz.forward_bytes
        def spy(b, tta=None, shapes=shapes, real=real):
            shapes.append(tuple(b.shape[-2:]))
            return real(b, tta)

        cz.forward_bytes = spy  # type: ignore[method-assign]
        wild = WildCartoonizer(cz, WildOptions(face_size=256, background="keep"), detector=Given())
        wild(random_rgb(96, 96))
        assert shapes == [(256 + cz.border, 256)], kw  # the crop, with the border rows below it


def test_wild_options_are_checked_in_one_line():
    for bad in ({"face_size": 0}, {"face_size": -5}, {"blur_sigma": 0}, {"max_faces": 0}, {"min_face": 2.5},
                {"feather": -1}, {"clean_face": "off"}, {"color_match": "yes"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            WildOptions(**bad)


@pytest.mark.parametrize("turn", [0, 60, 90, 135, 180, 270])
def test_a_turned_face_is_aligned_upright_by_its_mouth(turn):
    """The eyes were ordered by x: a face turned past 90° (a caller's detector, video tracks) was aligned
    upside down, and one turned 90° either way."""
    from artifygan.faces import align_by_eyes

    upright = np.array([[-20, 0], [20, 0], [0, 20], [-15, 45], [15, 45]], np.float64)  # eyes, nose, mouth
    t = np.radians(turn)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    lm = upright @ rot.T + [200, 200]
    _, m = align_by_eyes(np.zeros((400, 400, 3), np.uint8), lm, 128)
    crop_pts = lm @ m[:, :2].T + m[:, 2]
    eyes_y, mouth_y = crop_pts[:2, 1].mean(), crop_pts[3:, 1].mean()
    assert mouth_y > eyes_y + 20  # the mouth below the eyes in the crop
    assert abs(crop_pts[0, 1] - crop_pts[1, 1]) < 1e-6  # the eyes level
