"""Data: edge-promoting smoothing and the unpaired training dataset."""

from .smoothing import edge_smooth, edge_smooth_batch

__all__ = ["edge_smooth", "edge_smooth_batch"]
