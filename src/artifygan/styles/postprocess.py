"""What a style records besides its weights: the postprocess its references call for (issue 14).

Why its own module: these are decisions made from the reference pictures before any training (black and
white, or the photo's colours outside the skin, a plain backdrop where the references have one, bigger eyes
where they draw them), recorded in the style's config and applied by every surface that loads it
(Cartoonizer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from PIL import Image

from ..background import PlainBackground, parse_colour, references_background
from ..eyes import EYE_WHITE, BigEyes, references_eye_white
from ..face_finder import FaceFinder, LazyFaces
from ..photo_colour import PhotoColour, references_grey
from .config import AdaptConfig

log = logging.getLogger(__name__)


def style_background(cfg: AdaptConfig, references: Sequence[Image.Image]) -> PlainBackground | None:
    """The plain background a style records: ``auto``, the references' backdrop when most have one
    (``background.references_background``); ``keep``: none; else the colour asked for."""
    if cfg.background == "keep":
        return None
    colour = references_background(references) if cfg.background == "auto" else parse_colour(cfg.background)
    return PlainBackground(colour) if colour is not None else None


def style_eyes(cfg: AdaptConfig, references: Sequence[Image.Image], finder: FaceFinder | None = None,
               measured: dict[str, Any] | None = None) -> BigEyes | None:
    """The eyes a style records: ``auto``, magnified when the references' median eye-white share (over those
    where YuNet finds a face, ``finder``; None: loaded on first use) reaches ``eyes.EYE_WHITE``; ``off``:
    none; else the scale asked for. ``measured`` receives the share (``eye_white_share``; None: no face),
    so the style's config says why its eyes are on or off."""
    if cfg.eyes == "off":
        return None
    if cfg.eyes != "auto":
        return BigEyes(scale=float(cfg.eyes))
    share = references_eye_white(references, finder or LazyFaces())
    if measured is not None:
        measured["eye_white_share"] = None if share is None else round(float(share), 4)
    log.info("references' eye-white share: %s (bigger eyes from %.2f)",
             "no face found" if share is None else f"{share:.3f}", EYE_WHITE)
    return BigEyes() if share is not None and share >= EYE_WHITE else None


def style_grey(cfg: AdaptConfig, references: Sequence[Image.Image], measured: dict[str, Any] | None = None) -> bool:
    """Whether a style's outputs are black and white: ``auto``, when more than half its references are
    (``measured`` receives the share, ``grey_share``); ``on`` / ``off``: as asked."""
    if cfg.grey != "auto":
        return cfg.grey == "on"
    share = references_grey(references)
    if measured is not None:
        measured["grey_share"] = round(share, 4)
    return share > 0.5


def style_postprocess(cfg: AdaptConfig, references: Sequence[Image.Image],
                      finder: FaceFinder | None = None, measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``postprocess`` entry a style records: black and white for a black-and-white style, else the
    photo's colours outside the skin, unless turned off; a plain background where the references have one,
    and bigger eyes where they draw them (``measured``: see ``style_eyes`` and ``style_grey``)."""
    steps: dict[str, Any] = {}
    if style_grey(cfg, references, measured):
        steps["grey"] = True  # the photo's colours would undo the style (a pencil sketch in the scarf's red)
    elif cfg.photo_colour > 0:
        steps["photo_colour"] = PhotoColour(gain=cfg.photo_colour).to_meta()
    background = style_background(cfg, references)
    if background is not None:
        steps["background"] = background.to_meta()
    eyes = style_eyes(cfg, references, finder, measured)
    if eyes is not None:
        steps["eyes"] = eyes.to_meta()
    return {"postprocess": steps} if steps else {}


__all__ = ["style_background", "style_eyes", "style_grey", "style_postprocess"]
