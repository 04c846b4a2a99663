"""Robust image reading/writing shared by training, inference and data preparation.

Why a module of its own: real image folders lie (PNG files named .jpg, CMYK JPEGs, 16-bit PNGs,
EXIF-rotated phone photos, truncated downloads). Every reader in the project goes through here so they
all survive the same inputs and fail with the same one-line errors.
"""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import torch

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


class ImageTooLarge(ImageError):
    """More pixels than allowed (a decompression bomb, or over a caller's limit); refused before decoding."""


def show(path: str | os.PathLike) -> str:
    """A path as printed in a one-line message: quoted when it holds newlines or other odd characters."""
    s = str(path)
    return s if s.isprintable() else repr(s)


def _to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale integer/float single-channel data (16-bit, 32-bit, float) to 0..255."""
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():  # float TIFFs can hold NaN/inf: no sensible picture, say so
        raise ValueError("the float pixels include NaN or infinite values")
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
    rgba = _rgba(img)
    if rgba is not None:
        alpha = rgba.getchannel("A")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    elif img.mode.startswith("I") or img.mode == "F":
        grey = _to_uint8(np.asarray(img), img.mode)
        img = Image.fromarray(grey, mode="L").convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return img, alpha


def _rgba(img: Image.Image) -> Image.Image | None:
    """``img`` as RGBA when it has transparency (alpha modes, a palette with a transparent colour), else None."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif "transparency" in img.info and img.mode in ("1", "L", "I", "I;16", "I;16B", "I;16L", "RGB"):
        return _keyed_rgba(img)  # one colour marked clear (PNG's tRNS: what PNG optimisers make of stickers)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return img.convert("LA" if img.mode == "La" else img.mode).convert("RGBA")  # Pillow has no La → RGBA
    return None


def _keyed_rgba(img: Image.Image) -> Image.Image | None:
    """An image whose pixels of one value (``info["transparency"]``) are clear, as RGBA; None when the value
    is not one this mode can hold (it is ignored, as viewers do)."""
    arr = np.asarray(img)
    try:
        key = np.asarray(img.info["transparency"], dtype=arr.dtype)
    except (TypeError, ValueError, OverflowError):
        return None
    if key.shape != arr.shape[2:]:
        return None
    clear = arr == key if arr.ndim == 2 else (arr == key).all(-1)
    plain = img.copy()
    plain.info.pop("transparency", None)
    rgba = to_rgb(plain)[0].convert("RGBA")
    rgba.putalpha(Image.fromarray(np.where(clear, 0, 255).astype(np.uint8)))
    return rgba


@dataclass
class Decoded:
    """What the one decoder returns: the picture for the net, its alpha, and how many frames the file has."""

    rgb: Image.Image  # composited on white
    alpha: Image.Image | None
    frames: int = 1  # > 1: an animated GIF/WebP/PNG, of which only the first frame was decoded
    rgba: Image.Image | None = None  # upright and not composited, when it has transparency

    def picture(self) -> Image.Image:
        """The upright picture with its transparency, not yet composited: what the inference path takes
        (it composites once; ``rgb`` with the alpha put back was composited twice: a² for a)."""
        return self.rgba if self.rgba is not None else self.rgb


def decode_image(source: str | os.PathLike | IO[bytes], name: str | os.PathLike | None = None,
                 max_pixels: int | None = None) -> Decoded:
    """Decode a file or an open binary stream (web uploads) by content, upright and as RGB + alpha.

    The one image decoder of the project. ``name`` labels messages (default: the path). ``max_pixels``
    refuses larger images from their header, before the pixels are decoded (:class:`ImageTooLarge`).
    Anything unreadable raises :class:`ImageError` naming the file.
    """
    label = show(name if name is not None else source if isinstance(source, str | os.PathLike) else "upload")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                if max_pixels is not None and im.width * im.height > max_pixels:
                    raise ImageTooLarge(f"{label}: image too large: {im.width}×{im.height} = "
                                        f"{im.width * im.height / 1e6:.1f} MP; the limit is {max_pixels / 1e6:g} MP")
                frames = int(getattr(im, "n_frames", 1) or 1)
                im.load()
                upright = ImageOps.exif_transpose(im) or im
                rgb, alpha = to_rgb(upright)
                rgba = _rgba(upright) if alpha is not None else None
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image (unrecognised content)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = min(MAX_PIXELS, max_pixels) if max_pixels is not None else MAX_PIXELS
        raise ImageTooLarge(f"{label}: image too large (over {limit:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: unreadable image ({one_line(exc)})") from None
    return Decoded(rgb, alpha, frames, rgba)


