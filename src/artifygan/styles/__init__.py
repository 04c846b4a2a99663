"""Few-shot styles: a new style from 1–10 reference pictures (``artifygan adapt``, the web panel)."""

from .adapt import AdaptProgress, adapt, check_output
from .choose import StyleChoice, choose_style_loss
from .config import ASKABLE, STYLE_LOSSES, AdaptConfig, with_style_loss
from .references import MAX_REFERENCES, Reference, StyleError, read_photos, read_references

__all__ = ["ASKABLE", "MAX_REFERENCES", "STYLE_LOSSES", "AdaptConfig", "AdaptProgress", "Reference", "StyleChoice",
           "StyleError", "adapt", "check_output", "choose_style_loss", "read_photos", "read_references",
           "with_style_loss"]
