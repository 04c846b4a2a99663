"""A face detector's own features, in torch, for a face-structure loss.

Why: the Inception content loss holds the whole picture equally, so the adversarial term can redraw eyes,
nose and mouth as freely as the background, and outputs lose the face (the detector no longer finds it).
YuNet's backbone and neck were trained to see exactly those parts; an L1 between its features of the
photo and of the output holds the face's layout and leaves surfaces and colours to the style.

YuNet ships as ONNX only. Its graph is a handful of plain operators, so :class:`OnnxConvNet` runs it
directly with torch functions (differentiable, any batch size) instead of converting it by hand; the
weights stay the upstream file's (path option, ``$ARTIFYGAN_YUNET``, or download + cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..device import to_memory_format
from ..faces import YUNET_ENV, YUNET_URL
from ..hub import in_cache, resolve_file
from ..imageio import one_line

# YuNet's neck outputs at strides 8, 16 and 32 (the tensors its three detection heads read), in its
# 2023mar/2026may graphs; another graph can name its own.
YUNET_NECK = ("256", "246", "236")


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _onnx_pads(x: torch.Tensor, a: dict[str, Any], fill: float = 0.0) -> tuple[torch.Tensor, tuple[int, int]]:
    """ONNX pads (top, left, bottom, right) as torch's symmetric (h, w) padding; one-sided pads are applied
    here with ``fill`` (0 for a conv, -inf for a max pool, which must never pick the padding)."""
    top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
    if top != bottom or left != right:
        return F.pad(x, (left, right, top, bottom), value=fill), (0, 0)
    return x, (top, left)


def _conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, a: dict[str, Any]) -> torch.Tensor:
    x, pad = _onnx_pads(x, a)
    return F.conv2d(x, w, b, a.get("strides", [1, 1]), pad, a.get("dilations", [1, 1]), a.get("group", 1))


def _maxpool(x: torch.Tensor, a: dict[str, Any]) -> torch.Tensor:
    x, pad = _onnx_pads(x, a, fill=float("-inf"))
    return F.max_pool2d(x, a["kernel_shape"], a.get("strides", a["kernel_shape"]), pad,
                        ceil_mode=bool(a.get("ceil_mode", 0)))


def _resize_scales(node: Any, a: dict[str, Any], inits: dict[str, Any]) -> tuple[float, float]:
    """A Resize node's (h, w) scale factors as Python numbers, read once from the graph: reading them from a
    tensor in ``forward`` would break torch.compile's graph at every Resize (and recompile past its limit)."""
    from onnx import numpy_helper

    mode = a.get("mode", b"nearest").decode()
    if mode != "nearest" or a.get("coordinate_transformation_mode", b"") != b"asymmetric":
        raise ValueError(f"Resize mode {mode!r} with {a.get('coordinate_transformation_mode')!r} is not supported")
    name = node.input[2] if len(node.input) > 2 else ""
    scales = numpy_helper.to_array(inits[name]).ravel() if name in inits else None
    if scales is None or scales.size != 4:
        raise ValueError("Resize without 4 constant scales is not supported")
    return float(scales[2]), float(scales[3])


def _resize(x: torch.Tensor, a: dict[str, Any]) -> torch.Tensor:
    # nearest + asymmetric + floor is torch's legacy "nearest"
    return F.interpolate(x, scale_factor=a["_scales"], mode="nearest")


