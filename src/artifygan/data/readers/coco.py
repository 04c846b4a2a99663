"""COCO 2017: images/{train,val}2017/ (or {train,val}2017/) + annotations/instances_*.json.

Images are selected by category (default person), minimum instance area and the crowd flag, and
given either whole (scene photos, as CartoonGAN trained on) or as one item per selected instance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .base import ReadResult, SourceItem


def _image_dir(root: Path, split: str) -> Path | None:
    for cand in (root / "images" / f"{split}2017", root / f"{split}2017"):
        if cand.is_dir():
            return cand
    return None


def read_coco(root: str | Path, categories: list[str] | None = None, min_area: float = 4096.0,
              include_crowd: bool = False, mode: str = "whole", splits: list[str] | None = None) -> ReadResult:
    """``mode`` whole → one item per image with a selected instance; instances → one per instance."""
    if mode not in ("whole", "instances"):
        raise ValueError(f"COCO mode must be whole or instances, not {mode!r}")
    root = Path(root)
    ann_dir = root / "annotations"
    if not ann_dir.is_dir():
        raise FileNotFoundError(f"{root}: no annotations/ folder (COCO layout)")
    wanted = categories or ["person"]
    res = ReadResult()
    found_any = False
    splits_read = list(splits or ["train", "val"])
    for split in splits_read:
        ann_path = ann_dir / f"instances_{split}2017.json"
        if not ann_path.is_file():
            res.notes.append(f"no {ann_path.name}")
            continue
        found_any = True
        try:
            data = json.loads(ann_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{ann_path}: corrupt JSON ({exc})") from None
        names = {c["id"]: c["name"] for c in data.get("categories", [])}
        unknown = set(wanted) - set(names.values())
        if unknown:
            raise ValueError(f"{ann_path}: unknown categor(ies) {sorted(unknown)}")
        cat_ids = {i for i, n in names.items() if n in wanted}
        img_dir = _image_dir(root, split)
        on_disk = {e.name for e in os.scandir(img_dir) if e.is_file()} if img_dir else set()
        by_image: dict[int, list[dict]] = {}
        for a in data.get("annotations", []):
            by_image.setdefault(a["image_id"], []).append(a)
        listed = set()
        for img in sorted(data.get("images", []), key=lambda im: im["file_name"]):
            listed.add(img["file_name"])
            if img["file_name"] not in on_disk:
                res.missing[ann_path.name] += 1
                continue
            selected = []
            for a in by_image.get(img["id"], []):
                if a["category_id"] not in cat_ids:
                    continue
                if a.get("iscrowd", 0) and not include_crowd:
                    res.dropped["instance: crowd"] += 1
                    continue
                if a.get("area", 0) < min_area:
                    res.dropped["instance: below min area"] += 1
                    continue
                selected.append(a)
            if not selected:
                res.drop(f"image: no {'/'.join(wanted)} instance kept", img["file_name"])
                continue
            path = img_dir / img["file_name"]
            stem = Path(img["file_name"]).stem
            meta = {"coco_id": img["id"], "categories": sorted({names[a["category_id"]] for a in selected})}
            if mode == "whole":
                res.items.append(SourceItem(path, "coco", "photo", f"coco/{stem}", split, attributes=meta))
            else:
                for a in selected:
                    x, y, w, h = a["bbox"]
                    res.items.append(SourceItem(path, "coco", "photo", f"coco/{stem}_{a['id']}", split,
                                                (x, y, x + w, y + h),
                                                attributes={**meta, "instance_id": a["id"]}))
        extra = len(on_disk - listed)
        if extra:
            res.notes.append(f"{split}2017: {extra} image(s) on disk without annotations (ignored)")
    if not found_any:  # the files the asked splits need (all there may be, but not for these splits)
        files = " or ".join(f"instances_{sp}2017.json" for sp in splits_read)
        raise FileNotFoundError(f"{ann_dir}: no {files}" + (f" (--splits {','.join(splits_read)})"
                                                              if set(splits_read) != {"train", "val"} else ""))
    return res
