"""Optional WebDataset tar shards of a prepared set, for users with millions of images and many GPUs.

Each sample is ``<key>.jpg`` + ``<key>.json`` (its manifest row) and, for cartoons, ``<key>.smooth.jpg``;
shards are grouped by split and role: ``shards/train-photos-00000.tar``.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from ..imageio import atomic_write_bytes


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible shards
    tar.addfile(info, io.BytesIO(data))


def write_shards(out: str | Path, samples_per_shard: int = 1000) -> list[Path]:
    """Write the shards of ``out``'s manifest; the shards an earlier run left that these do not replace are
    removed (only files named as this writes them)."""
    out = Path(out)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["key"]):
        groups.setdefault((r["split"], r["role"]), []).append(r)
    written = []
    for (split, role), items in sorted(groups.items()):
        for i in range(0, len(items), samples_per_shard):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for r in items[i:i + samples_per_shard]:
                    key = r["key"].replace("/", "_").replace(".", "_")
                    _add(tar, f"{key}.jpg", (out / r["file"]).read_bytes())
                    if r.get("smoothed"):
                        _add(tar, f"{key}.smooth.jpg", (out / r["smoothed"]).read_bytes())
                    _add(tar, f"{key}.json", json.dumps(r).encode())
            path = out / "shards" / f"{split}-{role}s-{i // samples_per_shard:05d}.tar"
            atomic_write_bytes(path, buf.getvalue())
            written.append(path)
    # shards of an earlier run (another --shards N) would be read with these: the same samples twice
    for old in sorted((out / "shards").glob("*-*s-[0-9][0-9][0-9][0-9][0-9].tar")):
        if old not in written:
            old.unlink()
    return written
