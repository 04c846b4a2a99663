"""Inference snapshots: ``config.json`` + ``model.safetensors``, rebuilt through the registry.

Separate from the training state on purpose: a snapshot is small, safe to load (no pickle) and holds
only what inference needs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import nn

from .registry import GENERATORS

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


class SnapshotError(ValueError):
    """A snapshot folder is missing, incomplete or corrupt; the message names the file."""


def save_generator(model: nn.Module, name: str, out_dir: str | os.PathLike,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write a snapshot folder atomically (build in a temp folder, then rename over the target)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "generator": name,
        "generator_args": dataclasses.asdict(model.config),
        **(extra or {}),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME))
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2))
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def read_snapshot_config(path: str | os.PathLike) -> dict[str, Any]:
    cfg_path = Path(path) / CONFIG_NAME
    if not cfg_path.is_file():
        raise SnapshotError(f"{cfg_path}: missing (not an ArtifyGAN snapshot folder)")
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{cfg_path}: corrupt JSON ({exc})") from None
    if not isinstance(meta, dict) or "generator" not in meta:
        raise SnapshotError(f"{cfg_path}: no 'generator' entry")
    return meta


def load_generator(path: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a generator from a snapshot folder; returns (model in eval mode, config dict)."""
    path = Path(path)
    meta = read_snapshot_config(path)
    try:
        model = GENERATORS.build(meta["generator"], meta.get("generator_args", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"{path / CONFIG_NAME}: {exc}") from None
    w = path / WEIGHTS_NAME
    if not w.is_file():
        raise SnapshotError(f"{w}: missing weights file")
    try:
        state = load_file(str(w), device="cpu")
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise SnapshotError(f"{w}: corrupt or mismatched weights ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval(), meta
