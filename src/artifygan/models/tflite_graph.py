"""A small TensorFlow Lite graph run with torch: the ops of MediaPipe's selfie segmenter, no TF runtime.

Why: the person segmenter behind a style's plain backdrop (``artifygan.segmenter``) is published only as a
``.tflite`` file, and neither TensorFlow nor the LiteRT runtime belongs in this package (size, and the
model's custom transposed convolution needs MediaPipe's own runtime anyway). The file is read with the
``tflite`` package (the flatbuffer schema, pure Python) into a list of ``Op``; ``TFLiteGraph`` runs them in
NCHW. Only the ops that model uses are known; any other fails with a clear error naming it.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..hub import in_cache

ACTIVATIONS = {0: None, 1: "relu", 3: "relu6"}  # TFLite's fused activations that may appear
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32}
PADDINGS = {0: "same", 1: "valid"}  # the schema's Padding enum
CUSTOM_PADDINGS = {1: "same", 2: "valid"}  # the C API's TfLitePadding, in custom ops' raw options


@dataclass
class Op:
    """One operator: its kind (builtin name or custom code), tensor indices and the options it needs."""

    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    ops: list[Op]
    constants: dict[int, np.ndarray]  # tensor index → its value (float16 weights stay float16 here)
    inputs: list[int]
    outputs: list[int]


def _options(op: Any, kind: str) -> dict[str, Any]:
    import tflite

    table = op.BuiltinOptions()
    names = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
             "AVERAGE_POOL_2D": "Pool2DOptions", "ADD": "AddOptions", "MUL": "MulOptions",
             "RESIZE_BILINEAR": "ResizeBilinearOptions"}
    if kind not in names or table is None:
        return {}
    o = getattr(tflite, names[kind])()
    o.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    if hasattr(o, "FusedActivationFunction"):
        out["activation"] = o.FusedActivationFunction()
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"):
        out.update(padding=PADDINGS[o.Padding()], stride=(o.StrideH(), o.StrideW()))
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        out["dilation"] = (o.DilationHFactor(), o.DilationWFactor())
    if kind == "AVERAGE_POOL_2D":
        out["kernel"] = (o.FilterHeight(), o.FilterWidth())
    if kind == "RESIZE_BILINEAR":
        out.update(align_corners=bool(o.AlignCorners()), half_pixel=bool(o.HalfPixelCenters()))
    return out


def read_tflite(path: str | os.PathLike) -> Graph:
    """The first subgraph of a ``.tflite`` file; ValueError naming the file when it is not one."""
    import tflite

    buf = Path(path).read_bytes()
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        g = model.Subgraphs(0)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            codes.append(oc.CustomCode().decode() if oc.CustomCode() else tflite.opcode2name(code))
        constants: dict[int, np.ndarray] = {}
        for t in range(g.TensorsLength()):
            tensor = g.Tensors(t)
            data = model.Buffers(tensor.Buffer()).DataAsNumpy()
            if isinstance(data, np.ndarray) and data.size and tensor.Type() in DTYPES:
                shape = tuple(tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
                constants[t] = data.view(DTYPES[tensor.Type()]).reshape(shape)
        ops = []
        for j in range(g.OperatorsLength()):
            op = g.Operators(j)
            kind = codes[op.OpcodeIndex()]
            opts = _options(op, kind)
            if kind == "Convolution2DTransposeBias":  # raw TfLiteTransposeConvParams: padding, stride w, h
                padding, sw, sh = struct.unpack("<3i", op.CustomOptionsAsNumpy().tobytes()[:12])
                opts = {"padding": CUSTOM_PADDINGS[padding], "stride": (sh, sw)}
            ops.append(Op(kind, [int(i) for i in op.InputsAsNumpy()], [int(i) for i in op.OutputsAsNumpy()],
                          opts))
        inputs = [int(i) for i in g.InputsAsNumpy()]
        outputs = [int(i) for i in g.OutputsAsNumpy()]
    except Exception as exc:  # a truncated or foreign file fails deep inside the flatbuffer reader
        raise ValueError(f"{path}: not a readable TensorFlow Lite model ({exc}{in_cache(path)})") from None
    return Graph(ops, constants, inputs, outputs)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after): the output is ceil(size / stride), any odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
              dilation: tuple[int, int] = (1, 1)) -> torch.Tensor:
    top, bottom = same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    left, right = same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    return F.pad(x, (left, right, top, bottom))


def _activate(x: torch.Tensor, code: int) -> torch.Tensor:
    if code not in ACTIVATIONS:
        raise ValueError(f"fused activation {code} is not supported")
    act = ACTIVATIONS[code]
    return x if act is None else F.relu(x) if act == "relu" else F.relu6(x)


class TFLiteGraph(nn.Module):
    """Runs a ``Graph`` on NCHW float tensors; weights converted to torch's layouts once, as buffers."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph
        used = {i for op in graph.ops for i in op.inputs if i in graph.constants}
        for i in sorted(used):
            self.register_buffer(f"t{i}", torch.from_numpy(graph.constants[i].astype(np.float32)))

    def _const(self, i: int) -> torch.Tensor:
        return getattr(self, f"t{i}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env: dict[int, torch.Tensor] = {self.graph.inputs[0]: x}

        def get(i: int) -> torch.Tensor:
            return env[i] if i in env else self._const(i)

        for op in self.graph.ops:
            env[op.outputs[0]] = self._run(op, get)
        return env[self.graph.outputs[0]]

    def _run(self, op: Op, get: Any) -> torch.Tensor:
        o, k = op.options, op.kind
        if k == "DEQUANTIZE":
            return get(op.inputs[0]).float()
        if k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w = get(op.inputs[0]), get(op.inputs[1])
            b = get(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
            if k == "CONV_2D":  # TFLite (out, kh, kw, in) → torch (out, in, kh, kw)
                w, groups = w.permute(0, 3, 1, 2), 1
            else:  # (1, kh, kw, channels × multiplier) → (channels × multiplier, 1, kh, kw)
                w, groups = w.permute(3, 0, 1, 2), x.shape[1]
            if o["padding"] == "same":
                x = _pad_same(x, tuple(w.shape[2:]), o["stride"], o["dilation"])
            y = F.conv2d(x, w.contiguous(), b, o["stride"], 0, o["dilation"], groups)
            return _activate(y, o["activation"])
        if k == "Convolution2DTransposeBias":
            x, w, b = get(op.inputs[0]), get(op.inputs[1]), get(op.inputs[2])
            w = w.permute(3, 0, 1, 2).contiguous()  # (out, kh, kw, in) → (in, out, kh, kw)
            y = F.conv_transpose2d(x, w, b, o["stride"])
            if o["padding"] == "same":  # crop the full output to size × stride, the odd pixel after
                h, wd = x.shape[2] * o["stride"][0], x.shape[3] * o["stride"][1]
                top, left = (y.shape[2] - h) // 2, (y.shape[3] - wd) // 2
                y = y[:, :, top:top + h, left:left + wd]
            return y
        if k == "AVERAGE_POOL_2D":
            x = get(op.inputs[0])
            if o["kernel"] == tuple(x.shape[2:]) or o["padding"] == "valid":
                y = F.avg_pool2d(x, o["kernel"], o["stride"])
            else:  # SAME: TFLite averages over the real pixels only
                y = F.avg_pool2d(_pad_same(x, o["kernel"], o["stride"]), o["kernel"], o["stride"])
                ones = _pad_same(torch.ones_like(x[:, :1]), o["kernel"], o["stride"])
                y = y / F.avg_pool2d(ones, o["kernel"], o["stride"])
            return _activate(y, o.get("activation", 0))
        if k in ("ADD", "MUL"):
            a, b = (self._nchw(get(i)) for i in op.inputs)
            return _activate(a + b if k == "ADD" else a * b, o.get("activation", 0))
        if k == "RELU":
            return F.relu(get(op.inputs[0]))
        if k == "HARD_SWISH":
            return F.hardswish(get(op.inputs[0]))
        if k == "LOGISTIC":
            return torch.sigmoid(get(op.inputs[0]))
        if k == "RESIZE_BILINEAR":
            x, size = get(op.inputs[0]), get(op.inputs[1]).long().tolist()
            if o.get("align_corners"):
                return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
            if not o.get("half_pixel"):  # TF1's legacy sampling: source = destination × scale
                raise ValueError("RESIZE_BILINEAR without half-pixel centres or aligned corners is not supported")
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        raise ValueError(f"TensorFlow Lite op {k} is not supported")

    @staticmethod
    def _nchw(t: torch.Tensor) -> torch.Tensor:
        """A constant operand, NHWC in the file (…, C), broadcast against NCHW activations."""
        if t.dim() == 4 and t.shape[1] == 1 and t.shape[2] == 1:  # (1, 1, 1, C) → (1, C, 1, 1)
            return t.permute(0, 3, 1, 2)
        if t.dim() == 1 and t.numel() > 1:
            return t.view(1, -1, 1, 1)
        return t


__all__ = ["Graph", "Op", "TFLiteGraph", "read_tflite", "same_padding"]