def load_image(path: str | os.PathLike, with_alpha: bool = False):
    """Read an image by content, apply EXIF orientation and convert to RGB.

    Returns an RGB PIL image, or (rgb, alpha) with ``with_alpha=True``. Raises :class:`ImageError`
    naming the file for anything unreadable.
    """
    d = decode_image(Path(path))
    return (d.rgb, d.alpha) if with_alpha else d.rgb


GREY_TOLERANCE = 8  # grey levels of colour difference a black-and-white photo may carry (JPEG chroma noise)


def is_grey(rgb: Image.Image, tolerance: int = GREY_TOLERANCE) -> bool:
    """True for a black-and-white picture: 99% of its pixels have channels within ``tolerance`` levels.

    Why: the network was trained on colour photos only and tints a grey one (the default turns it blue);
    a black-and-white photo is better served by a black-and-white cartoon. Sepia and other toned photos
    carry colour and stay in colour.
    """
    step = max(1, int(np.sqrt(rgb.size[0] * rgb.size[1] / 2**18)))  # a quarter megapixel is enough to tell
    a = np.asarray(rgb.convert("RGB"))[::step, ::step].astype(np.int16)
    spread = a.max(axis=2) - a.min(axis=2)
    return float(np.quantile(spread, 0.99)) <= tolerance


def as_grey(img: Image.Image) -> Image.Image:
    """The cartoon of a black-and-white photo: the output's luminance (PIL's "L"), as RGB again, so that
    every surface (stills, video frames) greys it the same way."""
    return img.convert("L").convert("RGB")


ImageLike = Image.Image | np.ndarray | str | os.PathLike


def array_to_image(arr: np.ndarray) -> Image.Image:
    """A numpy picture as PIL: H×W or H×W×{1,3,4}, uint8, uint16 (÷257), bool, or float in [0, 1]. Anything
    else is one clear line: Pillow's own errors ("Cannot handle this data type: (1, 1, 3), <f4") name neither
    the shape nor the fix."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or a.size == 0:
        hint = "; channels first? use arr.transpose(1, 2, 0)" if a.ndim == 3 and a.shape[0] in (1, 3, 4) else ""
        raise ImageError(f"numpy array: expected a picture of H×W or H×W×1, 3 or 4 values, got shape {a.shape}{hint}")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "u" and a.dtype.itemsize == 2:  # either byte order ('>u2' from big-endian files)
        a = np.rint(a / 257.0).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError("numpy array: the float pixels include NaN or infinite values")
        if a.min() < 0 or a.max() > 1:
            raise ImageError(f"numpy array: float pixels must lie in [0, 1], got {a.min():.3g} to {a.max():.3g}")
        a = np.rint(a * 255.0).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise ImageError(f"numpy array: pixels of {a.dtype} are not read; give uint8, uint16, bool or float in [0, 1]")
    return Image.fromarray(np.ascontiguousarray(a))


def read_input(image: ImageLike) -> tuple[Image.Image, Image.Image | None]:
    """(RGB picture, alpha or None) of any accepted input: path or PIL image (both EXIF-rotated), or numpy array."""
    if isinstance(image, str | os.PathLike):
        return load_image(image, with_alpha=True)
    if isinstance(image, np.ndarray):
        return to_rgb(array_to_image(image))
    if isinstance(image, Image.Image):
        if 0 in image.size:
            raise ImageError(f"the image is empty ({image.width}×{image.height} pixels)")
        if image.getexif().get(0x0112, 1) not in (0, 1):  # Image.open(phone.jpg): upright, as from its path
            image = ImageOps.exif_transpose(image) or image
        return to_rgb(image)
    raise TypeError(f"expected a PIL image, numpy array or path, got {type(image).__name__}")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (library messages sometimes span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def is_image(path: str | os.PathLike) -> bool:
    """True when PIL recognises the file's content as an image (reads the header only)."""
    try:
        with Image.open(path) as im:
            return im.format is not None
    except Image.DecompressionBombError:  # an image, too large to open: reading it says so ("too large")
        return True
    except Exception:  # any unreadable entry is simply "not an image"
        return False


