"""Background style jobs for the web page: one adapt at a time, in its own thread.

Why a thread of its own: an adapt takes minutes; translations must keep being served meanwhile (they
queue on the service's own lock, which an adapt never takes).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .adapt import AdaptProgress, adapt, check_output
from .config import AdaptConfig
from .references import MAX_REFERENCES, StyleError

log = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass
class StyleJob:
    name: str
    path: Path
    n_refs: int
    state: str = "queued"  # queued | running | done | failed
    fraction: float = 0.0
    message: str = "starting"
    error: str | None = None
    started: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class StyleJobs:
    """Starts adapt jobs on uploaded reference pictures; ``on_done(name, path)`` publishes a finished style."""

    def __init__(self, root: str | Path, on_done: Callable[[str, Path], None], config: AdaptConfig | None = None,
                 photos: str | Path | None = None, base: str | Path | None = None, device: str = "auto") -> None:
        self.root = Path(root)
        self.on_done = on_done
        self.config, self.photos, self.base, self.device = config, photos, base, device
        self.jobs: dict[str, StyleJob] = {}
        self._lock = threading.Lock()

    def busy(self) -> bool:
        return any(not j.finished for j in self.jobs.values())

    def start(self, name: str, images: list, taken: list[str]) -> StyleJob:
        """Save the pictures (PIL images, already decoded within the upload limits) and start adapting.

        ``taken``: names already in use (models the server offers). Bad names and a second concurrent
        job raise :class:`StyleError` with a message for the user.
        """
        name = (name or "").strip()
        if not NAME.match(name):
            raise StyleError("style name: 1–40 letters, digits, '-' or '_', starting with a letter or digit")
        if not images:
            raise StyleError("upload 1–10 reference pictures of the style")
        if len(images) > MAX_REFERENCES:
            raise StyleError(f"{len(images)} pictures: upload at most {MAX_REFERENCES}")
        with self._lock:
            if name in taken or name in self.jobs:
                raise StyleError(f"a style or model named {name!r} exists already; choose another name")
            if self.busy():
                raise StyleError("a style is being learned already; try again when it is done")
            path = check_output(self.root / name)
            job = StyleJob(name, path, len(images))
            self.jobs[name] = job
        refs_dir = Path(tempfile.mkdtemp(prefix="refs-"))
        for i, im in enumerate(images):
            im.convert("RGB").save(refs_dir / f"ref{i:02d}.png")
        threading.Thread(target=self._run, args=(job, refs_dir), name=f"adapt-{name}", daemon=True).start()
        return job

    def _run(self, job: StyleJob, refs_dir: Path) -> None:
        def progress(p: AdaptProgress) -> None:
            job.fraction = p.fraction
            job.message = f"step {p.step}, {p.elapsed:.0f} s"

        job.state = "running"
        try:
            adapt([refs_dir], photos=self.photos, base=self.base, out=job.path, progress=progress,
                  config=self.config, device=self.device)
            self.on_done(job.name, job.path)
            job.fraction, job.message, job.state = 1.0, "done", "done"
        except Exception as exc:  # reported to the user on the page; the server keeps running
            log.exception("style %s failed", job.name)
            job.error, job.state = str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "failed"
        finally:
            shutil.rmtree(refs_dir, ignore_errors=True)
