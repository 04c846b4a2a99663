"""Data: edge-promoting smoothing and the unpaired training dataset."""

from .smoothing import edge_smooth

__all__ = ["edge_smooth"]
