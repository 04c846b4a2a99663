"""What the web page and the HTTP API share: models by name, request limits, one translation at a time.

Security: requests carry image *bytes*, never paths; models are the ones the server was started with,
picked by name. Limits are checked before decoding the pixels (the header gives the size). Uploads go
through the project's one decoder (:func:`artifygan.imageio.decode_image`), like every CLI input.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from PIL import Image

from ..imageio import ImageError, ImageTooLarge, decode_image
from ..inference.cartoonizer import Cartoonizer
from ..inference.wild import WildCartoonizer, WildOptions, WildResult
from ..models.snapshot import SnapshotError

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """A request the server refuses; the message is shown to the user as it is. ``status``: the HTTP code
    (400; 413 for an upload over a limit: set by the limit, never read from the message, which can hold
    what the user sent)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Limits:
    max_upload_mb: float = 20.0
    max_pixels: int = 24_000_000  # a 6000×4000 photo
    max_side: int = 1536  # the net sees at most this (the output keeps the input size)

    def check_bytes(self, n: int) -> None:
        # the server reads at most limit + 1 bytes, so the real size is unknown: say which limit it broke
        if n > self.max_upload_mb * 1024 * 1024:
            raise RequestError(f"upload too large: over the {self.max_upload_mb:g} MB limit", 413)

    def check_size(self, w: int, h: int) -> None:
        if w * h > self.max_pixels:
            raise RequestError(f"image too large: {w}×{h} = {w * h / 1e6:.1f} MP; the limit is "
                               f"{self.max_pixels / 1e6:g} MP", 413)


def decode_upload(data: bytes, limits: Limits) -> Image.Image:
    """Bytes → upright RGB(A) image, refusing oversized uploads before their pixels are decoded."""
    limits.check_bytes(len(data))
    try:
        d = decode_image(io.BytesIO(data), name="upload", max_pixels=limits.max_pixels)
    except ImageTooLarge as exc:
        raise RequestError(str(exc).removeprefix("upload: "), 413) from None
    except ImageError:
        raise RequestError("not an image this server can read (PNG, JPEG, WebP, GIF, BMP, TIFF…)") from None
    return d.picture()  # composited once, by the inference path


class Service:
    """Named models (loaded on first use), shared by every request; translations run one at a time.

    Models can be added while serving (:meth:`add_model`: new styles); lookups and additions share one
    lock, so a request never sees a half-added model and a name is never given twice.
    """

    def __init__(self, models: Mapping[str, str | Path | None], limits: Limits | None = None, device: str = "auto",
                 yunet: str | None = None) -> None:
        if not models:
            raise ValueError("no models to serve")
        self._paths: dict[str, str | Path | None] = dict(models)
        self.limits = limits or Limits()
        self.device, self.yunet = device, yunet
        self._loaded: dict[str, WildCartoonizer] = {}
        self._lock = threading.Lock()  # CPU inference is already multi-threaded: queue, don't overlap
        self._models_lock = threading.Lock()  # guards _paths and _loaded (held briefly: never while loading)
        self.served = 0

    @property
    def names(self) -> list[str]:
        """The models offered, in the order given (the first is the default), then those added."""
        with self._models_lock:
            return list(self._paths)

    @property
    def paths(self) -> Mapping[str, str | Path | None]:
        """A read-only copy of {name: snapshot}: add models with :meth:`add_model`, never by writing here."""
        with self._models_lock:
            return MappingProxyType(dict(self._paths))

    def add_model(self, name: str, path: str | Path) -> None:
        """Offer one more model (a new style) from now on, to the page and the API.

        A name already offered is refused with :class:`RequestError` rather than renamed: the user chose
        the name and will ask for it by that name, so a silent ``sketch-2`` would be a surprise.
        """
        if not isinstance(name, str) or not name.strip():
            raise RequestError("a model needs a name")
        with self._models_lock:
            if name in self._paths:
                raise RequestError(f"a model named {name!r} exists already; choose another name")
            self._paths[name] = path

    def load(self, name: str | None) -> WildCartoonizer:
        """The named model (None: the first), loaded on first use and kept; a broken snapshot raises
        :class:`SnapshotError` naming its file (``serve`` loads every ``-m`` model this way at start-up)."""
        with self._models_lock:
            name = name or next(iter(self._paths))
            if name not in self._paths:
                raise RequestError(f"unknown model {name!r}; choose one of: {', '.join(self._paths)}")
            path, wild = self._paths[name], self._loaded.get(name)
        if wild is None:  # loaded outside the lock: a slow load never blocks the model list or add_model
            cz = Cartoonizer.from_pretrained(path, device=self.device, max_side=self.limits.max_side)
            with self._models_lock:  # two first requests at once: both load, the first one stored is kept
                wild = self._loaded.setdefault(name, WildCartoonizer(cz, yunet=self.yunet))
        return wild

    def model(self, name: str | None) -> WildCartoonizer:
        """:meth:`load` for a request: a model broken since it was offered is a clear answer, its path only
        in the log."""
        name = name or self.names[0]
        try:
            return self.load(name)
        except SnapshotError as exc:
            log.warning("model %r could not be loaded: %s", name, exc)
            raise RequestError(f"model {name!r} cannot be loaded on this server; choose another") from None

    def translate(self, image: Image.Image, model: str | None = None, mode: str = "face",
                  background: str = "cartoon", tta: str = "off", clean_face: bool = True) -> WildResult:
        """One image through the shared inference path; bad options and sizes raise RequestError.
        ``tta``: the test-time ensemble (``inference.tta``; x2 takes twice the time); ``clean_face``: False
        skips the model's clean face skin (``artifygan.face_skin``) for this request."""
        self.limits.check_size(*image.size)
        try:
            options = WildOptions(mode=mode, background=background, tta=tta, clean_face=bool(clean_face))
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        with self._lock:
            t0 = time.perf_counter()
            wild = self.model(model)
            if mode == "face":
                try:
                    wild.require_detector("use mode=whole")
                except (FileNotFoundError, ValueError):  # missing or not a detector; the server's paths stay out
                    raise RequestError("face mode needs the YuNet face detector, which this server does not "
                                       "have; use mode=whole") from None
            result = wild(image, options=options)
            result.timings_ms["request"] = round((time.perf_counter() - t0) * 1000, 1)
            self.served += 1
        return result
