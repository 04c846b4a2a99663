"""Few-shot styles: a new style from 1–10 reference pictures (``artifygan adapt``, the web panel)."""

from .adapt import AdaptProgress, adapt, check_output
from .config import STYLE_LOSSES, AdaptConfig, with_style_loss
from .references import MAX_REFERENCES, Reference, StyleError, read_photos, read_references

__all__ = ["MAX_REFERENCES", "STYLE_LOSSES", "AdaptConfig", "AdaptProgress", "Reference", "StyleError", "adapt",
           "check_output", "read_photos", "read_references", "with_style_loss"]
