"""Inference: the one path (preprocess → generator → postprocess) behind CLI, API and benchmarks."""

from .cartoonizer import Cartoonizer

__all__ = ["Cartoonizer"]