def looks_like_image(path: Path) -> bool:
    """An image by name or by content: a broken ``.jpg`` counts, so reading it says what is wrong instead
    of the file vanishing unsaid (the batch translator and :func:`named_images`)."""
    return path.suffix.lower() in IMAGE_SUFFIXES or is_image(path)


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


def named_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Files under ``root`` (or ``root`` itself) that are images by name or by content
    (:func:`looks_like_image`), sorted, hidden ones left out."""
    root = Path(root)
    if root.is_file():
        return [root]
    return [p for p in sorted(root.glob("**/*" if recursive else "*"))
            if p.is_file() and not p.name.startswith(".") and looks_like_image(p)]


def list_images(roots: Iterable[str | os.PathLike], recursive: bool = True) -> list[Path]:
    """All images under several roots; a missing root is an error naming it."""
    out: list[Path] = []
    for r in roots:
        if not Path(r).exists():
            raise FileNotFoundError(f"{r}: no such file or directory")
        out.extend(iter_images(r, recursive))
    return out


def holds_working_folder(path: str | os.PathLike) -> bool:
    """True for the folder this process runs in, or one above it: a folder written by replacing it (a
    snapshot, a style) would be pulled out from under the shell (and ``Path(".")`` has no name to write beside)."""
    p, cwd = Path(os.path.abspath(Path(path).expanduser())), Path.cwd()
    return p == cwd or p in cwd.parents


def existing_ancestor(path: str | os.PathLike) -> Path:
    """``path`` or its nearest ancestor that exists: where a write into ``path`` would first touch the disk
    (the output checks refuse it when that is a file, not a folder)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def file_in_the_way(target: str | os.PathLike, folder: str | os.PathLike, permission: bool = True) -> str | None:
    """"TARGET: cannot write: F is a file, not a folder" when a file stands where ``folder`` (the folder
    that would hold ``target``) or one of its parents must be, or (``permission``) "…: no permission on F"
    when the first existing folder cannot be written (read-only, a read-only file system); None when the
    way is clear. Each caller raises its own error type with it, before any slow work."""
    probe = existing_ancestor(folder)
    if not probe.is_dir():
        return f"{show(target)}: cannot write: {show(probe)} is a file, not a folder"
    if permission and not os.access(probe, os.W_OK | os.X_OK):
        return f"{show(target)}: cannot write: no permission on {show(probe)} (or it is read-only)"
    return None


def temp_name(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """A short hidden name beside ``path`` (a 250-character file name leaves no room for a long one)."""
    path = Path(path)
    return path.with_name(f".ag{secrets.token_hex(4)}{suffix}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written file.

    The file gets 0666 minus the umask (0644 under umask 022), as ``cp`` would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = temp_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # another writer drew the same name: draw again
            continue
        except OSError as exc:  # e.g. a read-only disk: the error names the file asked for, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
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


def centre_square(img: Image.Image, size: int | None = None) -> Image.Image:
    """The largest centred square of ``img`` (the evaluation protocol's and the previews' framing), resized
    to ``size``² (bicubic) when given and different."""
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return img.resize((size, size), Image.Resampling.BICUBIC) if size is not None and s != size else img


def pil_to_tensor(img: Image.Image):
    """RGB uint8 PIL → float tensor (3, H, W) in [-1, 1]."""
    import torch

    arr = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def to_bytes(t: torch.Tensor) -> torch.Tensor:
    """Float tensor in [-1, 1] → uint8 in [0, 255] on the same device (rounded, clamped)."""
    import torch

    return t.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """Tensor (3, H, W), float in [-1, 1] or already uint8 (``to_bytes``) → RGB PIL."""
    import torch

    arr = (t if t.dtype == torch.uint8 else to_bytes(t)).permute(1, 2, 0).contiguous().cpu().numpy()
    return Image.fromarray(arr, mode="RGB")
