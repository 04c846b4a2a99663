"""Architectures (generators, discriminator, content networks), registries and snapshot I/O."""

from . import content, discriminator, generators  # noqa: F401  (fill the registries)
from .registry import CONTENT_NETWORKS, DISCRIMINATORS, GENERATORS
from .snapshot import load_generator, save_generator

__all__ = ["CONTENT_NETWORKS", "DISCRIMINATORS", "GENERATORS", "load_generator", "save_generator"]
