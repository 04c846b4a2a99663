"""torch.compile's portable cache ("Mega-Cache") in one file, carried between machines.

Why: a 7-minute training chunk on a lent GPU spent ~3.5 minutes compiling (164 s before step 20, 44 s
more at the switch to the adversarial phase), and every lent machine starts with an empty compile
cache. The artifacts of one run (AOTAutograd graphs, Inductor's generated code and, on CUDA, the
compiled Triton kernels) are written to a file at the end of the run; the next run, on a fresh machine
with the same torch, Triton and GPU, loads them before its first step. A file made elsewhere (another
torch or GPU) is simply not hit, and the run compiles as before. The file starts with a short header
(``MAGIC`` and the torch version), so that a stale cache of ours is replaced at the end of the run while a
file of the user's at that name is never written over.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..imageio import atomic_write_bytes

log = logging.getLogger("artifygan.train")

MAGIC = b"artifygan compile cache 1\n"


def _split(raw: bytes) -> tuple[str | None, bytes]:
    """(torch version that wrote it, torch's bytes); version None for a file without the header."""
    if not raw.startswith(MAGIC):
        return None, raw
    version, _, data = raw[len(MAGIC):].partition(b"\n")
    return version.decode(errors="replace"), data


def may_replace_cache(path: str | Path) -> bool:
    """True when nothing is at ``path`` or it is a cache this module wrote (by its header), stale or not;
    False for any other file, which may be the user's."""
    path = Path(path)
    if not path.exists():
        return True
    try:
        with path.open("rb") as f:
            return path.is_file() and f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def load_compile_cache(path: str | Path) -> int:
    """Hot-load a cache file written by :func:`save_compile_cache`; returns how many artifacts it
    held (0 when the file does not exist yet: the first run of a machine writes it)."""
    path = Path(path)
    if not path.is_file():
        log.info("compile cache %s: none yet; this run writes it", path)
        return 0
    version, data = _split(path.read_bytes())
    if version is not None and version != torch.__version__:
        log.warning("compile cache %s: written by torch %s, this is %s; compiling from scratch (it is replaced "
                    "at the end)", path, version, torch.__version__)
        return 0
    try:
        info = torch.compiler.load_cache_artifacts(data)
    except Exception as e:  # a stale or foreign cache must never stop a run
        info, why = None, f"{type(e).__name__}: {e}"
    else:  # torch logs a corrupted or foreign file itself and returns None
        why = "unreadable by this torch"
    if info is None:
        log.warning("compile cache %s: not loaded (%s); compiling from scratch", path, why)
        return 0
    n = sum(len(v) for v in info.artifacts.values())
    log.info("compile cache %s: %d artifacts loaded", path, n)
    return n


def save_compile_cache(path: str | Path, replace: bool = True) -> int:
    """Write every compile artifact of this process (those loaded and hit included) to ``path`` under
    a temporary name, then rename; returns the bytes written (0: nothing compiled or not writable).
    ``replace`` False: an existing file is kept (a file without this module's header may be the user's
    own, not a stale cache)."""
    path = Path(path)
    if not replace and path.exists():
        log.warning("compile cache %s: not written (the file was there and is not a compile cache artifygan "
                    "wrote; delete it or give another --compile-cache)", path)
        return 0
    saved = torch.compiler.save_cache_artifacts()
    if saved is None or not saved[0]:
        return 0
    data = MAGIC + torch.__version__.encode() + b"\n" + saved[0]
    try:  # the run's state is already saved: a cache that cannot be written costs only the next start-up
        atomic_write_bytes(path, data)
    except OSError as e:
        log.warning("compile cache %s: not written (%s)", path, e)
        return 0
    log.info("compile cache %s: %d artifacts, %.1f MB written", path,
             sum(len(v) for v in saved[1].artifacts.values()), len(data) / 1e6)
    return len(data)
