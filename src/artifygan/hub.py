"""Finding a pretrained file: explicit path → environment variable → other local candidates →
download cache → download. The one place that decides, so every model file fails the same way."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import torch

from .imageio import file_in_the_way, temp_name

DOWNLOAD_TIMEOUT_S = 30.0  # per connect and per read: a network that accepts and never answers must not hang


class WeightsNotFoundError(FileNotFoundError):
    """A model file could not be found or fetched; the message lists every way to provide it."""


def _as_path(value: str | os.PathLike | None) -> Path | None:
    """A path a user gave: blanks stripped (" " made a folder named " " where it ran), ``~`` expanded; None
    when unset or blank."""
    text = str(value).strip() if value is not None else ""
    return Path(text).expanduser() if text else None


def _env_path(var: str) -> Path | None:
    """:func:`_as_path` of an environment variable."""
    return _as_path(os.environ.get(var))


def cache_dir(kind: str = "weights") -> Path:
    """The one cache rule: $ARTIFYGAN_CACHE, else $XDG_CACHE_HOME/artifygan (~/.cache/artifygan; the XDG
    spec ignores a relative value), then one subfolder per kind: ``weights`` (downloads, extracted layers),
    ``onnx`` (on-demand exports)."""
    xdg = _env_path("XDG_CACHE_HOME")
    home = (xdg if xdg is not None and xdg.is_absolute() else Path.home() / ".cache") / "artifygan"
    root = _env_path("ARTIFYGAN_CACHE") or home
    # one line, not an errno at the first write; a read-only cache of files put there is fine to read
    if blocked := file_in_the_way(root / kind, root / kind, permission=False):
        raise ValueError(f"{blocked} (the cache: $ARTIFYGAN_CACHE, else ~/.cache/artifygan)")
    return root / kind


def in_cache(path: str | os.PathLike) -> str:
    """What to add to a "cannot load" message when the file is a download in the cache: a download cut
    short is the likely cause, and deleting it fetches it again (nothing else ever would)."""
    try:
        cached = Path(path).resolve().parent == cache_dir().resolve()
    except (OSError, ValueError):
        cached = False
    return f"; a download cut short? delete {path} to fetch it again" if cached else ""


def _torch_hub_copy(name: str) -> Path:
    """A file torch (torchvision) already downloaded into its own checkpoints folder: reused, not fetched again."""
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def given_file(what: str, path: str | os.PathLike | None, env_var: str) -> Path | None:
    """The file the user named (path option, else ``$env_var``), which must exist; None when neither is set."""
    for p, origin in ((_as_path(path), "path option"), (_env_path(env_var), f"${env_var}")):
        if p is not None:
            if not p.is_file():
                raise WeightsNotFoundError(f"{p}: {what} not found (from {origin})")
            return p
    return None


STALE_PART_S = 3600.0  # a temporary download older than this was left by a killed process


def _sweep_parts(folder: Path) -> None:
    """Remove the temporary files of downloads killed long ago (SIGKILL, or a SIGTERM nobody handled, runs
    no ``finally``); their names are never reused, so nothing else would. Recent ones may be live."""
    now = time.time()
    for part in (*folder.glob(".*.part"), *folder.glob("*.partial")):  # ours; torch.hub's, from older versions
        try:
            if now - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
        except OSError:
            pass


def _hash_prefix(url: str) -> str | None:
    """The SHA-256 prefix a file name carries by torch.hub's convention (``vgg19-dcbb9e9d.pth``), if any."""
    m = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$", Path(url).name)
    return m.group(1) if m and not m.group(1).isdigit() else None  # x-20260501.onnx is a date, not a hash


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, dst: Path) -> None:
    """``url`` into ``dst`` through a temporary name, with a timeout on the connection and on every read
    (torch's download has none, so a stalled network hung the first translation). A body shorter than the
    server's Content-Length is an error: http.client ends such a read quietly, and the cut file would have
    been cached and used for good."""
    _sweep_parts(dst.parent)
    tmp = temp_name(dst, ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "artifygan"})
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(tmp, "wb") as f:
            shutil.copyfileobj(resp, f)
            declared = resp.headers.get("Content-Length")
        got = tmp.stat().st_size
        if declared and declared.strip().isdigit() and got != int(declared):
            raise OSError(f"the connection ended after {got} of {int(declared)} bytes")
        if (prefix := _hash_prefix(url)) and not _sha256(tmp).startswith(prefix):
            raise OSError(f"the file's SHA-256 does not start with {prefix}, as its name says it must")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def resolve_file(what: str, path: str | os.PathLike | None, env_var: str, url: str,
                 candidates: Iterable[Path | None] = (), download: bool = True, hint: str = "") -> Path:
    """Return a local path to the file, downloading it into the cache if allowed."""
    given = given_file(what, path, env_var)
    if given is not None:
        return given
    for c in (*candidates, _torch_hub_copy(Path(url).name)):
        if c is not None and c.is_file():
            return c
    cached = cache_dir() / Path(url).name
    if cached.is_file():
        return cached
    reason = "download disabled"
    if download:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _download(url, cached)
            return cached
        except Exception as exc:  # offline, proxy, HTTP error: all end in the same advice
            reason = f"download failed: {exc}"
    raise WeightsNotFoundError(
        f"{what} not found ({reason}). Give a local file (path option or ${env_var}=PATH){hint}, "
        f"or allow the download from {url} into {cache_dir()}."
    )
