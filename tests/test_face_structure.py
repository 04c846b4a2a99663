"""The face-structure loss: YuNet's ONNX graph run with torch ops, equal to onnxruntime, and its loss term."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from artifygan.config import LossConfig
from artifygan.losses import generator_loss
from artifygan.models.face_structure import YUNET_NECK, FaceStructureFeatures, OnnxConvNet, face_structure_loss

from .conftest import YUNET, tiny_config


def _tiny_detector(path, op: str = "Relu", pool: dict | None = None) -> None:
    """A graph with every operator YuNet uses (strided, grouped and 1×1 convs, max pool, nearest 2× resize,
    add), whose three outputs carry YuNet's neck names: a stand-in the project can build without downloads."""
    rng = np.random.default_rng(0)

    def w(name, *shape):
        return numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)

    inits = [w("c1w", 8, 3, 3, 3), w("c1b", 8), w("dw", 8, 1, 3, 3), w("pw", 8, 8, 1, 1), w("pb", 8),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             numpy_helper.from_array(np.array([], np.float32), "roi")]
    nodes = [
        helper.make_node("Conv", ["input", "c1w", "c1b"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        helper.make_node(op, ["a"], ["b"]),
        helper.make_node("Conv", ["b", "dw"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8),
        helper.make_node("MaxPool", ["c"], ["236"], **(pool or {"kernel_shape": [2, 2], "strides": [2, 2]})),
        helper.make_node("Resize", ["236", "roi", "scales"], ["up"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("Add", ["b", "up"], ["246"]),
        helper.make_node("Conv", ["246", "pw", "pb"], ["pre"], kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["pre"], ["256"]),
    ]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 3, None, None])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in YUNET_NECK]
    model = helper.make_model(helper.make_graph(nodes, "tiny", [x], outs, inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _ort(path, names, x: np.ndarray) -> list[np.ndarray]:
    m = onnx.load(str(path))
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(names, {"input": x})


@pytest.fixture()
def tiny_onnx(tmp_path):
    path = tmp_path / "tiny_detector.onnx"
    _tiny_detector(path)
    return path


def test_the_torch_run_equals_onnxruntime_on_a_graph_with_every_operator(tiny_onnx):
    x = np.random.default_rng(1).uniform(0, 255, (3, 3, 24, 24)).astype(np.float32)
    net = OnnxConvNet(tiny_onnx, list(YUNET_NECK))
    ours = net(torch.from_numpy(x))
    for got, ref in zip(ours, _ort(tiny_onnx, list(YUNET_NECK), x), strict=True):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-4)
    # the convolutions' weights only: a Resize's roi and scales are read at load, not kept as buffers
    assert not any(p.requires_grad for p in net.parameters()) and len(list(net.buffers())) == 5


def test_a_max_pool_padded_on_one_side_equals_onnxruntime(tmp_path):
    path = tmp_path / "pool.onnx"  # ONNX pads bottom/right only; torch's own padding is symmetric
    _tiny_detector(path, pool={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1]})
    x = -np.random.default_rng(3).uniform(0, 255, (2, 3, 24, 24)).astype(np.float32)  # negative: pads ≠ 0
    got = OnnxConvNet(path, ["236"])(torch.from_numpy(x))[0]
    ref = _ort(path, ["236"], x)[0]
    assert got.shape == ref.shape == (2, 8, 6, 6)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-4)


@pytest.mark.skipif(not YUNET.is_file(), reason=f"needs the YuNet model at {YUNET} (shared/ is absent)")
def test_yunet_itself_runs_in_torch_as_onnxruntime_runs_it():
    x = np.random.default_rng(2).uniform(0, 255, (2, 3, 160, 160)).astype(np.float32)
    names = [*YUNET_NECK, "258", "276"]  # the neck, plus the score and landmark maps of the stride-8 head
    ours = OnnxConvNet(YUNET, names)(torch.from_numpy(x))
    refs = [np.concatenate(parts) for parts in zip(*(_ort(YUNET, names, x[i:i + 1]) for i in range(2)),
                                                   strict=True)]
    for got, ref in zip(ours, refs, strict=True):
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("which", ["tiny", "yunet"])
def test_the_features_compile_as_one_graph(tiny_onnx, which):
    # a graph break at each Resize (scales read from a tensor) made torch.compile recompile past its
    # limit: the 256² H100 training chunk of 2026-11-27 spent 160 s compiling before its first steps
    if which == "yunet" and not YUNET.is_file():
        pytest.skip(f"needs the YuNet model at {YUNET} (shared/ is absent)")
    net = FaceStructureFeatures(tiny_onnx if which == "tiny" else YUNET, size=64)
    torch._dynamo.reset()
    report = torch._dynamo.explain(net)(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert report.graph_break_count == 0 and report.graph_count == 1


def test_unsupported_graphs_and_files_fail_naming_the_file(tmp_path, tiny_onnx):
    odd = tmp_path / "odd.onnx"
    _tiny_detector(odd, op="Tanh")
    with pytest.raises(ValueError, match=r"odd\.onnx: operator Tanh is not supported"):
        OnnxConvNet(odd, list(YUNET_NECK))
    with pytest.raises(ValueError, match=r"tiny_detector\.onnx: no tensor named 'nope'"):
        OnnxConvNet(tiny_onnx, ["nope"])
    bad = tmp_path / "bad_resize.onnx"  # scales computed in the graph, not constants: refused at load
    _tiny_detector(bad)
    m = onnx.load(str(bad))
    m.graph.initializer.pop(next(i for i, t in enumerate(m.graph.initializer) if t.name == "scales"))
    m.graph.input.append(helper.make_tensor_value_info("scales", TensorProto.FLOAT, [4]))
    onnx.save(m, str(bad))
    with pytest.raises(ValueError, match=r"bad_resize\.onnx: Resize without 4 constant scales"):
        OnnxConvNet(bad, list(YUNET_NECK))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"junk\.onnx: not a readable ONNX model"):
        OnnxConvNet(junk, list(YUNET_NECK))
    empty = tmp_path / "empty.onnx"  # onnx reads it as an empty model: it was a bare IndexError
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.onnx: not a readable ONNX model \(no graph"):
        OnnxConvNet(empty, list(YUNET_NECK))


def test_the_loss_is_zero_for_the_photo_itself_and_moves_the_output_towards_it(tiny_onnx):
    feats = FaceStructureFeatures(tiny_onnx, size=32)
    photo = torch.rand(2, 3, 16, 16) * 2 - 1
    assert float(face_structure_loss(feats(photo), feats(photo))) == 0.0
    fake = torch.zeros_like(photo, requires_grad=True)
    loss = face_structure_loss(feats(fake), [f.detach() for f in feats(photo)])
    assert float(loss.detach()) > 0
    loss.backward()
    with torch.no_grad():  # one small step along the gradient lowers it: it is differentiable end to end
        stepped = fake - 0.05 * fake.grad / fake.grad.abs().max()
        assert float(face_structure_loss(feats(stepped), feats(photo))) < float(loss.detach())
    feats.train()
    assert not feats.training  # frozen: train() cannot switch it


def test_generator_loss_adds_the_face_term_in_both_phases(tiny_onnx):
    feats = FaceStructureFeatures(tiny_onnx, size=32)
    photo, fake = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    def content(x):
        return x.mean(1, keepdim=True)
    cfg = LossConfig(content=1.0, face=3.0)
    init = generator_loss(cfg, content, photo, fake, None, face_net=feats)
    assert set(init.parts) == {"content", "face"}
    assert float(init.parts["face"]) == pytest.approx(3.0 * float(face_structure_loss(feats(fake), feats(photo))))
    adv = generator_loss(cfg, content, photo, fake, torch.zeros(2, 1, 4, 4), face_net=feats)
    assert "face" in adv.parts and "adv" in adv.parts
    with pytest.raises(ValueError, match="loss.face > 0 needs"):
        generator_loss(cfg, content, photo, fake, None)


def test_training_with_the_face_term_logs_it(tiny_data, tmp_path, tiny_onnx):
    from artifygan.training.loop import train

    cfg = tiny_config(tiny_data, "train.init_steps=1", "train.adv_steps=1", "loss.face=2.0",
                      f"model.face_detector={tiny_onnx}", "train.log_every=1")
    run = train(cfg, run_root=tmp_path / "runs", progress=False)
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert all(r["loss_g_face"] > 0 for r in rows) and len(rows) == 2
    with pytest.raises(ValueError, match="loss.face=-1.0: must be 0 or more"):
        train(tiny_config(tiny_data, "loss.face=-1"), run_root=tmp_path / "bad", progress=False)
