"""Unpaired training data: photos, cartoons and their edge-smoothed copies.

Every random choice (pairing, crop, flip) is a pure function of (seed, epoch, index), so a resumed run
sees exactly the batches an uninterrupted run would, whatever the number of loader workers. Items are
keyed by (epoch, index), which the sampler yields: the dataset holds no per-epoch state, so loader
workers live for the whole run instead of being respawned every epoch. Items are uint8 (a quarter of
the bytes to pin and copy); the training device scales them to [-1, 1].
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from ..faces import FaceFraming
from ..imageio import ImageError, list_images, load_image
from ..input_smoothing import InputSmoothing
from ..skin_smoothing import SkinSmoothing
from .smoothing import edge_smooth

log = logging.getLogger(__name__)


def _index_by_stem(paths: list[Path]) -> dict[str, Path]:
    return {p.stem: p for p in paths}


def prepared_framing(photo_dirs: list[str]) -> FaceFraming:
    """The face framing of photos made by `artifygan prepare` (its summary.json sits above the split
    folders), else the default framing; recorded in every snapshot so inference aligns faces the same way."""
    for d in photo_dirs:
        for parent in list(Path(d).resolve().parents)[:3]:
            summary = parent / "summary.json"
            if summary.is_file():
                try:
                    margin = float(json.loads(summary.read_text())["options"].get("margin", 0.0))
                except (ValueError, KeyError, TypeError, AttributeError):
                    break
                return FaceFraming.with_margin(margin)
    return FaceFraming()


class UnpairedImages(Dataset):
    def __init__(self, photos: list[str], cartoons: list[str], smoothed: list[str] | None = None,
                 size: int = 256, hflip: bool = True, seed: int = 0,
                 photo_smoothing: InputSmoothing | None = None, resize: int | None = None,
                 photo_skin: SkinSmoothing | None = None) -> None:
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
        if resize is not None and resize < size:
            raise ValueError(f"data.resize {resize} is smaller than the crop size {size}")
        self.size, self.hflip, self.seed, self.resize = size, hflip, seed, resize
        self.photo_smoothing = photo_smoothing  # applied to the crop: at the resolution the generator sees
        if photo_skin is not None and photo_smoothing is None:
            raise ValueError("photo_skin runs after the bilateral filter: it needs photo_smoothing")
        self.photo_skin = photo_skin  # after it, as inference does
        self.smooth_on_device = False
        self._bad: set[Path] = set()

    def __len__(self) -> int:
        return max(len(self.photos), len(self.cartoons))

    def _rng(self, epoch: int, index: int, stream: int) -> torch.Generator:
        # modulo 2**64, what manual_seed takes (a train seed over ~460k overflowed it); smaller ones unchanged
        return torch.Generator().manual_seed((((self.seed * 1_000_003 + epoch) * 10_000_019 + index) * 4 + stream)
                                             % (1 << 64))

    def _crop(self, images: list[Image.Image], g: torch.Generator) -> list[torch.Tensor]:
        """Same random scale/crop/flip for every image in the list (cartoon and its smoothed copy)."""
        w, h = images[0].size
        scale = (self.resize or self.size) / min(w, h) * (1.0 + 0.125 * float(torch.rand(1, generator=g)))
        nw, nh = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        x0 = int(torch.randint(0, nw - self.size + 1, (1,), generator=g))
        y0 = int(torch.randint(0, nh - self.size + 1, (1,), generator=g))
        flip = self.hflip and bool(torch.rand(1, generator=g) < 0.5)
        out = []
        for im in images:
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.BICUBIC)
            im = im.resize((nw, nh), Image.Resampling.BICUBIC).crop((x0, y0, x0 + self.size, y0 + self.size))
            arr = np.asarray(im, dtype=np.uint8)
            if flip:
                arr = arr[:, ::-1]
            out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous())
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

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """``key``: (epoch, index) from :class:`EpochStream`, or a bare index (of epoch 0).

        Without precomputed smoothed copies and with ``smooth_on_device``, no ``smooth`` entry is returned:
        the training loop makes it on its device (``edge_smooth_batch``).
        """
        epoch, index = key if isinstance(key, tuple) else (0, key)
        n_c = len(self.cartoons)
        _, photo = self._load(self.photos, index % len(self.photos), "photo")
        # The cartoon paired with a photo changes every epoch (prime stride), still deterministic.
        ci, cartoon = self._load(self.cartoons, (index + epoch * 7919) % n_c, "cartoon")
        (p,) = self._crop([photo], self._rng(epoch, index, 0))
        if self.photo_smoothing is not None:
            crop = p.permute(1, 2, 0).numpy()
            smoothed = self.photo_smoothing.apply_array(crop)
            if self.photo_skin is not None:
                smoothed = self.photo_skin.apply_array(crop, smoothed)
            p = torch.from_numpy(smoothed).permute(2, 0, 1).contiguous()
        if self.smoothed is None and self.smooth_on_device:
            (c,) = self._crop([cartoon], self._rng(epoch, index, 1))
            return {"photo": p, "cartoon": c}
        if self.smoothed is not None:
            smooth = load_image(self.smoothed[ci])
        else:
            smooth = Image.fromarray(edge_smooth(np.asarray(cartoon)))
        c, s = self._crop([cartoon, smooth], self._rng(epoch, index, 1))
        return {"photo": p, "cartoon": c, "smooth": s}


class EpochStream(Sampler[tuple[int, int]]):
    """An endless stream of (epoch, index) keys: per-epoch shuffle, sharded over ranks, resumable.

    Like torch's DistributedSampler (every rank gets ceil(N / world) indices per epoch, padded by
    wrapping), but it never ends, so one DataLoader with persistent workers serves the whole run.
    ``start`` = samples of this rank already consumed (step × batch size) when resuming.
    """

    def __init__(self, n: int, rank: int = 0, world: int = 1, seed: int = 0, shuffle: bool = True,
                 start: int = 0) -> None:
        self.n, self.rank, self.world, self.seed, self.shuffle = n, rank, world, seed, shuffle
        self.per_rank = -(-n // world)
        self.start = start

    def epoch_indices(self, epoch: int) -> list[int]:
        if self.shuffle:  # seed s, epoch e+1 is not seed s+1, epoch e (seed 0 keeps its old order)
            gen = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (1 << 64))
            order = torch.randperm(self.n, generator=gen).tolist()
        else:
            order = list(range(self.n))
        total = self.per_rank * self.world
        order = (order * (-(-total // self.n)))[:total]
        return order[self.rank:total:self.world]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, offset = divmod(self.start, self.per_rank)
        while True:
            for index in itertools.islice(self.epoch_indices(epoch), offset, None):
                yield epoch, index
            epoch, offset = epoch + 1, 0

    def __len__(self) -> int:  # one epoch; the stream itself is endless
        return self.per_rank
