"""Metrics: Inception features (FID/KID), structure preservation (landmarks), reports."""

from . import distances, faceparts, structure  # noqa: F401  (fill the registry)
from .registry import METRICS

__all__ = ["METRICS"]
