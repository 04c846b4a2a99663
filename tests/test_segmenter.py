"""The person segmenter behind a style's backdrop: the TFLite graph runner's numbers, the lazy loader's
fallbacks, and (when MediaPipe's file is here) the real model on the bundled astronaut."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artifygan.background import BackgroundStep, PlainBackground, keep_faces
from artifygan.faces import Face
from artifygan.imageio import load_image
from artifygan.models.tflite_graph import Graph, Op, TFLiteGraph, read_tflite, same_padding
from artifygan.segmenter import SEGMENTER_ENV, LazySegmenter, PersonSegmenter

from .conftest import SEGMENTER_FILE

ASTRONAUT = Path(__file__).resolve().parents[1] / "src/artifygan/examples/astronaut.jpg"


def test_same_padding_is_tensorflows():
    assert same_padding(256, 3, 2) == (0, 1)  # 128 outputs: the odd pixel goes after
    assert same_padding(5, 3, 1) == (1, 1)
    assert same_padding(7, 1, 2) == (0, 0)
    assert same_padding(8, 3, 1, dilation=2) == (2, 2)


def conv_nhwc(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """TFLite's CONV_2D by the definition: NHWC input, (out, kh, kw, in) weights, SAME padding."""
    n, h, wd, _ = x.shape
    o, kh, kw, _ = w.shape
    (t, bt), (lf, rt) = same_padding(h, kh, stride), same_padding(wd, kw, stride)
    xp = np.pad(x, ((0, 0), (t, bt), (lf, rt), (0, 0)))
    oh, ow = -(-h // stride), -(-wd // stride)
    y = np.zeros((n, oh, ow, o), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j] = np.einsum("nhwc,ohwc->no", patch, w) + b
    return y


def test_the_graph_runs_tflite_layouts_and_ops_by_their_definitions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 7, 9, 3)).astype(np.float32)  # odd sizes: SAME pads unevenly
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float16)  # stored as float16, DEQUANTIZEd like the real file
    b = rng.normal(size=4).astype(np.float32)
    scale = rng.normal(size=(1, 1, 1, 4)).astype(np.float32)  # an NHWC constant broadcast over channels
    ops = [Op("DEQUANTIZE", [1], [10]),
           Op("CONV_2D", [0, 10, 2], [11], {"padding": "same", "stride": (2, 2), "dilation": (1, 1),
                                          "activation": 1}),
           Op("MUL", [11, 3], [12], {"activation": 0}),
           Op("HARD_SWISH", [12], [13]),
           Op("AVERAGE_POOL_2D", [13], [14], {"padding": "valid", "stride": (1, 1), "kernel": (4, 5)}),
           Op("ADD", [13, 14], [15], {"activation": 0}),
           Op("LOGISTIC", [15], [16])]
    g = Graph(ops, {1: w, 2: b, 3: scale}, inputs=[0], outputs=[16])
    got = TFLiteGraph(g)(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    y = np.maximum(conv_nhwc(x, w.astype(np.float32), b, 2), 0) * scale
    y = y * np.clip(y + 3, 0, 6) / 6
    y = y + y.mean(axis=(1, 2), keepdims=True)
    want = 1 / (1 + np.exp(-y))
    assert got.shape == (1, 4, 5, 4)
    assert np.abs(got - want).max() < 1e-5


def test_the_transposed_convolution_doubles_the_size_and_crops_like_tensorflow():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 2] = 1.0
    w = np.zeros((1, 3, 3, 1), np.float32)
    w[0, 1, 1, 0] = 1.0  # the centre tap only: an impulse at i lands on 2i + 1 of the full 9-pixel output,
    # and TensorFlow's SAME crops that to 8 by dropping the last row and column (pad before = 1 // 2 = 0)
    g = Graph([Op("Convolution2DTransposeBias", [0, 1, 2], [3], {"padding": "same", "stride": (2, 2)})],
              {1: w, 2: np.zeros(1, np.float32)}, inputs=[0], outputs=[3])
    y = TFLiteGraph(g)(x)
    assert y.shape == (1, 1, 8, 8)
    assert torch.nonzero(y[0, 0]).tolist() == [[3, 5]]


def test_unknown_ops_and_foreign_files_fail_clearly(tmp_path):
    g = Graph([Op("SOFTMAX", [0], [1])], {}, inputs=[0], outputs=[1])
    with pytest.raises(ValueError, match="SOFTMAX is not supported"):
        TFLiteGraph(g)(torch.zeros(1, 1, 2, 2))
    bad = tmp_path / "model.tflite"
    bad.write_bytes(struct.pack("<4i", 12, 0, 0, 0) + b"not a model")
    with pytest.raises(ValueError, match=r"model.tflite: not a readable TensorFlow Lite model"):
        read_tflite(bad)


