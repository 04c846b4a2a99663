"""Robust image reading/writing shared by training, inference and data preparation.

Why a module of its own: real image folders lie (PNG files named .jpg, CMYK JPEGs, 16-bit PNGs,
EXIF-rotated phone photos, truncated downloads). Every reader in the project goes through here so they
all survive the same inputs and fail with the same one-line errors.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse decompression bombs with a clear error instead of PIL's warning-then-OOM behaviour.
MAX_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Output formats PIL can write, by suffix.
WRITE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF"}


# Names that claim to be images: tried (and reported when broken) even if the content is not recognised.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif", ".heic"}


class ImageError(ValueError):
    """A single input file could not be used; the message names the file."""


def _to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale integer/float single-channel data (16-bit, 32-bit, float) to 0..255."""
    arr = arr.astype(np.float64)
    if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255):
        arr = arr / 257.0
    elif mode == "F" and arr.max(initial=0) <= 1.0:
        arr = arr * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def to_rgb(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Normalise any PIL mode to RGB; return (rgb, alpha or None).

    Alpha is composited on white for the network and handed back so outputs can keep transparency.
    """
    alpha = None
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        alpha = img.getchannel("A")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img).convert("RGB")
    elif img.mode.startswith("I") or img.mode == "F":
        grey = _to_uint8(np.asarray(img), img.mode)
        img = Image.fromarray(grey, mode="L").convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return img, alpha


def load_image(path: str | os.PathLike, with_alpha: bool = False):
    """Read an image by content, apply EXIF orientation and convert to RGB.

    Returns an RGB PIL image, or (rgb, alpha) with ``with_alpha=True``. Raises :class:`ImageError`
    naming the file for anything unreadable.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im) or im
                rgb, alpha = to_rgb(im)
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (unrecognised content)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: image too large (over {MAX_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: unreadable image ({exc})") from None
    return (rgb, alpha) if with_alpha else rgb


def is_image(path: str | os.PathLike) -> bool:
    """True when PIL recognises the file's content as an image (reads the header only)."""
    try:
        with Image.open(path) as im:
            return im.format is not None
    except Exception:  # any unreadable entry is simply "not an image"
        return False


def iter_images(root: str | os.PathLike, recursive: bool = True) -> Iterator[Path]:
    """Yield image files under ``root`` (or ``root`` itself), recognised by content, sorted."""
    root = Path(root)
    if root.is_file():
        if is_image(root):
            yield root
        return
    pattern = "**/*" if recursive else "*"
    for p in sorted(root.glob(pattern)):
        if p.is_file() and not p.name.startswith(".") and is_image(p):
            yield p


def list_images(roots: Iterable[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """All images under several roots; a missing root is an error naming it."""
    out: list[Path] = []
    for r in roots:
        if not Path(r).exists():
            raise FileNotFoundError(f"{r}: no such file or directory")
        out.extend(iter_images(r, recursive))
    return out


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_image(img: Image.Image, path: str | os.PathLike, quality: int = 95) -> None:
    """Save atomically; the format follows the suffix (JPEG drops alpha)."""
    import io

    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unsupported output format {path.suffix!r}")
    if fmt in ("JPEG", "BMP") and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    img.save(buf, format=fmt, **kwargs)
    atomic_write_bytes(path, buf.getvalue())


def pil_to_tensor(img: Image.Image):
    """RGB uint8 PIL → float tensor (3, H, W) in [-1, 1]."""
    import torch

    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def tensor_to_pil(t) -> Image.Image:
    """Float tensor (3, H, W) in [-1, 1] → RGB uint8 PIL."""
    arr = t.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, mode="RGB")
