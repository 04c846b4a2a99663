"""Translate many files and folders: bad files are reported one line each, the rest still finish."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..imageio import (
    IMAGE_SUFFIXES,
    WRITE_FORMATS,
    ImageError,
    atomic_write_bytes,
    is_image,
    load_image,
    save_image,
)
from .cartoonizer import Cartoonizer
from .wild import WildCartoonizer, WildOptions
from .wild import side_by_side as side_by_side_image

log = logging.getLogger(__name__)



@dataclass
class BatchReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)  # e.g. no face found: whole image
    skipped: list[Path] = field(default_factory=list)


def collect_inputs(inputs: list[str | os.PathLike], report: BatchReport) -> list[tuple[Path, Path]]:
    """(source, output path relative to the output folder) for every file and folder given.

    With several folders, each folder's outputs go under its own name, so that equal relative names
    from two folders do not land on the same output.
    """
    jobs: list[tuple[Path, Path]] = []
    several = sum(Path(raw).is_dir() for raw in inputs) > 1
    for raw in inputs:
        src = Path(raw)
        if src.is_dir():
            prefix = Path(src.resolve().name) if several else Path()
            for p in sorted(src.rglob("*")):
                if p.is_file() and not p.name.startswith(".") and (
                        p.suffix.lower() in IMAGE_SUFFIXES or is_image(p)):
                    jobs.append((p, prefix / p.relative_to(src)))
        elif src.exists():
            jobs.append((src, Path(src.name)))
        else:
            report.failed.append((src, f"{src}: no such file or directory"))
    return jobs


def output_path(rel: Path, out_dir: Path, ext: str | None) -> Path:
    """Keep the name; the suffix is ``ext`` if given, else the input's if writable, else .png."""
    suffix = ext if ext else rel.suffix.lower()
    if not suffix.startswith("."):
        suffix = "." + suffix
    if suffix not in WRITE_FORMATS:
        suffix = ".png"
    return out_dir / rel.with_suffix(suffix)


def sidecar_path(dst: Path) -> Path:
    return dst.with_name(dst.name + ".json")


def translate_paths(cartoonizer: Cartoonizer | WildCartoonizer, inputs: list[str | os.PathLike],
                    out_dir: str | os.PathLike, ext: str | None = None, progress: bool = True,
                    side_by_side: bool = False, sidecar: bool = False) -> BatchReport:
    """Translate every image under ``inputs`` into ``out_dir``; never stops at a bad file.

    A plain :class:`Cartoonizer` translates whole images; a :class:`WildCartoonizer` also finds, aligns
    and pastes back faces. Per-file notes (e.g. "no face found") land in ``report.notes``;
    ``sidecar`` writes ``NAME.EXT.json`` (boxes, timings) next to each output.
    """
    wild = cartoonizer if isinstance(cartoonizer, WildCartoonizer) else WildCartoonizer(
        cartoonizer, WildOptions(mode="whole"))
    out_dir = Path(out_dir)
    report = BatchReport()
    jobs = collect_inputs(inputs, report)
    claimed: dict[Path, Path] = {}  # output → the input that has it: no input overwrites another's result
    with tqdm(total=len(jobs), disable=not progress, unit="img", dynamic_ncols=True) as bar:
        for src, rel in jobs:
            bar.update(1)
            dst = output_path(rel, out_dir, ext)
            if dst in claimed:
                report.failed.append((src, f"{src}: its output {dst} is already {claimed[dst]}'s; "
                                           "translate it separately or rename it"))
                continue
            claimed[dst] = src
            try:
                rgb, alpha = load_image(src, with_alpha=True)
                if alpha is not None:
                    rgb.putalpha(alpha)
                result = wild(rgb)
            except ImageError as exc:
                report.failed.append((src, str(exc)))
                continue
            except (RuntimeError, ValueError, MemoryError) as exc:  # e.g. out of memory on one image
                report.failed.append((src, f"{src}: translation failed ({str(exc).splitlines()[0]})"))
                continue
            if result.note:
                report.notes.append((src, f"{src}: {result.note}"))
            if result.image is None:
                report.skipped.append(src)
                continue
            img = side_by_side_image(rgb, result.image) if side_by_side else result.image
            try:
                save_image(img, dst)
                if sidecar:
                    info = {"input": str(src), "output": str(dst), "side_by_side": side_by_side,
                            "model": wild.cz.meta.get("path"), **result.sidecar()}
                    atomic_write_bytes(sidecar_path(dst), (json.dumps(info, indent=1) + "\n").encode())
                report.written.append(dst)
            except (OSError, ValueError) as exc:
                report.failed.append((src, f"{dst}: cannot write ({exc})"))
    return report
