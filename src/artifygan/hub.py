"""Finding a pretrained file: explicit path → environment variable → other local candidates →
download cache → download. The one place that decides, so every model file fails the same way."""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import torch

from .imageio import file_in_the_way, temp_name

DOWNLOAD_TIMEOUT_S = 30.0  # per connect and per read: a network that accepts and never answers must not hang


class WeightsNotFoundError(FileNotFoundError):
    """A model file could not be found or fetched; the message lists every way to provide it."""


def cache_dir(kind: str = "weights") -> Path:
    """The one cache rule: $ARTIFYGAN_CACHE, else $XDG_CACHE_HOME/artifygan (~/.cache/artifygan), then one
    subfolder per kind: ``weights`` (downloads, extracted layers), ``onnx`` (on-demand exports)."""
    env = (os.environ.get("ARTIFYGAN_CACHE") or "").strip()  # " " made a folder named " " where it ran
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "artifygan"
    root = Path(env).expanduser() if env else home
    if blocked := file_in_the_way(root / kind, root / kind):  # one line, not an errno at the first write
        raise ValueError(f"{blocked} (the cache: $ARTIFYGAN_CACHE, else ~/.cache/artifygan)")
    return root / kind


def _torch_hub_copy(name: str) -> Path:
    """A file torch (torchvision) already downloaded into its own checkpoints folder: reused, not fetched again."""
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def given_file(what: str, path: str | os.PathLike | None, env_var: str) -> Path | None:
    """The file the user named (path option, else ``$env_var``), which must exist; None when neither is set."""
    for candidate, origin in ((path, "path option"), (os.environ.get(env_var), f"${env_var}")):
        if candidate:
            p = Path(candidate)
            if not p.is_file():
                raise WeightsNotFoundError(f"{p}: {what} not found (from {origin})")
            return p
    return None


def _download(url: str, dst: Path) -> None:
    """``url`` into ``dst`` through a temporary name, with a timeout on the connection and on every read
    (torch's download has none, so a stalled network hung the first translation)."""
    tmp = temp_name(dst, ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "artifygan"})
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(tmp, "wb") as f:
            shutil.copyfileobj(resp, f)
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
