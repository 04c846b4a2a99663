"""Dataset readers: each turns a dataset in its official on-disk layout into SourceItems plus a
count of what it dropped and why. Readers never touch the network and never decode images."""

from .base import ReadResult, SourceItem
from .celeba import read_celeba
from .coco import read_coco
from .folder import read_folder
from .safebooru import read_safebooru

__all__ = ["ReadResult", "SourceItem", "read_celeba", "read_coco", "read_folder", "read_safebooru"]