class OnnxConvNet(nn.Module):
    """Runs the part of an ONNX graph that computes ``outputs``, with torch ops (Conv, Relu, MaxPool,
    nearest Resize, Add, Sigmoid). Weights are buffers: frozen, moved with ``.to()``, not trained."""

    def __init__(self, path: str | os.PathLike, outputs: Sequence[str]) -> None:
        super().__init__()
        import onnx
        from onnx import numpy_helper

        try:
            graph = onnx.load(str(path)).graph
        except Exception as exc:  # a truncated or foreign file
            raise ValueError(f"{path}: not a readable ONNX model ({one_line(exc)}{in_cache(path)})") from None
        if not graph.input or not graph.node:  # onnx reads an empty file as an empty model, without a word
            raise ValueError(f"{path}: not a readable ONNX model (no graph in it{in_cache(path)})")
        self.input_name = graph.input[0].name
        self.outputs = list(outputs)
        producers = {out: node for node in graph.node for out in node.output}
        missing = [o for o in self.outputs if o not in producers]
        if missing:
            raise ValueError(f"{path}: no tensor named {missing[0]!r} in this graph")
        needed: list[Any] = []
        seen: set[str] = set()

        def visit(name: str) -> None:  # the nodes the outputs depend on, in an order that runs
            node = producers.get(name)
            if node is None or node.output[0] in seen:
                return
            seen.add(node.output[0])
            for inp in node.input:
                visit(inp)
            needed.append(node)

        for o in self.outputs:
            visit(o)
        inits = {t.name: t for t in graph.initializer}
        self._plan: list[tuple[str, list[str], str, dict[str, Any]]] = []
        for node in needed:
            if node.op_type not in _OPS:
                raise ValueError(f"{path}: operator {node.op_type} is not supported by OnnxConvNet")
            attrs, inputs = _attrs(node), list(node.input)
            if node.op_type == "Resize":  # its scales become Python numbers: only the image is read
                try:
                    attrs["_scales"] = _resize_scales(node, attrs, inits)
                except ValueError as exc:
                    raise ValueError(f"{path}: {exc}") from None
                inputs = inputs[:1]
            self._plan.append((node.op_type, inputs, node.output[0], attrs))
        self._names: dict[str, str] = {}  # the initializers the plan reads, as buffers
        for _, inputs, _, _ in self._plan:
            for inp in inputs:
                if inp in inits and inp not in self._names:
                    key = f"w{len(self._names)}"
                    self._names[inp] = key
                    self.register_buffer(key, torch.from_numpy(numpy_helper.to_array(inits[inp]).copy()).float())

    def _value(self, env: dict[str, torch.Tensor], name: str) -> torch.Tensor | None:
        if not name:
            return None
        if name in self._names:
            return getattr(self, self._names[name])
        return env[name]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        env = {self.input_name: x}
        for op, inputs, out, attrs in self._plan:
            args = [self._value(env, i) for i in inputs]
            env[out] = _OPS[op](args, attrs)
        return [env[o] for o in self.outputs]


_OPS: dict[str, Callable[[list[Any], dict[str, Any]], torch.Tensor]] = {
    "Conv": lambda v, a: _conv(v[0], v[1], v[2] if len(v) > 2 else None, a),
    "Relu": lambda v, a: F.relu(v[0]),
    "Sigmoid": lambda v, a: torch.sigmoid(v[0]),
    "Add": lambda v, a: v[0] + v[1],
    "MaxPool": lambda v, a: _maxpool(v[0], a),
    "Resize": lambda v, a: _resize(v[0], a),
}


class FaceStructureFeatures(nn.Module):
    """YuNet's neck features of RGB images in [-1, 1], seen at the detector's working size.

    YuNet reads BGR in 0..255 (no normalisation); images are resized to ``size`` (the scale at which
    ``PhotoFaceDetector`` runs a 256² image is 320). Frozen: always in eval mode, no gradients to its weights.
    """

    def __init__(self, path: str | os.PathLike | None = None, size: int = 320, download: bool = True,
                 outputs: Sequence[str] = YUNET_NECK) -> None:
        super().__init__()
        self.path = resolve_file("YuNet face detector", path, YUNET_ENV, YUNET_URL, download=download)
        self.net = OnnxConvNet(self.path, outputs)
        self.size = size
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FaceStructureFeatures:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        bgr = (x.flip(1).float() + 1) * 127.5
        return self.net(bgr)


def face_features(weight: float, path: str | None, dev: torch.device, fmt: torch.memory_format,
                  compile_: bool) -> Callable[[torch.Tensor], list[torch.Tensor]] | None:
    """loss.face's frozen features on the training device (and memory format), or None when the term is off."""
    if weight <= 0:
        return None
    net = to_memory_format(FaceStructureFeatures(path).to(dev), fmt)
    # static shapes (training batches are all alike): with dynamic shapes torch 2.13's inductor generated
    # code that referenced an undefined size symbol for this graph (CPU, 2026-11-27)
    return torch.compile(net, dynamic=False) if compile_ else net


def face_structure_loss(feats_fake: Sequence[torch.Tensor], feats_photo: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over the levels of L1(fake, photo) / mean |photo|: each level counts the same whatever its scale."""
    terms = [F.l1_loss(f.float(), p.float()) / p.float().abs().mean().clamp_min(1e-6)
             for f, p in zip(feats_fake, feats_photo, strict=True)]
    return torch.stack(terms).mean()
