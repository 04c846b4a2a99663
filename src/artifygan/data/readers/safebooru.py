"""Safebooru downloads: a folder of images plus the site's metadata, either the posts-CSV export
(id, created_at, rating, score, sample_url, sample_width, sample_height, preview_url, tags) or the JSON
post list its API returns. Images are matched to rows by post id or by file name; nothing is fetched."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import urlparse

from ...imageio import IMAGE_SUFFIXES
from .base import ReadResult, SourceItem


def _rows(meta: Path) -> list[dict]:
    if meta.suffix.lower() == ".json":
        try:
            data = json.loads(meta.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{meta}: corrupt JSON ({exc})") from None
        if isinstance(data, dict):  # some API versions wrap the list: {"post": [...]}
            data = data.get("post") or data.get("posts") or []
        if not isinstance(data, list):
            raise ValueError(f"{meta}: expected a list of posts")
        return [r for r in data if isinstance(r, dict)]
    with meta.open(newline="", encoding="utf-8-sig") as f:  # -sig: Excel's exports start with a BOM ("\ufeffid")
        return list(csv.DictReader(f))


def _names(row: dict) -> list[str]:
    """File names a downloaded image of this post may have."""
    out = []
    for key in ("image", "file_name", "filename"):
        if row.get(key):
            out.append(str(row[key]))
    for key in ("file_url", "sample_url", "preview_url"):
        if row.get(key):
            out.append(Path(urlparse(str(row[key])).path).name)
    if row.get("hash"):
        out.append(str(row["hash"]))
    return out


def read_safebooru(root: str | Path, metadata: str | Path | None = None, tags: list[str] | None = None,
                   exclude_tags: list[str] | None = None, ratings: list[str] | None = None) -> ReadResult:
    """Items for downloaded images whose post passes the tag and rating filters.

    ``metadata``: the CSV/JSON file (default: the single *.csv or *.json in ``root``).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: Safebooru folder not found")
    if metadata is None:
        cands = sorted(root.glob("*.csv")) + sorted(root.glob("*.json"))
        if len(cands) != 1:
            raise FileNotFoundError(f"{root}: expected one posts .csv or .json file, found {len(cands)}; "
                                    "pass the metadata file explicitly")
        metadata = cands[0]
    metadata = Path(metadata)
    if not metadata.is_file():
        raise FileNotFoundError(f"{metadata}: metadata file not found")
    res = ReadResult()
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    by_stem = {p.stem: p for p in files}
    by_name = {p.name: p for p in files}
    need, avoid = set(tags or []), set(exclude_tags or [])
    ratings = [r.strip().lower() for r in ratings or []]  # rows are compared lowercased: "Safe" matched none
    matched: set[Path] = set()
    for row in _rows(metadata):
        pid = str(row.get("id", "")).strip()
        if not pid:
            res.drop("row without id", str(row)[:60])
            continue
        path = by_stem.get(pid)
        for n in _names(row):
            if path is None:
                path = by_name.get(n) or by_stem.get(Path(n).stem)
        if path is None:
            res.drop("post not downloaded", pid)
            continue
        matched.add(path)
        raw_tags = row.get("tags", "")  # a space-separated string (CSV, the API) or a list (other exports)
        row_tags = set(map(str, raw_tags)) if isinstance(raw_tags, list) else set(str(raw_tags).split())
        rating = str(row.get("rating", "")).strip().lower()
        if ratings and rating not in ratings:
            res.drop("rating filter", pid)
        elif not need <= row_tags:
            res.drop("missing required tag", pid)
        elif row_tags & avoid:
            res.drop("excluded tag", pid)
        else:
            attrs = {"post_id": pid, "rating": rating, "tags": sorted(row_tags)}
            if row.get("score") not in (None, ""):
                attrs["score"] = row["score"]
            res.items.append(SourceItem(path, "safebooru", "cartoon", f"safebooru/{pid}", attributes=attrs))
    unmatched = [p for p in files if p not in matched]
    for p in unmatched:
        res.drop("image without metadata row", p.name)
    return res
