"""The person segmenter behind a style's plain backdrop: MediaPipe's selfie segmentation, run with torch.

Why: GrabCut seeded from face boxes (``background.person_mask``) cannot cut a tight selfie: the person fills
the frame, nothing is surely background, and three in four selfies kept their room behind the avatar.
MediaPipe's selfie segmenter (Apache-2.0, 0.25 MB, 256² input) was made for exactly these pictures. Its
file is found like every model file (``hub.resolve_file``): the ``model`` path, ``$ARTIFYGAN_SEGMENTER``,
an installed ``mediapipe`` 0.10 package (which ships it), the download cache, or its upstream URL.
``$ARTIFYGAN_SEGMENTER=off`` turns it off. Without it the backdrop falls back to GrabCut, with one warning.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from .lazy_model import LazyModel

SEGMENTER_URL = "https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite"
SEGMENTER_ENV = "ARTIFYGAN_SEGMENTER"
SIDE = 256  # the model's input, RGB in [0, 1]
EDGE = (0.3, 0.7)  # probabilities between these ramp from background to person; outside, hard


def installed_mediapipe_file() -> Path | None:
    """The segmenter a ``mediapipe`` 0.10 install carries (found without importing mediapipe)."""
    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "modules/selfie_segmentation/selfie_segmentation.tflite"


class PersonSegmenter:
    """``mask(rgb)``: where the people are, (H, W) float32 in [0, 1], for an RGB uint8 picture of any size."""

    def __init__(self, model: str | os.PathLike | None = None) -> None:
        from .hub import resolve_file
        from .models.tflite_graph import TFLiteGraph, read_tflite

        path = resolve_file("person segmenter (MediaPipe selfie_segmentation.tflite)", model, SEGMENTER_ENV,
                            SEGMENTER_URL, candidates=[installed_mediapipe_file()])
        self.path = path
        self.net = TFLiteGraph(read_tflite(path)).eval()
        out = self.net.graph.outputs[0]
        if self.net.graph.inputs[0] in self.net.graph.constants or out in self.net.graph.constants:
            raise ValueError(f"{path}: not a segmentation model (its input or output is a constant)")

    @torch.inference_mode()
    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """The model's own output at the picture's size: the probability of a person, per pixel."""
        h, w = rgb.shape[:2]
        # squashed to 256², whatever the aspect, as MediaPipe's own graph feeds it: on wide COCO pictures this
        # cut people better than letterboxing or the landscape model (docs/fewshot-experiments.md)
        small = cv2.resize(np.ascontiguousarray(rgb[..., :3]), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
        p = self.net(x)[0, 0].clamp(0, 1).numpy().astype(np.float32)
        return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)

    def mask(self, rgb: np.ndarray) -> np.ndarray:
        """The probabilities with a short ramp at the outline: a cut, not a ghost of the room."""
        lo, hi = EDGE
        t = np.clip((self.probabilities(rgb) - lo) / (hi - lo), 0, 1)
        return (t * t * (3 - 2 * t)).astype(np.float32)


class LazySegmenter:
    """A ``PersonSegmenter`` loaded on first use (``model``: a file; None: as ``PersonSegmenter`` finds one);
    ``segmenter`` injects one (tests). When none can be loaded: one warning, then ``mask`` returns None and
    the caller cuts with GrabCut; ``$ARTIFYGAN_SEGMENTER=off`` does the same silently. Safe to share between
    threads."""

    def __init__(self, model: str | os.PathLike | None = None, segmenter: PersonSegmenter | None = None) -> None:
        self.model = model

        def load() -> PersonSegmenter | None:
            if self.model is None and os.environ.get(SEGMENTER_ENV, "").lower() == "off":
                return None
            return PersonSegmenter(self.model)

        self._segmenter = LazyModel(load, "the style's backdrop is cut with GrabCut: no person segmenter",
                                    (FileNotFoundError, ValueError, ImportError), loaded=segmenter)

    def mask(self, rgb: np.ndarray) -> np.ndarray | None:
        return self._segmenter.use(lambda s: s.mask(rgb), None)


__all__ = ["SEGMENTER_ENV", "SEGMENTER_URL", "LazySegmenter", "PersonSegmenter", "installed_mediapipe_file"]
