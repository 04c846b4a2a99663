"""`artifygan prepare`: raw datasets → one canonical training layout, a manifest and a summary.

    OUT/{train,val,test}/photos/*.jpg      face crops (or scene photos) at the chosen size
    OUT/{train,val,test}/cartoons/*.jpg    cartoon crops
    OUT/{train,val,test}/smoothed/*.jpg    their edge-smoothed copies (same names)
    OUT/manifest.jsonl   one row per kept image (source, dataset, crop, landmarks, split, attributes, hash)
    OUT/dropped.jsonl    one row per dropped image, with its reason
    OUT/summary.json     kept / dropped counts by reason, plus the readers' notes
    OUT/options.json     the options that shape the pictures, written first (a resume must use the same)

Workers decode, detect, crop and encode; the main process alone deduplicates (by content hash of the
output pixels) and writes, atomically. Re-running skips every key already in the manifest or the
dropped list, so an interrupted run resumes and a finished one is a no-op.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import signal
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..imageio import ImageError, atomic_write_bytes, load_image
from .readers import ReadResult, SourceItem
from .smoothing import edge_smooth

SPLITS = ("train", "val", "test")


@dataclass
class PrepareOptions:
    size: int = 256
    photo_faces: str = "detect"  # detect (YuNet + eye alignment) | none (whole image)
    cartoon_faces: str = "auto"  # detect (anime cascade) | none (already cropped) | auto (detect for safebooru)
    min_face: int = 32  # minimum face box width in source pixels
    min_score: float = 0.8  # YuNet confidence threshold
    margin: float = 0.0  # extra room around the face (0 = selfie2anime-like framing)
    val_fraction: float = 0.05  # for items without an official split
    instance_margin: float = 0.1  # COCO instance crops
    yunet: str | None = None
    anime_cascade: str | None = None
    smooth: bool = True
    quality: int = 95
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass
class Processed:
    key: str
    reason: str | None = None  # set when dropped
    image: bytes | None = None
    smoothed: bytes | None = None
    row: dict[str, Any] = field(default_factory=dict)


_WORKER: dict[str, Any] = {}  # per-process detector cache, filled by _init_worker


def _init_worker(opts: PrepareOptions, need_photo: bool, need_anime: bool) -> None:
    import cv2

    from ..faces import AnimeFaceDetector, PhotoFaceDetector

    cv2.setNumThreads(1)
    if multiprocessing.parent_process() is not None:  # a pool worker: Ctrl-C is the main process's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.clear()
    _WORKER["opts"] = opts
    if need_photo:
        _WORKER["photo"] = PhotoFaceDetector(opts.yunet, opts.min_score)
    if need_anime:
        _WORKER["anime"] = AnimeFaceDetector(opts.anime_cascade)


def cartoon_mode(item: SourceItem, opts: PrepareOptions) -> str:
    """Full illustrations (safebooru) need the anime-face detector; cropped face sets do not."""
    if opts.cartoon_faces == "auto":
        return "detect" if item.dataset == "safebooru" else "none"
    return opts.cartoon_faces


def _encode(arr: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _square_resize(arr: np.ndarray, size: int) -> np.ndarray:
    from ..faces import crop_box

    h, w = arr.shape[:2]
    s = min(h, w)
    return crop_box(arr, ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2), size)


def _shorter_side(arr: np.ndarray, size: int) -> np.ndarray:
    h, w = arr.shape[:2]
    s = size / min(h, w)
    return np.asarray(Image.fromarray(arr).resize((max(size, round(w * s)), max(size, round(h * s))),
                                                  Image.Resampling.BICUBIC))


def process_item(item: SourceItem) -> Processed:
    """Decode → crop (face / instance / whole) → encode; runs in a worker."""
    from ..faces import FaceFraming, align_by_eyes, crop_box, square_box

    opts: PrepareOptions = _WORKER["opts"]
    try:
        arr = np.asarray(load_image(item.path))
    except ImageError as exc:
        return Processed(item.key, "unreadable image", row={"error": str(exc)})
    row: dict[str, Any] = {"source_size": [arr.shape[1], arr.shape[0]]}
    if item.role == "photo" and item.box is not None and item.dataset == "coco":
        box = square_box(item.box, opts.instance_margin)
        out = crop_box(arr, box, opts.size)
        row["crop"] = {"box": [round(v, 2) for v in box]}
    elif item.role == "photo" and item.dataset == "coco":
        out = _shorter_side(arr, opts.size)  # scene photo, as CartoonGAN used them: keep the aspect
        row["crop"] = {"resize_shorter_side": opts.size}
    elif item.role == "photo" and opts.photo_faces == "detect":
        faces = _WORKER["photo"].detect(arr)
        if item.box is not None:  # CelebA in the wild: keep the face inside the official box
            x0, y0, x1, y1 = item.box
            faces = [f for f in faces
                     if x0 <= (f.box[0] + f.box[2]) / 2 <= x1 and y0 <= (f.box[1] + f.box[3]) / 2 <= y1]
        if not faces:
            return Processed(item.key, "no face detected")
        face = faces[0]
        if face.width < opts.min_face:
            return Processed(item.key, "face too small")
        framing = FaceFraming.with_margin(opts.margin)
        out, m = align_by_eyes(arr, face.landmarks, opts.size, framing.eye_dist, framing.eye_y,
                               face_width=face.width)
        row.update({"crop": {"affine": np.round(m, 5).tolist()}, "face_box": [round(v, 1) for v in face.box],
                    "landmarks": np.round(face.landmarks, 1).tolist(), "face_score": round(face.score, 3),
                    "n_faces": len(faces)})
    elif item.role == "cartoon" and cartoon_mode(item, opts) == "detect":
        faces = [f for f in _WORKER["anime"].detect(arr) if f.width >= opts.min_face]
        if not faces:
            return Processed(item.key, "no anime face detected")
        box = square_box(faces[0].box, 0.5 + opts.margin, shift_up=0.1)
        out = crop_box(arr, box, opts.size)
        row.update({"crop": {"box": [round(v, 2) for v in box]}, "n_faces": len(faces)})
    else:
        out = _square_resize(arr, opts.size)
        row["crop"] = {"center_square": True}
    out = np.ascontiguousarray(out)
    digest = hashlib.sha1(out.tobytes()).hexdigest()[:16]
    smoothed = _encode(edge_smooth(out), opts.quality) if item.role == "cartoon" and opts.smooth else None
    return Processed(item.key, None, _encode(out, opts.quality), smoothed, {**row, "hash": digest})


def assign_split(item: SourceItem, digest: str, val_fraction: float) -> str:
    """The official split when there is one; otherwise a deterministic hash split."""
    if item.split in SPLITS:
        return item.split
    return "val" if int(digest[:8], 16) / 0xFFFFFFFF < val_fraction else "train"


def check_prepare_output(out: Path, sources: list[Path]) -> None:
    """Refuse, before any work, an output that is a file, a non-empty folder that is not a prepared dataset
    (no ``manifest.jsonl``: a user's folder, whose files would be written over), or holds an input."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: the output must be a folder, and this is an existing file; choose another -o")
    if out.is_dir() and not (out / "manifest.jsonl").is_file() and any(out.iterdir()):
        raise ValueError(f"{out}: exists, is not empty and is not a prepared dataset (no manifest.jsonl): prepare "
                         "never writes over a folder it did not make; choose a new -o")
    root = out.resolve()
    for src in sources:
        if src.resolve().is_relative_to(root):
            raise ValueError(f"{src}: an input inside the output folder {out}; choose another -o")


# the options that shape what is written: a resumed run must use the ones the folder was made with
SHAPING = ("size", "photo_faces", "cartoon_faces", "min_face", "min_score", "margin", "val_fraction",
           "instance_margin", "smooth", "quality")


OPTIONS_FILE = "options.json"  # the shaping options, written when the folder is made (summary.json: at the end)


def check_same_options(out: Path, opts: PrepareOptions) -> None:
    """Refuse to resume a prepared folder with other shaping options (its images would stay as they were made
    while its summary recorded the new ones). The options are read from the file written when the folder
    was made, so an interrupted run (no summary yet) is checked too."""
    before: dict = {}
    for name in (OPTIONS_FILE, "summary.json"):
        try:
            before = json.loads((out / name).read_text()).get("options") or {}
        except (OSError, ValueError, AttributeError):
            continue  # not made yet, or by an older version
        break
    asked = asdict(opts)
    for key in SHAPING:
        if key in before and before[key] != asked[key]:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{out}: was prepared with {flag} {before[key]}, not {asked[key]}; re-running resumes "
                             "it with the same options; choose a new -o for new ones")


