"""Inference snapshots: ``config.json`` + ``model.safetensors``, rebuilt through the registry.

Separate from the training state on purpose: a snapshot is small, safe to load (no pickle) and holds
only what inference needs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..imageio import file_in_the_way, holds_working_folder
from .registry import GENERATORS

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
MAX_PARAMS = 200_000_000  # far above any generator here; a config asking for more is corrupt or hostile
MAX_ARG = 4096  # any size argument (channels, blocks): checked before the build, which loops over blocks


class SnapshotError(ValueError):
    """A snapshot folder is missing, incomplete or corrupt; the message names the file."""


SNAPSHOT_FILES = frozenset({CONFIG_NAME, WEIGHTS_NAME, "model.onnx"})
# generator settings whose default changed after snapshots were written without them: a missing one means
# the value those snapshots were trained with (light's strided convs were zero-padded until 2026-11-24)
LEGACY_ARGS: dict[str, dict[str, Any]] = {"light": {"down_pad": "zeros"}}


def check_snapshot_target(out_dir: Path) -> None:
    """Refuse a snapshot target that is a file or link, lies under a file, or is a folder holding anything
    but a snapshot's own files (config, weights, an exported ONNX graph)."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise FileExistsError(f"{out_dir}: is a {'link' if out_dir.is_symlink() else 'file'}, not a snapshot "
                              "folder; choose a new folder")
    if blocked := file_in_the_way(out_dir, out_dir.parent):
        raise NotADirectoryError(blocked)
    if holds_working_folder(out_dir):
        raise FileExistsError(f"{out_dir}: is the folder this runs in (or holds it); give a new folder's name, "
                              "e.g. ./my-model")
    if out_dir.is_dir():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in SNAPSHOT_FILES or not p.is_file())
        if foreign:
            raise FileExistsError(f"{out_dir}: holds files that are not a snapshot's ({', '.join(foreign[:3])}"
                                  f"{', …' if len(foreign) > 3 else ''}); it is never replaced, choose a new folder")


def save_generator(model: nn.Module, name: str, out_dir: str | os.PathLike,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write a snapshot folder atomically (build in a temp folder, then rename over the target). An existing
    target is replaced only when it holds nothing but a snapshot's own files: a user's files are never
    deleted with it."""
    out_dir = Path(os.path.normpath(Path(out_dir).expanduser()))  # "x/" and "a/../x": a name to write beside
    check_snapshot_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    config = getattr(model, "config", None)
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"{type(model).__name__} has no config dataclass: not a registry generator")
    meta = {
        "format_version": FORMAT_VERSION,
        "generator": name,
        "generator_args": dataclasses.asdict(config),
        **(extra or {}),
    }
    # a plain mkdir honours the umask (mkdtemp forces 0700), without touching the process-wide umask
    tmp = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME))
        (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2))  # honours the umask; safetensors wrote 0600
        os.chmod(tmp / WEIGHTS_NAME, (tmp / CONFIG_NAME).stat().st_mode & 0o777)
        if out_dir.exists():  # the old folder aside under a fresh name (a sibling of the user's is never touched)
            old = out_dir.with_name(f".{out_dir.name}.old.{secrets.token_hex(4)}")
            out_dir.rename(old)
            try:
                tmp.rename(out_dir)
            except BaseException:
                old.rename(out_dir)  # the old snapshot back under its name, not left hidden
                raise
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
    args = meta.get("generator_args", {})
    if isinstance(args, dict) and isinstance(meta["generator"], str):
        meta["generator_args"] = {**LEGACY_ARGS.get(meta["generator"], {}), **args}
    return meta


def load_generator(path: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a generator from a snapshot folder; returns (model in eval mode, config dict)."""
    path = Path(path)
    meta = read_snapshot_config(path)
    version = meta.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError(f"{path / CONFIG_NAME}: format_version must be a whole number, got {version!r}")
    if version > FORMAT_VERSION:
        raise SnapshotError(f"{path / CONFIG_NAME}: format_version {version} is newer than this artifygan "
                            f"reads ({FORMAT_VERSION}); upgrade artifygan")
    try:
        args = meta.get("generator_args", {})
        for k, v in (args.items() if isinstance(args, dict) else ()):
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_ARG:
                raise ValueError(f"generator_args.{k} = {v}: above {MAX_ARG}, the limit of any size argument")
        with torch.device("meta"):  # sizes first, without allocating: "ch": 1000000 must not exhaust memory
            shapes = GENERATORS.build(meta["generator"], args)
        n_params = sum(p.numel() for p in shapes.parameters())
        if n_params > MAX_PARAMS:
            raise ValueError(f"generator_args ask for {n_params:,} parameters (limit {MAX_PARAMS:,})")
        with torch.random.fork_rng(devices=[]):  # the random start is overwritten: the caller's RNG stays put
            model = GENERATORS.build(meta["generator"], args)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        why = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)  # KeyError quotes itself
        why = why.splitlines()[0] if why else repr(exc)
        if isinstance(exc, TypeError):  # e.g. "unhashable type: 'list'": say which settings it came from
            why = f"generator {meta.get('generator')!r} cannot be built from generator_args " \
                  f"{json.dumps(meta.get('generator_args'))[:120]} ({why})"
        raise SnapshotError(f"{path / CONFIG_NAME}: {why}") from None
    w = path / WEIGHTS_NAME
    if not w.is_file():
        raise SnapshotError(f"{w}: missing weights file")
    try:
        state = load_file(str(w), device="cpu")
        if bad := [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]:
            raise ValueError(f"{bad[0]} holds NaN or infinite values (a diverged run's snapshot?)")
        mine = model.state_dict()  # load_state_dict would cast integer weights to float without a word
        if bad := [k for k, v in state.items() if k in mine and v.is_floating_point() != mine[k].is_floating_point()]:
            raise ValueError(f"{bad[0]} is stored as {state[bad[0]].dtype}, not as {mine[bad[0]].dtype}")
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()][:2]  # torch's 2nd line names the key
        raise SnapshotError(f"{w}: corrupt or mismatched weights ({' '.join(lines)[:300]})") from None
    return model.to(device).eval(), meta


def resolve_snapshot(path: str | os.PathLike | None) -> Path:
    """A snapshot folder, a run folder (its newest snapshot), or None for the bundled default model (also the
    name ``default`` when no such folder exists: ``serve -m anime=default``, ``translate -m default``)."""
    if path is None or (str(path) == "default" and not Path("default").exists()):
        from ..pretrained import default_model

        path = default_model()
        if path is None:
            raise SnapshotError("no model given and no default model is bundled in this install: pass a "
                                "snapshot folder (e.g. runs/00000-x/snapshots/step_0001000) or a run folder")
    p = Path(path).expanduser()
    if (p / CONFIG_NAME).is_file():
        return p
    snaps = sorted((p / "snapshots").glob("step_*")) if p.is_dir() else []
    snaps = [s for s in snaps if (s / CONFIG_NAME).is_file()]
    if snaps:
        return snaps[-1]
    if not p.exists():
        raise SnapshotError(f"{p}: model path not found")
    raise SnapshotError(f"{p}: neither a snapshot folder ({CONFIG_NAME}) nor a run folder with snapshots")
