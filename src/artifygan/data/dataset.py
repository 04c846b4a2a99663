"""Unpaired training data: photos, cartoons and their edge-smoothed copies.

Every random choice (pairing, crop, flip) is a pure function of (seed, epoch, index), so a resumed run
sees exactly the batches an uninterrupted run would, whatever the number of loader workers.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ..imageio import ImageError, list_images, load_image
from .smoothing import edge_smooth

log = logging.getLogger(__name__)


def _index_by_stem(paths: list[Path]) -> dict[str, Path]:
    return {p.stem: p for p in paths}


class UnpairedImages(Dataset):
    def __init__(self, photos: list[str], cartoons: list[str], smoothed: list[str] | None = None,
                 size: int = 256, hflip: bool = True, seed: int = 0) -> None:
        self.photos = list_images(photos)
        self.cartoons = list_images(cartoons)
        if not self.photos:
            raise ValueError(f"no photos found in {', '.join(map(str, photos))}")
        if not self.cartoons:
            raise ValueError(f"no cartoons found in {', '.join(map(str, cartoons))}")
        self.smoothed: list[Path] | None = None
        if smoothed:
            by_stem = _index_by_stem(list_images(smoothed))
            missing = [c for c in self.cartoons if c.stem not in by_stem]
            if missing:
                raise ValueError(f"{missing[0]}: no edge-smoothed copy in {', '.join(smoothed)} "
                                 f"({len(missing)} cartoon(s) lack one)")
            self.smoothed = [by_stem[c.stem] for c in self.cartoons]
        self.size, self.hflip, self.seed = size, hflip, seed
        self.epoch = 0
        self._bad: set[Path] = set()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(len(self.photos), len(self.cartoons))

    def _rng(self, index: int, stream: int) -> torch.Generator:
        return torch.Generator().manual_seed(((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index) * 4 + stream)

    def _crop(self, images: list[Image.Image], g: torch.Generator) -> list[torch.Tensor]:
        """Same random scale/crop/flip for every image in the list (cartoon and its smoothed copy)."""
        w, h = images[0].size
        scale = self.size / min(w, h) * (1.0 + 0.125 * float(torch.rand(1, generator=g)))
        nw, nh = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        x0 = int(torch.randint(0, nw - self.size + 1, (1,), generator=g))
        y0 = int(torch.randint(0, nh - self.size + 1, (1,), generator=g))
        flip = self.hflip and bool(torch.rand(1, generator=g) < 0.5)
        out = []
        for im in images:
            if im.size != (w, h):
                im = im.resize((w, h), Image.BICUBIC)
            im = im.resize((nw, nh), Image.BICUBIC).crop((x0, y0, x0 + self.size, y0 + self.size))
            arr = np.asarray(im, dtype=np.uint8)
            if flip:
                arr = arr[:, ::-1]
            out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0))
        return out

    def _load(self, paths: list[Path], index: int, what: str) -> tuple[int, Image.Image]:
        """Load paths[index], skipping (deterministically) to the next file when one is unreadable."""
        for k in range(min(len(paths), 16)):
            j = (index + k) % len(paths)
            try:
                return j, load_image(paths[j])
            except ImageError as exc:
                if paths[j] not in self._bad:
                    self._bad.add(paths[j])
                    log.warning("skipping bad %s: %s", what, exc)
        raise ImageError(f"too many unreadable {what} files near {paths[index]}")

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n_c = len(self.cartoons)
        _, photo = self._load(self.photos, index % len(self.photos), "photo")
        # The cartoon paired with a photo changes every epoch (prime stride), still deterministic.
        ci, cartoon = self._load(self.cartoons, (index + self.epoch * 7919) % n_c, "cartoon")
        if self.smoothed is not None:
            smooth = load_image(self.smoothed[ci])
        else:
            smooth = Image.fromarray(edge_smooth(np.asarray(cartoon)))
        (p,) = self._crop([photo], self._rng(index, 0))
        c, s = self._crop([cartoon, smooth], self._rng(index, 1))
        return {"photo": p, "cartoon": c, "smooth": s}


class ResumableSampler(Sampler[int]):
    """torch's DistributedSampler (per-epoch shuffle, sharded over ranks) that can start mid-epoch.

    ``start`` counts the samples of this rank already consumed in the current epoch.
    """

    def __init__(self, dataset: Dataset, rank: int = 0, world: int = 1, seed: int = 0,
                 shuffle: bool = True) -> None:
        self.inner = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.inner.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.inner), self.start, None)

    def __len__(self) -> int:
        return len(self.inner) - self.start
