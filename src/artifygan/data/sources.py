"""Turn `artifygan prepare` SOURCE arguments into reader calls.

SOURCE is ``KIND:PATH`` with KIND one of celeba, coco, safebooru, photos, cartoons, or a bare PATH
whose layout is recognised (CelebA, COCO, Safebooru); a plain folder needs photos: or cartoons:.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .readers import ReadResult, read_celeba, read_coco, read_folder, read_safebooru

KINDS = ("celeba", "coco", "safebooru", "photos", "cartoons")


@dataclass
class ReaderOptions:
    attr: dict[str, int] = field(default_factory=dict)
    celeba_variant: str = "auto"
    splits: list[str] | None = None
    coco_categories: list[str] = field(default_factory=lambda: ["person"])
    coco_min_area: float = 4096.0
    coco_crowd: bool = False
    coco_mode: str = "whole"
    tags: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    ratings: list[str] | None = None
    safebooru_meta: str | None = None
    limit: int | None = None  # first N items of each source (quick trials)


def detect_kind(path: Path) -> str:
    if (path / "list_eval_partition.txt").is_file() or any(path.glob("img_align_celeba*")) \
            or (path / "img_celeba").is_dir():
        return "celeba"
    if any((path / "annotations").glob("instances_*.json")):
        return "coco"
    if any(path.glob("*.csv")) or any(path.glob("*.json")):
        return "safebooru"
    raise ValueError(f"{path}: layout not recognised; prefix it with one of {', '.join(KINDS)} "
                     "(e.g. photos:{path} for a plain folder of photos)")


def parse_source(spec: str) -> tuple[str, Path]:
    kind, sep, rest = spec.partition(":")
    if sep and kind in KINDS:
        if not rest:  # "photos:" read the current folder
            raise ValueError(f"{spec}: give a folder after '{kind}:'")
        path = Path(rest)
    else:
        if sep and kind.isalpha() and len(kind) > 1 and not Path(spec).exists() and Path(rest).exists():
            raise ValueError(f"{spec}: unknown source kind {kind!r}; choose one of {', '.join(KINDS)}")
        kind, path = "", Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"{path}: source not found")
    return (kind or detect_kind(path)), path


def read_sources(specs: list[str], opts: ReaderOptions) -> ReadResult:
    total = ReadResult()
    for spec in specs:
        kind, path = parse_source(spec)
        if kind == "celeba":
            res = read_celeba(path, opts.celeba_variant, opts.attr or None, opts.splits)
        elif kind == "coco":
            res = read_coco(path, opts.coco_categories, opts.coco_min_area, opts.coco_crowd, opts.coco_mode,
                            opts.splits)
        elif kind == "safebooru":
            res = read_safebooru(path, opts.safebooru_meta, opts.tags, opts.exclude_tags, opts.ratings)
        else:
            res = read_folder(path, "photo" if kind == "photos" else "cartoon")
        if opts.limit is not None and len(res.items) > opts.limit:
            res.notes.append(f"--limit: kept the first {opts.limit} of {len(res.items)} item(s)")
            res.items = res.items[: opts.limit]
        res.notes = [f"{kind}:{path}: {n}" for n in res.notes]
        total.merge(res)
    return total
