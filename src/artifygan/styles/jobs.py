"""Background style jobs for the web page: one adapt at a time, in its own thread.

Why a thread of its own: an adapt takes minutes; translations must keep being served meanwhile (they
queue on the service's own lock, which an adapt never takes).
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..imageio import file_in_the_way
from .adapt import AdaptProgress, adapt, check_output
from .config import ASKABLE, AdaptConfig, with_style_loss
from .references import MAX_REFERENCES, StyleError, too_small

log = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


class StyleConflict(StyleError):
    """The request is fine but clashes with the server's state (a name in use, a job running): HTTP 409."""


@dataclass
class StyleJob:
    name: str
    path: Path
    n_refs: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])  # what the HTTP API polls
    state: str = "queued"  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = "starting"
    error: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None  # when it finished: its elapsed time stops there
    preview: Image.Image | None = field(default=None, repr=False)  # the latest picture of the style so far
    preview_step: int = -1  # the training step it shows (0: zero-shot, before any step)
    style_loss: str | None = None  # the loss it learned with, once done (what "auto" chose)
    cleanup: Callable[[], None] | None = field(default=None, repr=False)  # removes its pictures' temp folder
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)  # asked to stop (DELETE)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def status(self) -> dict:
        """What a client polling the job needs; ``model`` is the name to translate with, once done."""
        return {"id": self.id, "name": self.name, "state": self.state, "progress": round(self.fraction, 3),
                "message": self.message, "error": self.error, "references": self.n_refs,
                "model": self.name if self.state == "done" else None,
                "elapsed_s": round((self.ended or time.time()) - self.started, 1),
                "preview": f"/api/styles/{self.id}/preview.png" if self.preview is not None else None,
                "preview_step": self.preview_step if self.preview is not None else None,
                "style_loss": self.style_loss}


def upload_name(name: str | None) -> str:
    """An upload's own file name without any folders a browser or client sent with it ("" without one):
    what messages and stored names may show, never a path."""
    return (name or "").replace("\\", "/").rsplit("/", 1)[-1]


def _named(names: list[str | None] | None, i: int) -> str:
    """" ('avatar.png')" for picture i when its upload had a name: messages say which file, never a path."""
    base = upload_name(names[i] if names and i < len(names) else None)
    return f" ({base[:80]!r})" if base else ""


def _stem(names: list[str | None] | None, i: int) -> str:
    """A safe file-name stem from picture i's upload name (``ref`` without one)."""
    base = upload_name(names[i] if names and i < len(names) else None)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", base.rsplit(".", 1)[0]).strip("_")[:40]
    return stem or "ref"


