"""The photo's own colours outside the skin: a recorded postprocess of few-shot styles (issue 14).

Why: adapting to a handful of references collapses colour. The style losses pull every pixel towards
the references' dominant tones, so a bitmoji style turns hair, clothes and background peach and an
ukiyo-e style turns them sepia, while the references themselves are colourful (black and brown hair, blue
and red clothes, white backgrounds). This step keeps the output's luminance (the style's lines and
shading), takes the colour (YCbCr chroma) from the photo, scaled by ``gain``, and keeps the output's own
colour on the skin (the style's skin tone), found as the input skin step finds it
(``skin_smoothing.skin_mask``). Measured on the few-shot benchmark (docs/fewshot-experiments.md), it
lowers KID against the styles' held-out pictures for both styles. A snapshot records it as
``postprocess.photo_colour``; ``artifygan adapt`` writes it (``--photo-colour``). A style drawn in black
and white records ``postprocess.grey`` instead: its outputs are grey, as the photo's colours would be wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .cartoon_losses import LUMA as _LUMA
from .imageio import is_grey
from .input_smoothing import entry_settings, recorded_step
from .skin_smoothing import skin_mask

# the chroma scales of YCbCr with BT.601 luma (the same as PIL's), on zero-centred values
_CB, _CR = 0.564, 0.713


@dataclass(frozen=True)
class PhotoColour:
    """``gain``: the photo's chroma scaled around grey (1 = as in the photo; references brighter than
    photos want more); ``skin``: the skin keeps the output's colour (False: the photo's colour everywhere)."""

    gain: float = 1.25
    skin: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.gain <= 3:
            raise ValueError(f"photo_colour gain must be in (0, 3], got {self.gain}")
        if not isinstance(self.skin, bool):  # bool("false") is True: a JSON string must not pass as one
            raise ValueError(f"photo_colour skin must be true or false, got {self.skin!r}")

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> PhotoColour:
        """From a snapshot entry; ValueError, starting with the entry's name, on anything else."""
        return entry_settings(raw, "photo_colour", {"gain", "skin"}, lambda r: cls(
            gain=float(r.get("gain", cls.gain)), skin=r.get("skin", cls.skin)))


def recorded_photo_colour(meta: dict[str, Any]) -> PhotoColour | None:
    """The snapshot's ``postprocess.photo_colour``, or None (every snapshot before it: unchanged)."""
    return recorded_step(meta, "photo_colour", PhotoColour.from_dict, section="postprocess")


def _split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(luma (N, 1, H, W), chroma Cb/Cr (N, 2, H, W)) of a [-1, 1] batch; linear, so no offsets needed."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    return y, torch.cat([_CB * (b - y), _CR * (r - y)], 1)


def _join(y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    cb, cr = c[:, 0:1] / _CB, c[:, 1:2] / _CR  # b - y, r - y
    g = y - (_LUMA[0] * cr + _LUMA[2] * cb) / _LUMA[1]
    return torch.cat([y + cr, g, y + cb], 1)


def skin_masks(photo: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) skin mask in 0–1 of each photo of a [-1, 1] batch, on the batch's device (also the skin
    discriminator's patch places, ``training.side_gans``)."""
    rgb = ((photo.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    arrays = rgb.permute(0, 2, 3, 1).cpu().numpy()
    masks = np.stack([skin_mask(np.ascontiguousarray(a)) for a in arrays])
    return torch.from_numpy(masks).unsqueeze(1).to(photo.device)


def apply_photo_colour(out: torch.Tensor, photo: torch.Tensor, settings: PhotoColour) -> torch.Tensor:
    """``out`` (the network's [-1, 1] batch) with the photo's chroma outside the skin, clamped to [-1, 1]."""
    y_out, c_out = _split(out.float())
    _, c_photo = _split(photo.float())
    chroma = settings.gain * c_photo
    if settings.skin:
        m = skin_masks(photo).to(chroma.dtype)
        chroma = m * c_out + (1 - m) * chroma
    return _join(y_out, chroma).clamp_(-1, 1)


def references_grey(references: Sequence[Image.Image]) -> float:
    """Share of the references that are black and white (``imageio.is_grey``): a pencil, ink or manga style
    drawn without colour, whose outputs should carry none either."""
    return sum(is_grey(r) for r in references) / max(len(references), 1)


def recorded_grey(meta: dict[str, Any]) -> bool:
    """The snapshot's ``postprocess.grey`` (a black-and-white style: every output is grey), False when absent."""
    def parse(raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise ValueError(f"grey must be true or false, got {raw!r}")
        return raw

    return recorded_step(meta, "grey", parse, section="postprocess") or False


__all__ = ["PhotoColour", "apply_photo_colour", "recorded_grey", "recorded_photo_colour", "references_grey",
           "skin_masks"]
