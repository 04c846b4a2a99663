"""The Cartoonizer: the single inference path used by the CLI, the Python API and the benchmarks.

preprocess (any PIL mode → RGB, optional resize, the snapshot's recorded input smoothing, pad to the
net's stride) → generator (then the snapshot's recorded tensor postprocess, e.g. stroke cleanup) →
postprocess (crop the padding, a style's photo colours and plain background, resize back, grey photos back to
grey, restore alpha).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..background import BackgroundStep, recorded_background
from ..cartoon_losses import StrokeCleanup, clean_strokes, postprocess_settings
from ..device import pick_device, to_memory_format
from ..eyes import EyeStep, recorded_eyes
from ..face_finder import LazyFaces
from ..face_skin import FaceSkinStep, chosen_face_skin, recorded_face_skin
from ..faces import Face, FaceFraming
from ..imageio import ImageError, ImageLike, as_grey, is_grey, pil_to_tensor, read_input, tensor_to_pil, to_bytes
from ..input_smoothing import InputSmoothing, chosen_step, recorded_smoothing
from ..models import load_generator
from ..models.snapshot import SnapshotError, resolve_snapshot, save_generator
from ..photo_colour import apply_photo_colour, recorded_grey, recorded_photo_colour
from ..segmenter import LazySegmenter
from ..skin_smoothing import recorded_skin_smoothing
from .arguments import check_flags, check_pixels
from .tiling import translate_tiled
from .tta import check_tta, ensemble


@dataclass
class Prepared:
    """One image ready for the network, with what postprocessing needs to undo."""

    tensor: torch.Tensor  # (3, H', W') padded to the stride
    size: tuple[int, int]  # original (W, H)
    net_size: tuple[int, int]  # (W, H) fed to the net before padding
    alpha: Image.Image | None
    grey: bool = False  # a black-and-white photo: the cartoon is given back in grey too
    skin_weight: float = 0.0  # the skin step's weight (how textured the face): its stroke erasing follows it
    photo: Image.Image | None = None  # the photo at the net's size before any smoothing (for the face steps)


def default_batch_size(device: torch.device) -> int:
    """Images per forward pass when the caller does not say: one on the CPU, where a single image is
    fastest (2-core x86 CPU, 256², both backends: ~12 img/s at 1 against ~9 at 4 and 7–8 at 8), four on
    an accelerator, where batching pays."""
    return 1 if device.type == "cpu" else 4


class Cartoonizer:
    """Photo → cartoon with a trained generator.

    ``max_side`` bounds the resolution the net sees (larger inputs are downscaled for the net and the
    result scaled back to the input size; 0 = full resolution); ``resize`` forces the longer side to that
    value. Inputs of more than ``tile``² pixels run as overlapping ``tile``² tiles (bounded memory).
    ``border``: rows of mirrored photo added below the picture and cropped off after: the default drew a
    bright dotted line along the bottom edge of every picture (its last 3 rows +20 grey levels on average);
    the line falls in the rows cropped off (6% more pixels at 256²; 0 turns it off).
    ``clean_strokes``: erase thin dark strokes on flat skin (None: as the snapshot's config records).
    ``clean_face``: smooth the lines out of each face's skin, placed by the photo's face landmarks
    (``artifygan.face_skin``; None: as the snapshot records; False: off; True: on; a number in [0, 1]:
    that share of line erasing).
    ``smooth_input``: bilateral-filter the photo at the net's resolution before the generator (None: as
    the snapshot's config records; True: its settings, else the defaults; False: never). A recorded
    ``preprocess.skin`` step (flatter skin on heavily textured faces) follows the filter and goes with it.
    ``keep_grey``: a black-and-white photo gives a black-and-white cartoon (the output's luminance), where
    the network alone would tint it; False gives the network's colours. A style that records
    ``postprocess.grey`` (drawn in black and white) gives grey outputs whatever the photo.
    ``tta``: a test-time ensemble (``inference.tta``): off, x2 (the photo and its shifted mirror image)
    or x4 (mirrored or not × shifted or not).
    ``background``: a style's recorded plain background (``artifygan.background``) and bigger eyes
    (``artifygan.eyes``); False keeps the photo's background and eyes. Both find the photo's faces with
    ``face_finder`` (YuNet, loaded on first use; set its ``model`` to a file to choose it); the backdrop
    cuts the people out with ``person_finder`` (MediaPipe's selfie segmenter, ``artifygan.segmenter``).
    """

    def __init__(self, generator: nn.Module, meta: dict[str, Any] | None = None, device: str = "auto",
                 batch_size: int | None = None, max_side: int = 1536, resize: int | None = None,
                 onnx_path: str | os.PathLike | None = None, compile: bool = False, tile: int = 1024,
                 tile_overlap: int = 64, border: int = 16, clean_strokes: bool | None = None,
                 smooth_input: bool | None = None, keep_grey: bool = True,
                 tta: str | None = "off", background: bool = True, clean_face: bool | float | None = None) -> None:
        check_pixels(max_side=max_side, resize=resize, tile=tile, tile_overlap=tile_overlap, border=border,
                     batch_size=batch_size)
        check_flags({"clean_strokes": clean_strokes, "smooth_input": smooth_input},
                    {"keep_grey": keep_grey, "background": background, "compile": compile})
        tta = "off" if tta is None else tta
        self.device = pick_device(device)
        self.generator = generator.to(self.device).eval()
        self.session = None
        self.backend = "torch"
        if onnx_path is not None:
            from ..export import ort_session

            if self.device.type != "cpu":
                raise ValueError("the onnx backend runs on CPU; use --device cpu or --backend torch")
            self.session = ort_session(onnx_path)
            self.backend = "onnx"
        cuda = self.device.type == "cuda"
        self.channels_last = bool(getattr(generator, "prefers_channels_last", False)) or cuda
        if self.channels_last:
            self.generator = to_memory_format(self.generator, torch.channels_last)
        if cuda:  # bf16 on GPU: half the memory traffic, same look
            self.generator = self.generator.to(torch.bfloat16)
        self.net = torch.compile(self.generator, dynamic=False) if compile else self.generator
        self.meta = meta or {}
        self.cleanup = chosen_step(postprocess_settings(self.meta), clean_strokes, StrokeCleanup)
        self.photo_colour = recorded_photo_colour(self.meta)  # few-shot styles: the photo's colours
        self.grey_style = recorded_grey(self.meta)  # a black-and-white style: every output grey
        plain = recorded_background(self.meta) if background else None
        self.person_finder = LazySegmenter()
        self.background = BackgroundStep(plain, self.person_finder) if plain is not None else None
        eyes = recorded_eyes(self.meta) if background else None
        self.eyes = EyeStep(eyes) if eyes is not None else None
        self.face_finder = LazyFaces()
        face_skin = chosen_face_skin(recorded_face_skin(self.meta), clean_face)
        self.face_skin = FaceSkinStep(face_skin) if face_skin is not None else None
        self.smoothing = chosen_step(recorded_smoothing(self.meta), smooth_input, InputSmoothing)
        self.skin = recorded_skin_smoothing(self.meta) if self.smoothing is not None else None
        strokes_ok = self.skin is not None and self.skin.strokes and self.cleanup is None and clean_strokes is None
        self.skin_strokes = StrokeCleanup() if strokes_ok else None  # --clean-strokes on/off overrides it
        self.stride = int(getattr(generator, "stride", 4))
        self.batch_size = max(1, batch_size or default_batch_size(self.device))
        self.max_side = max_side
        self.resize = resize
        self.tile = max(tile, 8 * self.stride)
        self.tile_overlap = min(tile_overlap, self.tile // 2)  # a small --tile keeps a tile's worth of step
        self.border = -(-max(0, border) // self.stride) * self.stride  # rounded up to the stride
        self.keep_grey = keep_grey
        self.tta = check_tta(tta)
        self._local = threading.local()  # pinned host buffers (GPU only), per thread: threads share a model

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str = "auto", backend: str = "auto",
                        **kwargs: Any) -> Cartoonizer:
        """Load a snapshot folder (config.json + model.safetensors) or a run folder's newest snapshot.

        ``backend``: torch | onnx (onnxruntime, CPU; the snapshot's model.onnx, else exported on demand into
        the cache) | auto (torch: through this path, at the CPU's batch 1, it was the faster of the two on
        the 2-core CPU in every interleaved measurement, 12–17% on 2026-11-29; onnx stays for deployment
        without this package).
        """
        from ..export import EXPORT_VERSION, ONNX_NAME, cached_onnx_path, export_onnx, export_version

        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"unknown backend {backend!r}; choose auto, torch or onnx")
        snap = resolve_snapshot(path)
        generator, meta = load_generator(snap)
        meta = {**meta, "path": str(snap)}
        try:
            postprocess_settings(meta)
            recorded_photo_colour(meta)
            recorded_grey(meta)
            recorded_background(meta)
            recorded_eyes(meta)
            recorded_face_skin(meta)
            recorded_smoothing(meta)
            recorded_skin_smoothing(meta)
            FaceFraming.from_meta(meta)
        except ValueError as exc:
            raise SnapshotError(f"{snap / 'config.json'}: {exc}") from None
        onnx_path = None
        if backend == "onnx":
            own = snap / ONNX_NAME
            onnx_path = own if own.is_file() else None
            if onnx_path is not None and export_version(own) < EXPORT_VERSION:
                warnings.warn(f"{own}: written by an older exporter (its norms drift from the weights' at large "
                              f"sizes); a fresh export is used instead (`artifygan export -m {snap} --overwrite` "
                              "replaces the file)", stacklevel=2)
                onnx_path = None
            if onnx_path is None:
                onnx_path = cached_onnx_path(snap)
                if not onnx_path.is_file():
                    export_onnx(generator, onnx_path)
        return cls(generator, meta, device=device, onnx_path=onnx_path, **kwargs)

    def save_pretrained(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write this model as a snapshot folder (config.json + model.safetensors) that ``from_pretrained``,
        the CLI, video, the web page and evaluate load. Never replaces an existing folder unless asked."""
        out = Path(path).expanduser()
        if out.is_dir() and not out.is_symlink() and any(out.iterdir()) and not overwrite:
            raise FileExistsError(f"{out}: exists and is not empty; choose a new folder (or overwrite=True)")
        name = self.meta.get("generator")
        if not isinstance(name, str):
            raise ValueError("this Cartoonizer was built from a bare module: no registry name to save it under")
        g = to_memory_format(copy.deepcopy(self.generator).float().cpu(), torch.contiguous_format)
        skip = ("format_version", "generator", "generator_args", "path")
        extra = {k: v for k, v in self.meta.items() if k not in skip}
        skin_strokes = self.skin is not None and self.skin_strokes is not None
        face_skin = self.face_skin.settings if self.face_skin is not None else None
        off = {k for k, step in (("background", self.background), ("eyes", self.eyes)) if step is None}
        if (self.smoothing, self.skin, self.cleanup, face_skin) != (
                recorded_smoothing(self.meta), recorded_skin_smoothing(self.meta), postprocess_settings(self.meta),
                recorded_face_skin(self.meta)) or skin_strokes != bool(self.skin and self.skin.strokes) or (
                off & set(self.meta.get("postprocess") or {})):  # background=False: the backdrop, eyes too
            # options changed the recorded steps: the copy records the steps this Cartoonizer runs, and not the
            # scores measured with the others
            pre = {"bilateral": self.smoothing.to_meta()} if self.smoothing is not None else {}
            if self.skin is not None:
                pre["skin"] = {**self.skin.to_meta(), "strokes": skin_strokes}
            post = {k: v for k, v in (self.meta.get("postprocess") or {}).items()
                    if k not in {"clean_strokes", "face_skin", *off}}
            post.update({"clean_strokes": dataclasses.asdict(self.cleanup)} if self.cleanup is not None else {})
            post.update({"face_skin": face_skin.to_meta()} if face_skin is not None else {})
            extra.pop("validation", None)
            extra.update(preprocess=pre, postprocess=post)
            extra = {k: v for k, v in extra.items() if v or k not in ("preprocess", "postprocess")}
        return save_generator(g, name, out, extra)

    # ---- the three stages ----
    def preprocess(self, image: ImageLike, grey: bool | None = None, own_size: bool = False) -> Prepared:
        """``grey``: give the cartoon back in grey (None: as :meth:`greys` decides from this picture; face
        mode decides once for the whole photo, not for each face crop). ``own_size``: translate at the
        picture's size whatever ``resize`` and ``max_side`` say (face mode's crops are made at its
        ``face_size``; resized again, ``--resize 96`` ran every face at 96)."""
        rgb, alpha = read_input(image)
        w, h = rgb.size
        big = bool(self.max_side) and max(w, h) > self.max_side and not own_size
        target = self.resize if self.resize and not own_size else (self.max_side if big else None)
        s = target / max(w, h) if target else 1.0
        min_side = 8 * self.stride  # below this the net's reflect padding has nothing to reflect
        cap = max(self.max_side, self.resize or 0, min_side) if self.max_side or self.resize else 1536
        if min(w, h) * s < min_side and max(w, h) * min_side / min(w, h) <= cap:
            s = min_side / min(w, h)  # small: enlarged; a thin strip is padded instead (6000×1 became 6 MP)
        net = rgb
        if s != 1.0:
            net = rgb.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
        grey = self.greys(net) if grey is None else (grey or self.grey_style)
        photo = net if self.has_face_steps else None  # faces are found in the photo, not its smoothed copy
        skin_w = 0.0
        if self.smoothing is not None:
            smoothed = self.smoothing.apply(net)
            net, skin_w = self.skin.apply(net, smoothed) if self.skin is not None else (smoothed, 0.0)
        t = pil_to_tensor(net)
        nh, nw = t.shape[-2:]
        th, tw = max(nh, min_side), max(nw, min_side)
        ph, pw = th - nh + (-th) % self.stride + self.border, tw - nw + (-tw) % self.stride
        if ph or pw:
            mode = "reflect" if ph < nh and pw < nw else "replicate"
            t = F.pad(t[None], (0, pw, 0, ph), mode=mode)[0]
        return Prepared(t, (w, h), (nw, nh), alpha, grey, skin_w, photo)

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor, tta: str | None = None) -> torch.Tensor:
        """Network output in [-1, 1], then the snapshot's recorded postprocess (stroke cleanup), if any.
        ``tta``: this call's test-time ensemble (None: the Cartoonizer's own)."""
        if self.session is not None:
            return self._cleanup(ensemble(self._run_onnx, batch, self._tta(tta), self.stride), batch)
        return self._on_device(batch, tta).cpu()

    def _tta(self, tta: str | None) -> str:
        return self.tta if tta is None else check_tta(tta)

    def _run_onnx(self, batch: torch.Tensor) -> torch.Tensor:
        assert self.session is not None
        return torch.from_numpy(self.session.run(None, {"image": batch.float().numpy()})[0])

    def _run_net(self, batch: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return self.net(batch)

    @torch.inference_mode()
    def forward_bytes(self, batch: torch.Tensor, tta: str | None = None) -> torch.Tensor:
        """``forward`` as uint8 (N, 3, H, W), quantised where the network ran.

        Why: on a GPU the host copies, not the network, bounded throughput (an H200 ran the bare fast
        generator at 8,800 img/s but ``forward`` at 1,450, float32 both ways through pageable memory).
        Here the copy back is a quarter of the bytes, and both copies go through reused pinned buffers.
        """
        if self.session is not None:
            return to_bytes(self.forward(batch, tta))
        q = to_bytes(self._on_device(batch, tta))
        if self.device.type != "cuda":  # the CPU's own; MPS's copied back (the postprocess runs on the CPU)
            return q.cpu()
        host = self._host_buffer(tuple(q.shape), q.dtype)
        host.copy_(q)  # synchronous: the buffer is whole when this returns
        return host.clone()

    def _on_device(self, batch: torch.Tensor, tta: str | None = None) -> torch.Tensor:
        """The torch backend's cleaned float output, left on the device; the batch is copied there once."""
        x = self._staged(batch).to(self.device, non_blocking=True)
        p = next(self.generator.parameters())
        return self._cleanup(ensemble(self._run_net, x.to(p.dtype), self._tta(tta), self.stride).float(), x)

    def _cleanup(self, out: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        return clean_strokes(out, photo.float(), self.cleanup).clamp_(-1, 1) if self.cleanup is not None else out

    def _staged(self, batch: torch.Tensor) -> torch.Tensor:
        """On a GPU, the batch copied into a pinned buffer (an asynchronous, faster copy to the device)."""
        if self.device.type != "cuda" or batch.device.type != "cpu":
            return batch
        buf = self._host_buffer(tuple(batch.shape), batch.dtype)
        return buf.copy_(batch)

    def _host_buffer(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A pinned host tensor reused per (shape, dtype) and thread; a few shapes kept (video and batches
        repeat). One per thread: two threads' requests shared one, and one could get the other's pixels."""
        buffers = self._local.__dict__.setdefault("buffers", {})
        buf = buffers.get((shape, dtype))
        if buf is None:
            if len(buffers) >= 4:
                buffers.clear()
            buf = buffers[(shape, dtype)] = torch.empty(shape, dtype=dtype, pin_memory=True)
        return buf

    def postprocess(self, out: torch.Tensor, prep: Prepared, face_steps: bool = True,
                    paint_background: bool = True, clean_face: bool = True) -> Image.Image:
        """``out``: one image of ``forward`` (float) or ``forward_bytes`` (uint8). ``face_steps``: False
        leaves the steps placed by faces (``finish``) to the caller (face mode does them once, on the
        whole picture); ``paint_background``: False keeps the photo's background (the eyes still change);
        ``clean_face``: False skips the clean face skin for this call (a web request's choice)."""
        nw, nh = prep.net_size
        out = out[:, :nh, :nw]
        erase = self.skin_strokes if prep.skin_weight > 0 else None
        if erase is not None or self.photo_colour is not None:  # steps on the float output in [-1, 1]
            out = out.float() / 127.5 - 1 if out.dtype == torch.uint8 else out.float()
        if erase is not None:  # textured (older) faces: the strokes drawn on them erased too, by the skin weight
            clean = clean_strokes(out[None], prep.tensor[None, :, :nh, :nw], erase)[0]
            out = (out + prep.skin_weight * (clean - out)).clamp_(-1, 1)
        if self.photo_colour is not None:  # on the whole picture, so tiles and batches share one skin mask
            out = apply_photo_colour(out[None], prep.tensor[None, :, :nh, :nw], self.photo_colour)[0]
        img = tensor_to_pil(out)
        if face_steps and self.has_face_steps:
            photo = prep.photo if prep.photo is not None else tensor_to_pil(prep.tensor[:, :nh, :nw])
            img = self.finish(img, photo, None, paint_background, clean_face)
        if img.size != prep.size:
            img = img.resize(prep.size, Image.Resampling.BICUBIC)
        if prep.grey:
            img = as_grey(img)
        if prep.alpha is not None:
            img.putalpha(prep.alpha)
        return img

    def greys(self, photo: Image.Image) -> bool:
        """Whether the cartoon of ``photo`` is given back in grey: a black-and-white style always, a
        black-and-white photo unless ``keep_grey`` is off."""
        return self.grey_style or (self.keep_grey and is_grey(photo))

    @property
    def has_face_steps(self) -> bool:
        """Whether steps placed by faces (clean face skin; a style's plain background, bigger eyes: ``finish``)
        are on."""
        return self.background is not None or self.eyes is not None or self.face_skin is not None

    def finish(self, img: Image.Image, photo: Image.Image, faces: Sequence[Face] | None = None,
               paint_background: bool = True, clean_face: bool = True,
               cartoon: np.ndarray | None = None) -> Image.Image:
        """The steps placed by the photo's faces, on ``img`` (the cartoon of ``photo``, the same size): a
        style's plain background, the clean face skin, then a style's bigger eyes. ``faces``: the photo's,
        when the caller has them (face mode, video tracks), else found here (once, only when a step needs
        them). ``cartoon``: where the picture is a cartoon (H, W, 0–1; None: all of it) when face mode pasted
        cartoon faces into the photo or its blur: the skin tone stays there, the photo's neck as it is."""
        background = self.background if paint_background else None
        face_skin = self.face_skin if clean_face else None
        if background is None and self.eyes is None and face_skin is None:
            return img
        if faces is None:
            faces = self.face_finder.detect(np.asarray(photo.convert("RGB")))
        if background is not None:
            img = background.apply(img, photo, faces)
        if face_skin is not None:
            img = face_skin.apply(img, photo, faces, cartoon=cartoon)
        if self.eyes is not None:
            img = self.eyes.apply(img, faces)
        return img

    # ---- public calls ----
    def translate(self, images: Sequence[ImageLike], tta: str | None = None, face_steps: bool = True,
                  paint_background: bool = True, clean_face: bool = True,
                  grey: bool | None = None, own_size: bool = False) -> list[Image.Image]:
        """Batched: images of equal prepared size share a forward pass. ``tta``: this call's test-time
        ensemble (None: the Cartoonizer's own), so a shared model serves requests that differ;
        ``face_steps``, ``paint_background``, ``clean_face``: see ``postprocess``; ``grey`` (one decision for
        every image of the call), ``own_size``: see ``preprocess``."""
        if isinstance(images, str | os.PathLike | Image.Image | np.ndarray):
            raise TypeError("translate takes a list of images; for one image, call the Cartoonizer: cz(image)")
        mode = self._tta(tta)
        preps = [self.preprocess(im, grey, own_size) for im in images]
        outs: list[Image.Image | None] = [None] * len(preps)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(preps):
            w, h = p.net_size  # the picture's own pixels: with the border rows a 1024² photo ran as two tiles
            if h * w > self.tile * self.tile:  # by area: a 1280×720 frame runs whole, 12 MP photos tile
                # one tile per forward pass: a tile already fills the cores, and memory stays one tile's
                out = translate_tiled(p.tensor, lambda b: self.forward(b, mode), self.tile, self.tile_overlap,
                                      self.stride, 1)
                outs[i] = self.postprocess(out, p, face_steps, paint_background, clean_face)
                continue
            groups.setdefault(tuple(p.tensor.shape), []).append(i)
        for idx in groups.values():
            for k in range(0, len(idx), self.batch_size):
                chunk = idx[k:k + self.batch_size]
                res = self.forward_bytes(torch.stack([preps[i].tensor for i in chunk]), mode)
                for i, o in zip(chunk, res, strict=True):
                    outs[i] = self.postprocess(o, preps[i], face_steps, paint_background, clean_face)
        return outs  # type: ignore[return-value]

    def __call__(self, image: ImageLike, tta: str | None = None, face_steps: bool = True,
                 paint_background: bool = True, clean_face: bool = True, grey: bool | None = None) -> Image.Image:
        return self.translate([image], tta, face_steps, paint_background, clean_face, grey)[0]


__all__ = ["Cartoonizer", "ImageError", "Prepared", "as_grey", "is_grey"]