class StyleJobs:
    """Starts adapt jobs on uploaded reference pictures; ``on_done(name, path)`` publishes a finished style."""

    def __init__(self, root: str | Path, on_done: Callable[[str, Path], None], config: AdaptConfig | None = None,
                 photos: str | Path | None = None, base: str | Path | None = None, device: str = "auto") -> None:
        self.root = Path(root)
        if blocked := file_in_the_way(self.root, self.root):  # at start-up, not after a job's minutes of training
            raise StyleError(blocked)
        self.on_done = on_done
        self.config, self.photos, self.base, self.device = config, photos, base, device
        self.jobs: dict[str, StyleJob] = {}  # by job id; failed jobs stay (their status), their names are free
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        # a server stopped mid-job: the job ends at its next step, before Python tears its thread down inside
        # torch (which aborted the process: "terminate called without an active exception", exit 134)
        atexit.register(self.stop)

    def stop(self, timeout: float = 30.0) -> None:
        """End the running job at its next step (it fails with "the server stopped") and wait for it."""
        self._stopping.set()
        for t in list(self._threads):
            t.join(timeout)

    def busy(self) -> bool:
        return any(not j.finished for j in list(self.jobs.values()))

    def get(self, job_id: str) -> StyleJob | None:
        return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> StyleJob | None:
        """Ask a running job to stop at its next step (its state becomes "cancelled"; nothing is kept, and
        the next job may start). None: no such job; a finished job is a :class:`StyleConflict`."""
        job = self.jobs.get(job_id)
        if job is not None:
            if job.finished:
                raise StyleConflict(f"style job {job_id[:40]!r} has finished ({job.state}); nothing to cancel")
            job.cancel.set()
        return job

    def finished_styles(self) -> dict[str, Path]:
        """{name: folder} of the styles already in ``root`` (snapshot folders with a config.json), so a
        restarted server offers them again. Hidden folders (adapt's temporary ones) are skipped."""
        if not self.root.is_dir():
            return {}
        return {p.name: p for p in sorted(self.root.iterdir())
                if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file()}

    def start(self, name: str, images: list, taken: list[str], style_loss: str = "auto",
              strength: float = 1.0, photo_colour: float | None = None, background: str | None = None,
              eyes: str | None = None, grey: str | None = None, names: list[str | None] | None = None) -> StyleJob:
        """Save the pictures (PIL images, already decoded within the upload limits) and start adapting.

        ``taken``: names already in use (models the server offers); ``style_loss``: auto | gram | match (what
        carries the style: config.STYLE_LOSSES; auto chooses from the pictures, choose.py), on top of the
        server's settings; ``strength``: how far the style moves from the base (0–2, AdaptConfig.strength);
        ``photo_colour`` (0–3, 0 = the style's own colours), ``background`` (auto | keep | #rrggbb) and
        ``eyes`` (auto | off | a scale) and ``grey`` (auto | on | off): the recorded postprocess (AdaptConfig's
        fields of those names; None: the server's settings); ``names``: the uploads' own file names, for
        messages and the style's record of its references.
        Bad names and pictures raise :class:`StyleError`, a name in use or a second
        concurrent job :class:`StyleConflict`, each with a message for the user. More than 10 pictures are
        refused (the CLI only warns): a server bounds what one request may make it store and learn from.
        """
        name = (name or "").strip()
        if not NAME.match(name):
            raise StyleError("style name: 1–40 letters, digits, '-' or '_', starting with a letter or digit")
        if not images:
            raise StyleError("upload 1–10 reference pictures of the style")
        if len(images) > MAX_REFERENCES:
            raise StyleError(f"{len(images)} pictures: upload at most {MAX_REFERENCES}")
        try:
            config = with_style_loss(self.config or AdaptConfig(), style_loss)
        except ValueError:
            raise StyleError(f"style loss: {style_loss[:20]!r} is not one of {', '.join(ASKABLE)}") from None
        asked: dict[str, object] = {"strength": float(strength)}
        if photo_colour is not None:
            asked["photo_colour"] = float(photo_colour)
        if background is not None:
            asked["background"] = background.strip()
        if eyes is not None:
            asked["eyes"] = eyes.strip()
        if grey is not None:
            asked["grey"] = grey.strip()
        try:  # AdaptConfig's own bounds (NaN included)
            config = dataclasses.replace(config, **asked)  # type: ignore[arg-type]
        except ValueError as exc:
            raise StyleError(str(exc)) from None
        for i, im in enumerate(images):  # refused now, not minutes later when the job reads them
            if why := too_small(im):
                raise StyleError(f"picture {i + 1}{_named(names, i)}: {why}")
        with self._lock:
            held = {j.name for j in self.jobs.values() if j.state not in ("failed", "cancelled")}
            if name in taken or name in held:
                raise StyleConflict(f"a style or model named {name!r} exists already; choose another name")
            if self.busy():
                raise StyleConflict("a style is being learned already; try again when it is done")
            try:
                path = check_output(self.root / name)
            except StyleError:  # a folder of that name left in the styles folder: the server's path stays out
                raise StyleConflict(f"a style folder named {name!r} exists already; choose another name") from None
            job = StyleJob(name, path, len(images))
            self.jobs[job.id] = job
        refs_dir: Path | None = None
        try:  # from here a failure (no space, no thread) must not leave the job "queued", blocking the next
            refs_dir = Path(tempfile.mkdtemp(prefix="refs-"))
            job.cleanup = functools.partial(shutil.rmtree, refs_dir, ignore_errors=True)
            atexit.register(job.cleanup)  # a server stopped mid-job (SIGTERM) leaves no user's pictures in /tmp
            for i, im in enumerate(images):  # numbered from 1 like the pictures in messages
                # with their alpha: adapt's reader puts a transparent ground on white, as the CLI's does
                # (converted to RGB here it kept the colour stored under it, mostly black)
                keep = im if im.mode in ("RGB", "RGBA", "L", "LA") else im.convert("RGBA")
                keep.save(refs_dir / f"{i + 1:02d}-{_stem(names, i)}.png")  # the style's config.json names it
            thread = threading.Thread(target=self._run, args=(job, refs_dir, config), name=f"adapt-{name}",
                                      daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        except Exception as exc:
            if refs_dir is not None:
                shutil.rmtree(refs_dir, ignore_errors=True)
            job.ended = time.time()
            job.error, job.message, job.state = f"could not start: {exc}", "failed", "failed"
            raise
        return job

    def _run(self, job: StyleJob, refs_dir: Path, config: AdaptConfig) -> None:
        def progress(p: AdaptProgress) -> None:
            if self._stopping.is_set():
                raise StyleError("the server stopped")
            if job.cancel.is_set():
                raise StyleError("cancelled")
            job.fraction = p.fraction
            job.message = f"step {p.step}, {p.elapsed:.0f} s"
            if p.preview is not None:
                job.preview, job.preview_step = p.preview, p.step

        job.state = "running"
        try:
            cz = adapt([refs_dir], photos=self.photos, base=self.base, out=job.path, progress=progress,
                       config=config, device=self.device)
            job.style_loss = cz.meta["style"]["config"]["style_loss"]
            self.on_done(job.name, job.path)
            job.ended = time.time()  # before the state: a poller that sees it finished sees its clock stopped
            job.fraction, job.message, job.state = 1.0, "done", "done"
        except Exception as exc:  # reported to the user on the page; the server keeps running
            if job.cancel.is_set() and not self._stopping.is_set():
                log.info("style %s cancelled", job.name)
                job.ended = time.time()
                job.message, job.state = "cancelled", "cancelled"
                return
            if self._stopping.is_set():
                log.info("style %s stopped with the server", job.name)
            else:
                log.exception("style %s failed", job.name)
            text = str(exc).replace(f"{refs_dir}{os.sep}", "")  # "ref02.png: …", not the server's temp path
            job.error = text.splitlines()[0] if text else type(exc).__name__
            job.ended = time.time()
            job.message, job.state = f"failed: {job.error}", "failed"
        finally:
            shutil.rmtree(refs_dir, ignore_errors=True)
            if job.cleanup is not None:
                atexit.unregister(job.cleanup)
