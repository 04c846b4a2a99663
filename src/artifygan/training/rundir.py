"""One numbered folder per run: resolved config, log, stats.jsonl, sample grids, snapshots, state."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from ..config import Config, dump_config, read_yaml_mapping
from ..imageio import atomic_write_bytes, existing_ancestor

CONFIG_FILE = "config.yaml"
STATE_FILE = "training_state.pt"


def check_run_target(root: str | Path, name: str) -> None:
    """Refuse, before any data loads, a run name that is a path (it would leave the run root, or need folders
    that do not exist) and a run root under a file: one clear line instead of an errno after setup."""
    if not name or any(c in name for c in ("/", "\\", "\0")):
        raise ValueError(f"--name {name!r}: a run folder's name, without / or \\ (e.g. my-run); "
                         "--run-root says where it goes")
    probe = existing_ancestor(root)
    if not probe.is_dir():
        raise ValueError(f"{root}: cannot hold run folders: {probe} is a file, not a folder; choose another --run-root")


def next_run_dir(root: str | Path, name: str) -> Path:
    """runs/00003-name: one more than the highest existing number, never reusing a folder."""
    check_run_target(root, name)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    nums = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"^(\d{5})-", p.name))]
    run = root / f"{max(nums, default=-1) + 1:05d}-{name}"
    run.mkdir()
    return run


def write_config(run_dir: Path, cfg: Config) -> list[str]:
    """Write the run's resolved config; returns what changed against the one there ("train.lr_d: 0.0002 →
    1e-06"), so a resume that changes settings says so in the run's log (config.yaml keeps only the last)."""
    path = run_dir / CONFIG_FILE
    old: dict[str, Any] = {}
    if path.is_file():  # a resume's (load_run_config has read it: a config.yaml that is not YAML stopped there)
        try:
            old = read_yaml_mapping(path)
        except (OSError, ValueError):
            old = {}
    text = dump_config(cfg)
    atomic_write_bytes(path, text.encode())
    return _changes(old, yaml.safe_load(text)) if old else []  # as written: tuples read back as YAML's lists


def _changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(set(old) | set(new), key=str)
                for c in _changes(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} → {new!r}"]


def attach_log_file(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "log.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("artifygan").addHandler(handler)
    logging.getLogger("artifygan").setLevel(logging.INFO)
    return handler


class StatsWriter:
    """Append-only stats.jsonl plus TensorBoard scalars (TensorBoard optional). ``resumed_at``: the step a
    resumed run starts from; rows logged after it (by a run stopped before it saved its state) are dropped,
    as they will be logged again."""

    def __init__(self, run_dir: Path, resumed_at: int | None = None) -> None:
        self.path = run_dir / "stats.jsonl"
        if resumed_at is not None and self.path.exists():
            rows = self.path.read_text().splitlines(keepends=True)
            kept = [r for r in rows if _row_step(r) <= resumed_at]
            if len(kept) < len(rows):
                atomic_write_bytes(self.path, "".join(kept).encode())
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resumed_at is None else resumed_at + 1  # TensorBoard's own drop of those rows
            self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        except Exception as exc:  # tensorboard not installed or broken: stats.jsonl still works
            logging.getLogger(__name__).warning("TensorBoard disabled: %s", exc)

    def write(self, step: int, stats: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **stats}) + "\n")
        if self.tb is not None:
            for k, v in stats.items():
                if isinstance(v, int | float):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _row_step(row: str) -> int:
    """A stats.jsonl row's step; a row that cannot be read counts as step 0 (kept as it is)."""
    try:
        return int(json.loads(row)["step"])
    except (ValueError, KeyError, TypeError):
        return 0
