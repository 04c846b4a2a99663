"""Translate many files and folders: bad files are reported one line each, the rest still finish.

Nothing a user owns is overwritten: an output folder that is an input folder is refused up front, an
output folder inside an input folder is never walked as input, and an output that would land on any
input file (same file, by device and inode) is refused for that file.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..imageio import (
    WRITE_FORMATS,
    ImageError,
    atomic_write_bytes,
    decode_image,
    looks_like_image,
    one_line,
    save_image,
    show,
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


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def check_output(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> None:
    """Refuse, before any work, an output folder that cannot be one or would mix with an input folder."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{show(out)}: the output must be a folder, and this is an existing file; "
                         "choose another -o")
    for raw in inputs:
        src = Path(raw)
        if src.is_dir() and _same(src, out):
            raise ValueError(f"{show(out)}: the output folder is the input folder {show(src)}: the cartoons would "
                             "replace or mix with the photos; choose another -o (a new folder)")
    probe = out
    while not probe.exists():  # the first existing folder up the path must be a writable folder
        if probe.is_symlink():
            raise ValueError(f"{show(out)}: cannot create the output folder ({show(probe)} is a broken link)")
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{show(out)}: cannot create the output folder ({show(probe)} is a file)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{show(out)}: cannot write there (no permission on {show(probe)})")


def _bad_link(p: Path) -> str | None:
    """Why a symbolic link cannot be read (broken or looping), or None when it is fine or no link."""
    if not p.is_symlink():
        return None
    try:
        p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"broken symbolic link (to {show(os.readlink(p))}, which does not exist)"
    return None


def _walk(root: Path, skip: Path | None, report: BatchReport) -> list[Path]:
    """Every file under ``root`` (links to folders not followed), leaving out the ``skip`` folder."""
    found: list[Path] = []
    for d, dirs, files in os.walk(root):
        if skip is not None and any(_same(Path(d) / n, skip) for n in dirs):
            dirs[:] = [n for n in dirs if not _same(Path(d) / n, skip)]
            report.notes.append((skip, f"{show(skip)}: the output folder, inside the input folder {show(root)}, "
                                       "is not read as input"))
        found.extend(Path(d) / n for n in files)
    return sorted(found)


def collect_inputs(inputs: Sequence[str | os.PathLike], report: BatchReport,
                   out_dir: str | os.PathLike | None = None) -> list[tuple[Path, Path]]:
    """(source, output path relative to the output folder) for every file and folder given.

    With several folders, each folder's outputs go under its own name, so that equal relative names
    from two folders do not land on the same output. ``out_dir`` inside an input folder is not walked
    (a second run must not translate the first run's cartoons). Broken or looping links are reported.
    """
    jobs: list[tuple[Path, Path]] = []
    skip = Path(out_dir) if out_dir is not None and Path(out_dir).is_dir() else None
    several = sum(Path(raw).is_dir() for raw in inputs) > 1
    for raw in inputs:
        src = Path(raw)
        if src.is_dir():
            prefix = Path(src.resolve().name) if several else Path()
            before = len(jobs)
            for p in _walk(src, skip, report):
                if p.name.startswith("."):
                    continue
                why = _bad_link(p)
                if why:
                    report.failed.append((p, f"{show(p)}: {why}"))
                elif p.is_file() and looks_like_image(p):
                    jobs.append((p, prefix / p.relative_to(src)))
            if len(jobs) == before:  # "wrote 0 image(s)" alone leaves the user guessing
                report.notes.append((src, f"{show(src)}: no images found in this folder"))
        elif src.exists():
            jobs.append((src, Path(src.name)))
        else:
            why = _bad_link(src) or "no such file or directory"
            report.failed.append((src, f"{show(src)}: {why}"))
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


