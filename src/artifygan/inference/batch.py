"""Translate many files and folders: bad files are reported one line each, the rest still finish."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..imageio import IMAGE_SUFFIXES, WRITE_FORMATS, ImageError, is_image, load_image, save_image
from .cartoonizer import Cartoonizer

log = logging.getLogger(__name__)



@dataclass
class BatchReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def collect_inputs(inputs: list[str | os.PathLike], report: BatchReport) -> list[tuple[Path, Path]]:
    """(source, output path relative to the output folder) for every file and folder given."""
    jobs: list[tuple[Path, Path]] = []
    for raw in inputs:
        src = Path(raw)
        if src.is_dir():
            for p in sorted(src.rglob("*")):
                if p.is_file() and not p.name.startswith(".") and (
                        p.suffix.lower() in IMAGE_SUFFIXES or is_image(p)):
                    jobs.append((p, p.relative_to(src)))
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


def translate_paths(cartoonizer: Cartoonizer, inputs: list[str | os.PathLike], out_dir: str | os.PathLike,
                    ext: str | None = None, progress: bool = True) -> BatchReport:
    """Translate every image under ``inputs`` into ``out_dir``; never stops at a bad file."""
    out_dir = Path(out_dir)
    report = BatchReport()
    jobs = collect_inputs(inputs, report)
    chunk = cartoonizer.batch_size * 4  # bounded memory: load a few batches at a time
    with tqdm(total=len(jobs), disable=not progress, unit="img", dynamic_ncols=True) as bar:
        for k in range(0, len(jobs), chunk):
            loaded = []
            for src, rel in jobs[k:k + chunk]:
                try:
                    loaded.append((src, rel, load_image(src, with_alpha=True)))
                except ImageError as exc:
                    report.failed.append((src, str(exc)))
                    bar.update(1)
            if not loaded:
                continue
            images = []
            for _, _, (rgb, alpha) in loaded:
                if alpha is not None:
                    rgb = rgb.copy()
                    rgb.putalpha(alpha)
                images.append(rgb)
            try:
                outs = cartoonizer.translate(images)
            except (RuntimeError, ValueError) as exc:  # e.g. out of memory on one batch
                outs = []
                for src, _, _ in loaded:
                    report.failed.append((src, f"{src}: translation failed ({str(exc).splitlines()[0]})"))
            for (src, rel, _), img in zip(loaded, outs, strict=False):
                dst = output_path(rel, out_dir, ext)
                try:
                    save_image(img, dst)
                    report.written.append(dst)
                except (OSError, ValueError) as exc:
                    report.failed.append((src, f"{dst}: cannot write ({exc})"))
            bar.update(len(loaded))
    return report