class HalfMask:
    """A segmenter whose person is the left half of the picture."""

    def mask(self, rgb: np.ndarray) -> np.ndarray:
        m = np.zeros(rgb.shape[:2], np.float32)
        m[:, : rgb.shape[1] // 2] = 1
        return m


def test_the_backdrop_follows_the_segmenter_and_never_paints_a_found_face():
    photo = Image.fromarray(np.full((40, 40, 3), 128, np.uint8))
    cartoon = Image.fromarray(np.full((40, 40, 3), 100, np.uint8))
    face = Face((22.0, 10.0, 38.0, 30.0), None, 0.9)  # on the right half, which the segmenter calls background
    out = np.asarray(BackgroundStep(PlainBackground((0, 0, 255), feather=0), HalfMask()).apply(cartoon, photo, [face]))
    assert (out[:, :20] == 100).all()  # the segmenter's person: the cartoon
    assert (out[:5, 20:] == (0, 0, 255)).all() and (out[35:, 20:] == (0, 0, 255)).all()  # its background: painted
    assert (out[14:28, 26:34] == 100).all()  # the inner face: kept whatever the segmenter says
    kept = keep_faces(np.zeros((40, 40), np.float32), [face])
    # the inner face: 0.15–0.95 of the box's height, 0.2–0.8 of its width
    assert kept.sum() == (29 - 13) * (35 - 25) and kept[13:29, 25:35].all()


def test_the_lazy_segmenter_is_off_on_request_and_warns_once_when_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(SEGMENTER_ENV, "off")
    rgb = np.zeros((8, 8, 3), np.uint8)
    assert LazySegmenter().mask(rgb) is None  # off: GrabCut, silently
    monkeypatch.setenv(SEGMENTER_ENV, str(tmp_path / "missing.tflite"))
    lazy = LazySegmenter()
    with pytest.warns(UserWarning, match="cut with GrabCut: no person segmenter .*missing.tflite"):
        assert lazy.mask(rgb) is None
    assert lazy.mask(rgb) is None  # warned once
    assert LazySegmenter(segmenter=HalfMask()).mask(rgb)[:, :4].all()  # type: ignore[arg-type]


@pytest.mark.skipif(not SEGMENTER_FILE.is_file(),
                    reason=f"MediaPipe's selfie_segmentation.tflite is not here ({SEGMENTER_FILE}); .ci/run fetches it")
def test_mediapipes_segmenter_cuts_the_astronaut_from_her_flag():
    seg = PersonSegmenter(SEGMENTER_FILE)
    rgb = np.asarray(load_image(ASTRONAUT).convert("RGB"))
    m = seg.mask(rgb)
    assert m.shape == rgb.shape[:2] and m.dtype == np.float32
    assert m[75:155, 195:265].mean() > 0.99  # her face
    assert m[300:460, 100:250].mean() > 0.99  # the orange suit
    assert m[:50, :50].max() < 0.01 and m[:50, -50:].max() < 0.01  # the flag and the wall behind her
    p = seg.probabilities(rgb)
    assert 0.3 < float(m.mean()) < 0.8 and abs(float((p > 0.5).mean()) - float(m.mean())) < 0.05


def test_a_face_the_whole_pictures_cut_missed_is_cut_again_in_its_own_window():
    """Squashed to 256², three selfies side by side gave no person at all: the backdrop left each face as a
    floating rectangle. A window around each missed face, framed as a selfie, is cut again."""
    from artifygan.background import segmented

    class SelfieOnly:  # finds the person only in a picture framed like a selfie (not too wide)
        def __init__(self):
            self.shapes = []

        def mask(self, rgb):
            self.shapes.append(rgb.shape[:2])
            h, w = rgb.shape[:2]
            return np.full((h, w), 1.0 if w <= 1.5 * h else 0.0, np.float32)

    rgb = np.zeros((200, 600, 3), np.uint8)
    faces = [Face((40.0 + 200 * i, 20.0, 80.0 + 200 * i, 70.0), None, 0.9) for i in range(3)]
    seg = SelfieOnly()
    m = segmented(seg, rgb, faces)
    assert m is not None and seg.shapes[0] == (200, 600) and len(seg.shapes) == 4  # the whole, then 3 windows
    for f in faces:  # each person is kept around its face, far beyond the inner face box
        x0, _, x1, _ = (int(v) for v in f.box)
        assert m[:, x0 - 20:x1 + 20].min() == 1.0
    seg = SelfieOnly()
    square = np.zeros((300, 300, 3), np.uint8)
    assert segmented(seg, square, [Face((100.0, 50.0, 160.0, 120.0), None, 0.9)]).min() == 1.0  # type: ignore[union-attr]
    assert len(seg.shapes) == 1  # found by the whole picture's cut: no second run

    class Off:
        def mask(self, rgb):
            return None

    assert segmented(Off(), rgb, faces) is None  # no segmenter: the caller cuts with GrabCut