def _read_jsonl(path: Path) -> list[dict]:
    """Rows of a log; a line cut by an interruption (the last) is dropped (that item is redone) and the file
    is rewritten clean, so the next append starts on a fresh line. Any other line that is not a row of this
    log means the file is not prepare's: a clear error, and the file is left as it is."""
    if not path.is_file():
        return []
    text = path.read_text()
    rows: list[dict] = []
    cut = bool(text) and not text.endswith("\n")  # the last line was being written when the run stopped
    lines = text.splitlines()
    for i, line in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict) and "key" in row:
            rows.append(row)
        elif not (cut and i == len(lines) - 1):
            raise ValueError(f"{path}: line {i + 1} is not a row prepare wrote; not a prepared dataset's log "
                             "(left as it is): choose a new -o")
    if cut:  # rewritten clean (an unfinished last row dropped), so the next append starts on a fresh line
        atomic_write_bytes(path, "".join(json.dumps(r) + "\n" for r in rows).encode())
    return rows


def _append(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def prepare(read: ReadResult, out: str | Path, opts: PrepareOptions | None = None,
            progress: bool = True) -> dict[str, Any]:
    """Process every item the readers produced into ``out``; returns the summary (also written)."""
    opts = opts or PrepareOptions()
    out = Path(out)
    check_prepare_output(out, [it.path for it in read.items])
    check_same_options(out, opts)
    named: dict[tuple[str, str], Path] = {}  # (role, output name) → the picture that takes it (handle's names)
    keyed: dict[str, Any] = {}  # the records' key (source folder name/relative path) → its item, any role
    for it in read.items:
        other = keyed.setdefault(it.key, it)
        if other.path != it.path:  # photos/faces/p0.jpg and cartoons/faces/p0.jpg: one record overwrote the other
            raise ValueError(f"{it.path} ({it.role}) and {other.path} ({other.role}) share the record "
                             f"{it.key!r}: give their sources distinct folder names")
        first = named.setdefault((it.role, it.key.replace("/", "_") + ".jpg"), it.path)
        if first != it.path:  # before anything is written
            raise ValueError(f"{it.path} and {first} would both be written as {it.role}s/.../"
                             f"{it.key.replace('/', '_')}.jpg: rename one, or give their sources distinct "
                             "folder names")
    out.mkdir(parents=True, exist_ok=True)
    manifest, dropped_log = out / "manifest.jsonl", out / "dropped.jsonl"
    manifest.touch()  # marks the folder as prepare's from the start, also when nothing is kept
    if not (out / OPTIONS_FILE).is_file():
        atomic_write_bytes(out / OPTIONS_FILE, json.dumps({"options": asdict(opts)}, indent=2).encode())
    kept_rows, dropped_rows = _read_jsonl(manifest), _read_jsonl(dropped_log)
    present = [r for r in kept_rows if (out / r["file"]).is_file() and (not r.get("smoothed")
                                                                      or (out / r["smoothed"]).is_file())]
    if len(present) < len(kept_rows):  # pictures (or their smoothed copies) deleted since: made again below
        kept_rows = present
        atomic_write_bytes(manifest, "".join(json.dumps(r) + "\n" for r in kept_rows).encode())
    done = {r["key"] for r in kept_rows} | {r["key"] for r in dropped_rows}
    hashes = {r["hash"]: r["key"] for r in kept_rows}
    todo = [it for it in read.items if it.key not in done]
    need_photo = opts.photo_faces == "detect" and any(it.role == "photo" and it.dataset != "coco" for it in todo)
    need_anime = any(it.role == "cartoon" and cartoon_mode(it, opts) == "detect" for it in todo)
    init_args = (opts, need_photo, need_anime)
    by_key = {it.key: it for it in todo}

    def handle(res: Processed) -> None:
        item = by_key[res.key]
        base = {"key": item.key, "source": str(item.path), "dataset": item.dataset, "role": item.role}
        if res.reason is None and res.row["hash"] in hashes:
            res.reason = "duplicate"
            res.row["duplicate_of"] = hashes[res.row["hash"]]
        if res.reason is not None:
            row = {**base, "reason": res.reason, **res.row}
            dropped_rows.append(row)
            _append(dropped_log, row)
            return
        split = assign_split(item, res.row["hash"], opts.val_fraction)
        name = item.key.replace("/", "_") + ".jpg"
        rel = Path(split) / f"{item.role}s" / name
        assert res.image is not None  # process_item encodes every item it keeps
        atomic_write_bytes(out / rel, res.image)
        row = {**base, "split": split, "file": rel.as_posix(), **res.row}
        if res.smoothed is not None:
            srel = Path(split) / "smoothed" / name
            atomic_write_bytes(out / srel, res.smoothed)
            row["smoothed"] = srel.as_posix()
        if item.landmarks is not None:
            row["source_landmarks"] = item.landmarks
        if item.attributes:
            row["attributes"] = item.attributes
        hashes[res.row["hash"]] = item.key
        kept_rows.append(row)
        _append(manifest, row)  # after the image files: a listed image always exists

    bar = tqdm(total=len(todo), disable=not progress, unit="img", desc="prepare", dynamic_ncols=True)
    if opts.workers <= 1 or len(todo) < 8:
        _init_worker(*init_args)
        for it in todo:
            handle(process_item(it))
            bar.update(1)
    else:
        _init_worker(*init_args)  # here first: a missing detector is one clear error, not a broken worker pool
        # spawn, not fork: forking a process whose torch/OpenMP threads are running can deadlock the child
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(opts.workers, mp_context=ctx, initializer=_init_worker, initargs=init_args)
        # the workers start with Ctrl-C ignored (they inherit it): the terminal sends it to them too, which
        # dumped their tracebacks and could leave the run hanging at exit; this process stops them instead
        before = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            results = pool.map(process_item, todo, chunksize=8)  # submits every chunk: the workers start here
        finally:
            signal.signal(signal.SIGINT, before)
        try:
            for res in results:
                handle(res)
                bar.update(1)
        finally:  # interrupted: the chunks not started are cancelled, the running ones end (≤ 8 pictures each)
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    summary = summarize(read, kept_rows, dropped_rows, opts)
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    return summary


def summarize(read: ReadResult, kept: list[dict], dropped: list[dict], opts: PrepareOptions) -> dict[str, Any]:
    kept_by: Counter = Counter((r["role"], r["split"]) for r in kept)
    by_dataset: Counter = Counter(r["dataset"] for r in kept)
    reasons = Counter(read.dropped)
    reasons.update(r["reason"] for r in dropped)
    examples = {k: list(v) for k, v in read.examples.items()}
    for r in dropped:
        ex = examples.setdefault(r["reason"], [])
        if len(ex) < 5:
            ex.append(r["source"])
    return {
        "kept": {f"{role}s/{split}": n for (role, split), n in sorted(kept_by.items())},
        "kept_total": len(kept),
        "kept_by_dataset": dict(sorted(by_dataset.items())),
        "dropped": dict(reasons.most_common()),
        # pictures; COCO's instance filters ("instance: …") count instances, a picture keeps its others
        "dropped_total": sum(n for r, n in reasons.items() if not r.startswith("instance:")),
        "instances_dropped_total": sum(n for r, n in reasons.items() if r.startswith("instance:")),
        "metadata_rows_without_image": dict(read.missing),
        "notes": read.notes,
        "examples": examples,
        "options": asdict(opts),
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"kept {summary['kept_total']:,} image(s):"]
    lines += [f"  {k:<22} {v:>8,}" for k, v in summary["kept"].items()]
    lines += [f"  by dataset: {', '.join(f'{k} {v:,}' for k, v in summary['kept_by_dataset'].items())}"]
    lines.append(f"dropped {summary['dropped_total']:,} picture(s)" + (
        f" and {summary['instances_dropped_total']:,} COCO instance(s)" if summary.get("instances_dropped_total")
        else "") + ":")
    lines += [f"  {k:<50} {v:>8,}" for k, v in summary["dropped"].items()]
    for k, v in summary["metadata_rows_without_image"].items():
        lines.append(f"metadata rows whose image is not on disk: {k} {v:,}")
    lines += [f"note: {n}" for n in summary["notes"]]
    return "\n".join(lines)
