"""ONNX export of a generator (dynamic batch, height and width) and a parity check against torch.

onnxruntime ran the light generator several times faster than torch eager on small CPUs, so the
Cartoonizer uses an exported model on CPU when one is present (``model.onnx`` in the snapshot).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .device import to_memory_format
from .hub import cache_dir
from .imageio import atomic_write_bytes

ONNX_NAME = "model.onnx"
DEFAULT_OPSET = 17
EXPORT_VERSION = 2  # what the exporter writes (2: staged-mean norms); part of the on-demand cache key
VERSION_KEY = "artifygan_export_version"  # the ONNX metadata entry that records it


class StagedNorm(nn.Module):
    """GroupNorm(1, C) or affine InstanceNorm2d with its means taken one axis at a time, for export only.

    ONNX writes both as InstanceNormalization, whose float32 statistics in onnxruntime drift with the
    number of pixels: at 1536² the light generator's output was 2.5e-2 off torch's (3 grey levels), on
    offset inputs a bare GroupNorm 2.4 off at 1024². Means over one axis at a time stay within 1e-5."""

    def __init__(self, norm: nn.GroupNorm | nn.InstanceNorm2d) -> None:
        super().__init__()
        self.dims = (3, 2, 1) if isinstance(norm, nn.GroupNorm) else (3, 2)
        self.eps = norm.eps
        self.weight, self.bias = norm.weight, norm.bias

    def _mean(self, x: torch.Tensor) -> torch.Tensor:
        for d in self.dims:
            x = x.mean(d, keepdim=True)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self._mean(x)
        y = centred * torch.rsqrt(self._mean(centred * centred) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


def staged_norms(model: nn.Module) -> nn.Module:
    """``model`` with every GroupNorm(1) and affine InstanceNorm2d without running statistics replaced by
    :class:`StagedNorm` (in place; export a copy)."""
    for name, child in list(model.named_children()):
        if (isinstance(child, nn.GroupNorm) and child.num_groups == 1 and child.affine) or (
                isinstance(child, nn.InstanceNorm2d) and child.affine and not child.track_running_stats):
            setattr(model, name, StagedNorm(child))
        else:
            staged_norms(child)
    return model


def export_onnx(generator: nn.Module, out_path: str | os.PathLike, opset: int = DEFAULT_OPSET,
                example_size: int = 256) -> Path:
    """Write ``out_path`` atomically; input 'image' and output 'cartoon' are (B, 3, H, W) in [-1, 1]."""
    out_path = Path(out_path)
    # a copy: the caller's model keeps its mode, dtype, device and norms
    model = staged_norms(to_memory_format(copy.deepcopy(generator).eval().float().cpu(), torch.contiguous_format))
    x = torch.zeros(1, 3, example_size, example_size)
    dyn = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated upstream but exact here
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (x,), buf,  # type: ignore[arg-type]  # a file object is documented; the stub omits it
                              input_names=["image"], output_names=["cartoon"], opset_version=opset,
                              dynamic_axes={"image": dyn, "cartoon": dyn}, dynamo=False)
        except Exception as exc:  # its message carries the whole graph: the first line says what failed
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{out_path}: cannot export at opset {opset} ({first})") from None
    import onnx  # a dependency of the package; imported here, as torch.onnx is, only when exporting

    proto = onnx.load_from_string(buf.getvalue())
    onnx.helper.set_model_props(proto, {VERSION_KEY: str(EXPORT_VERSION)})
    atomic_write_bytes(out_path, proto.SerializeToString())
    return out_path


def export_version(path: str | os.PathLike) -> int:
    """The exporter version a model.onnx records (1: an export from before versions were recorded, whose
    norms drift at large sizes in onnxruntime). Unreadable files answer 1 too: a fresh export replaces them."""
    import onnx

    try:
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        return int(props.get(VERSION_KEY, 1))
    except Exception:
        return 1


def ort_session(path: str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session (import deferred: onnxruntime is an optional dependency)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("the onnx backend needs onnxruntime: pip install 'artifygan[onnx]'") from None
    so = ort.SessionOptions()
    # Memory patterns pre-plan a second full set of buffers for every new input shape: measured here,
    # 1.34 GB → 2.2 GB on the second 1024² forward pass, at the same speed without them.
    so.enable_mem_pattern = False
    if threads:
        so.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValueError(f"{path}: cannot load ONNX model ({str(exc).splitlines()[0]})") from None


@torch.inference_mode()
def parity(generator: nn.Module, onnx_path: str | os.PathLike,
           shapes: tuple[tuple[int, int, int], ...] = ((1, 256, 256), (2, 128, 96), (1, 1024, 1024))) -> float:
    """Max |torch − onnxruntime| over random inputs of several shapes (dynamic axes exercised; 1024²: the
    sizes photos are translated at, where the norms' statistics drifted)."""
    sess = ort_session(onnx_path)
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for b, h, w in shapes:
        x = torch.rand(b, 3, h, w, generator=g) * 2 - 1
        ref = generator.eval().float()(x).numpy()
        out = sess.run(None, {"image": x.numpy()})[0]
        worst = max(worst, float(np.abs(out - ref).max()))
    return worst


def cached_onnx_path(snapshot: Path, opset: int = DEFAULT_OPSET) -> Path:
    """Where an on-demand export of a snapshot lives when its folder may be read-only. Keyed by the weights
    and by what builds the graph around them (the generator and its settings, opset, exporter): an
    activation or padding changes the graph, not the weights' shapes."""
    meta = json.loads((snapshot / "config.json").read_text())
    graph = json.dumps([meta.get("generator"), meta.get("generator_args"), opset, EXPORT_VERSION], sort_keys=True)
    h = hashlib.sha1((snapshot / "model.safetensors").read_bytes())
    h.update(graph.encode())
    digest = h.hexdigest()[:16]
    return cache_dir("onnx") / f"{digest}.onnx"