def translate_paths(cartoonizer: Cartoonizer | WildCartoonizer, inputs: Sequence[str | os.PathLike],
                    out_dir: str | os.PathLike, ext: str | None = None, progress: bool = True,
                    side_by_side: bool = False, sidecar: bool = False, overwrite: bool = False) -> BatchReport:
    """Translate every image under ``inputs`` into ``out_dir``; never stops at a bad file.

    A file already at an output's name (an earlier run's, or the user's own) is left as it is and the input
    reported, unless ``overwrite``; an input is never written over, even then.

    A plain :class:`Cartoonizer` translates whole images; a :class:`WildCartoonizer` also finds, aligns
    and pastes back faces. Per-file notes (e.g. "no face found") land in ``report.notes``;
    ``sidecar`` writes ``NAME.EXT.json`` (boxes, timings) next to each output.
    """
    wild = cartoonizer if isinstance(cartoonizer, WildCartoonizer) else WildCartoonizer(
        cartoonizer, WildOptions(mode="whole"))
    out_dir = Path(out_dir)
    check_output(inputs, out_dir)
    report = BatchReport()
    jobs = collect_inputs(inputs, report, out_dir)
    owned: dict[tuple[int, int], Path] = {}  # (device, inode) of every input: never written over
    for src, _ in jobs:
        try:
            st = src.stat()
        except OSError:  # gone since the walk: reported when it is read
            continue
        owned.setdefault((st.st_dev, st.st_ino), src)
    claimed: dict[Path, Path] = {}  # output → the input that has it: no input overwrites another's result
    with tqdm(total=len(jobs), disable=not progress, unit="img", dynamic_ncols=True) as bar:
        for src, rel in jobs:
            bar.update(1)
            dst = output_path(rel, out_dir, ext)
            if dst in claimed and _same(src, claimed[dst]):  # one file given twice (a.jpg ./a.jpg): once
                report.notes.append((src, f"{show(src)}: given more than once; translated once"))
                continue
            if dst in claimed:
                report.failed.append((src, f"{show(src)}: its output {show(dst)} is already {show(claimed[dst])}'s; "
                                           "translate it separately or rename it"))
                continue
            claimed[dst] = src
            victim = _input_at(dst, owned)
            if victim is not None:
                what = "the input itself" if victim == src else f"the input {show(victim)}"
                report.failed.append((src, f"{show(src)}: not translated: its output {show(dst)} would replace "
                                           f"{what}; choose another -o folder"))
                continue
            taken = [p for p in (dst, sidecar_path(dst) if sidecar else None) if p is not None and os.path.lexists(p)]
            if taken and not overwrite:
                report.failed.append((src, f"{show(src)}: not translated: {show(taken[0])} already exists; "
                                           "--overwrite replaces it, or choose another -o folder"))
                continue
            try:
                decoded = decode_image(src)
                picture = decoded.picture()
                result = wild(picture)
            except ImageError as exc:
                report.failed.append((src, str(exc)))
                continue
            except (RuntimeError, ValueError, MemoryError) as exc:  # e.g. out of memory on one image
                report.failed.append((src, f"{show(src)}: translation failed ({one_line(exc)})"))
                continue
            if decoded.frames > 1:
                report.notes.append((src, f"{show(src)}: animated ({decoded.frames} frames); translated the first "
                                          f"frame only: use `artifygan video` for all of them"))
            if result.note:
                report.notes.append((src, f"{show(src)}: {result.note}"))
            if result.image is None:
                report.skipped.append(src)
                continue
            img = side_by_side_image(picture, result.image) if side_by_side else result.image
            # the sidecar first, then the picture: a failure of either leaves neither (an image without the
            # sidecar asked for was left behind, blamed, and then refused as "already exists" on a rerun)
            side = sidecar_path(dst) if sidecar else None
            target = side or dst
            try:
                if side is not None:
                    info = {"input": str(src), "output": str(dst), "side_by_side": side_by_side,
                            "model": wild.cz.meta.get("path"), **result.sidecar()}
                    atomic_write_bytes(side, (json.dumps(info, indent=1, allow_nan=False) + "\n").encode())
                target = dst
                save_image(img, dst)
                report.written.append(dst)
            except (OSError, ValueError) as exc:
                if side is not None and target == dst:
                    side.unlink(missing_ok=True)
                report.failed.append((src, f"{show(target)}: cannot write ({one_line(exc)})"))
    return report


def _input_at(path: Path, owned: dict[tuple[int, int], Path]) -> Path | None:
    """The input file that ``path`` already is (same device and inode: links and case folding too)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return owned.get((st.st_dev, st.st_ino))
