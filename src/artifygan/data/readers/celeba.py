"""CelebA in its official layout: aligned (img_align_celeba/) or in-the-wild (img_celeba/ + bboxes),
with the attribute, landmark and partition files. Real downloads are partial: metadata rows whose
image is absent, truncated attribute files, images without metadata; each kind is counted."""

from __future__ import annotations

import os
from pathlib import Path

from ...imageio import IMAGE_SUFFIXES
from .base import ReadResult, SourceItem

SPLITS = {"0": "train", "1": "val", "2": "test"}


def _table(path: Path, res: ReadResult, with_header: bool = True) -> tuple[list[str], dict[str, list[str]]]:
    """Parse CelebA's text tables: a count line, (a header line), then 'name v1 v2 ...' rows."""
    lines = path.read_text().splitlines()
    header: list[str] = []
    start = 0
    if with_header:
        declared = lines[0].strip() if lines else ""
        header = lines[1].split() if len(lines) > 1 else []
        if header and header[0] == "image_id":
            header = header[1:]
        start = 2
    rows: dict[str, list[str]] = {}
    for line in lines[start:]:
        parts = line.split()
        if not parts:
            continue
        if with_header and len(parts) != len(header) + 1:
            res.drop(f"{path.name}: malformed row", line[:60])
            continue
        rows[parts[0]] = parts[1:]
    if with_header and declared.isdigit() and int(declared) != len(rows):
        res.notes.append(f"{path.name}: header declares {int(declared):,} rows, file has {len(rows):,} "
                         "(truncated download?)")
    return header, rows


def _find(root: Path, *names: str) -> Path | None:
    for n in names:
        for p in sorted(root.glob(n)):
            return p
    return None


def read_celeba(root: str | Path, variant: str = "auto", attr_filters: dict[str, int] | None = None,
                splits: list[str] | None = None) -> ReadResult:
    """Items for every CelebA image on disk that passes the filters.

    ``attr_filters`` like {"Eyeglasses": -1, "Male": 1}; ``splits`` from train/val/test (official).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: CelebA folder not found")
    aligned_dir = _find(root, "img_align_celeba", "img_align_celeba*")
    wild_dir = root / "img_celeba"
    if variant == "auto":
        variant = "aligned" if aligned_dir and aligned_dir.is_dir() else "wild"
    if variant == "aligned":
        img_dir = aligned_dir
        lm_file = _find(root, "list_landmarks_align_celeba.txt", "list_landmarks_align_celeba*.txt")
    elif variant == "wild":
        img_dir = wild_dir
        lm_file = _find(root, "list_landmarks_celeba.txt")
    else:
        raise ValueError(f"CelebA variant must be auto, aligned or wild, not {variant!r}")
    if img_dir is None or not img_dir.is_dir():  # name the folder the asked variant reads
        wanted = "img_celeba/ (--celeba-variant wild)" if variant == "wild" else "img_align_celeba*/ (aligned)"
        raise FileNotFoundError(f"{root}: no {wanted} folder (CelebA layout)")

    res = ReadResult()
    on_disk = {e.name: Path(e.path) for e in os.scandir(img_dir)
               if e.is_file() and Path(e.name).suffix.lower() in IMAGE_SUFFIXES}

    tables: dict[str, dict[str, list[str]]] = {}
    attr_names: list[str] = []
    for label, path in (("attributes", root / "list_attr_celeba.txt"), ("landmarks", lm_file),
                        ("partition", root / "list_eval_partition.txt"),
                        ("bbox", root / "list_bbox_celeba.txt" if variant == "wild" else None)):
        if path is None:
            continue
        if not path.is_file():
            res.notes.append(f"no {path.name}")
            continue
        header, rows = _table(path, res, with_header=label != "partition")
        if label == "attributes":
            attr_names = header
        tables[label] = rows
        missing = len(set(rows) - set(on_disk))
        if missing:
            res.missing[path.name] += missing

    if attr_filters:
        unknown = set(attr_filters) - set(attr_names)
        if unknown:
            raise ValueError(f"unknown CelebA attribute(s) {sorted(unknown)}; known: {', '.join(attr_names)}")
    attrs, parts = tables.get("attributes", {}), tables.get("partition", {})
    lms, boxes = tables.get("landmarks", {}), tables.get("bbox", {})
    for name in sorted(on_disk):
        row = attrs.get(name)
        if row is None:
            if attr_filters:
                res.drop("no attribute row (filter needs one)", name)
                continue
            res.dropped["image without attribute row (kept)"] += 1
        values = {k: int(v) for k, v in zip(attr_names, row, strict=True)} if row else {}
        if attr_filters and any(values.get(k) != v for k, v in attr_filters.items()):
            res.drop("attribute filter", name)
            continue
        split = SPLITS.get(parts[name][0]) if name in parts else None
        if name not in parts:
            res.dropped["image without partition row (kept, split by hash)"] += 1
        if splits and split not in splits:
            res.drop("split filter", name)
            continue
        box = None
        if name in boxes:
            x, y, w, h = (float(v) for v in boxes[name])
            box = (x, y, x + w, y + h)
        elif variant == "wild":
            res.dropped["image without bbox row (kept, whole image)"] += 1
        lm = None
        if name in lms:
            v = [float(t) for t in lms[name]]
            lm = [[v[i], v[i + 1]] for i in range(0, len(v), 2)]
        res.items.append(SourceItem(on_disk[name], "celeba", "photo", f"celeba/{Path(name).stem}", split,
                                    box, lm, values))
    # "kept" counters are facts, not drops: move them to notes so dropped counts only real drops
    for k in [k for k in res.dropped if "(kept" in k]:
        res.notes.append(f"{k}: {res.dropped.pop(k):,}")
    return res
