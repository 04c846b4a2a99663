"""Any image folder, recursive; images recognised by content (names lie)."""

from __future__ import annotations

from pathlib import Path

from ...imageio import is_image
from .base import ReadResult, SourceItem


def read_folder(root: str | Path, role: str, dataset: str | None = None) -> ReadResult:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: image folder not found")
    name = dataset or root.name
    res = ReadResult()
    for p in sorted(root.rglob("*")):
        try:
            if p.is_symlink() and not p.exists():
                res.drop("broken link", str(p))
                continue
            if not p.is_file() or p.name.startswith("."):
                continue
            size = p.stat().st_size
        except OSError:  # unreadable directory entry (permissions, I/O error)
            res.drop("unreadable entry", str(p))
            continue
        if size == 0:
            res.drop("empty file", str(p))
        elif not is_image(p):
            res.drop("not an image", str(p))
        else:
            rel = p.relative_to(root).with_suffix("").as_posix()
            res.items.append(SourceItem(p, name, role, f"{name}/{rel}"))
    return res
