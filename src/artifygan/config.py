"""Training configuration: small typed dataclasses, loaded from YAML, overridden with dotted keys.

Why not one big options object: each part of the system reads only its own section (data, model,
loss, train), and the resolved config is written into every run folder so a run can be rebuilt.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class DataConfig:
    photos: list[str] = field(default_factory=lambda: ["data/photos"])
    cartoons: list[str] = field(default_factory=lambda: ["data/cartoons"])
    # Edge-smoothed cartoons (same file names as cartoons); empty → smoothed on the fly.
    smoothed: list[str] = field(default_factory=list)
    size: int = 256  # training crop size
    # short side each picture is resized to before the crop (None: `size`, so a crop is nearly the whole
    # picture). size 128 with resize 256: crops of about half a face at the scale of use (256²), so the
    # discriminator sees strokes as they show in use, for a quarter of a 256² step's compute
    resize: int | None = None
    hflip: bool = True
    num_workers: int = 2  # loader processes; they live for the whole run
    # where edge-smoothed negatives are made when `smoothed` is empty: auto (on a GPU when training on
    # one, else in the loader) | loader | device
    smoothing: str = "auto"
    # edge-preserving filter of every photo crop before the generator, e.g. {d: 7, sigma_color: 25,
    # sigma_space: 6} (input_smoothing.InputSmoothing); snapshots record it and inference applies it
    photo_smoothing: dict[str, Any] | None = None
    # the skin step after it (skin_smoothing.SkinSmoothing fields; {} for its defaults), so a model learns on
    # what the shipped inference gives it; needs photo_smoothing; snapshots record it as preprocess.skin. It
    # finds the skin from the crop's centre: with `resize` (crops of parts of faces) it may not find it
    photo_skin: dict[str, Any] | None = None


@dataclass
class ModelConfig:
    generator: str = "light"  # registry name: light | cartoongan
    generator_args: dict[str, Any] = field(default_factory=dict)  # fields of that generator's config
    discriminator: str = "patch"
    discriminator_args: dict[str, Any] = field(default_factory=dict)
    content: str = "inception"  # vgg19 | inception
    content_args: dict[str, Any] = field(default_factory=dict)
    # a snapshot (folder) whose outputs the generator learns from (loss.teacher, loss.teacher_adv):
    # distillation of a trained model into a faster generator; the snapshot's recorded postprocess
    # (stroke cleanup) is applied to its outputs, so the student learns the cleaned look directly
    teacher: str | None = None
    # replaces the teacher snapshot's own postprocess, e.g. {clean_strokes: {k: 5, smooth_r: 0}}; {} = none
    teacher_postprocess: dict[str, Any] | None = None
    # the teacher run as a test-time ensemble (inference.tta: off | x2 | x4): a single-pass student of the
    # ensemble, whose gains then cost no inference time
    teacher_tta: str = "off"
    # a snapshot whose generator weights a new run starts from (fine-tuning, e.g. the bundled default
    # with a new loss); its generator and generator_args must be this run's. D starts fresh.
    init: str | None = None
    # YuNet ONNX file for loss.face (None: $ARTIFYGAN_YUNET, else its upstream URL + the download cache)
    face_detector: str | None = None


GAN_TYPES = ("bce", "lsgan", "hinge")  # loss.gan (losses.py)
CRACK_SHAPES = ("strokes", "tone")  # loss.crack_shape: the lines of the crack negatives (training.cracks)


@dataclass
class LossConfig:
    gan: str = "lsgan"  # bce | lsgan | hinge
    content: float = 10.0  # CartoonGAN's omega
    # step → content weight from that step on, e.g. {2500: 1.0}: the default was trained at 2.0 and then 1.0
    # (a high weight first builds structure; a lower one lets the style win later)
    content_from: dict[int, float] = field(default_factory=dict)
    adversarial: float = 1.0
    edge_promoting: bool = True  # smoothed cartoons are negatives for D
    edge_weight: float = 1.0  # weight of the smoothed-cartoon term in D's loss
    # cartoons with thin dark strokes drawn on their flat regions as further negatives for D, at this weight
    # (training.cracks; 0 = off): D learns to refuse strokes across flat skin, not contour lines
    crack_negatives: float = 0.0
    crack_shape: str = "strokes"  # the negatives' lines: random curves, or tone borders of their shading
    style: float = 0.0  # AnimeGAN-style grayscale Gram loss
    color: float = 0.0  # YUV colour loss against the photo
    tv: float = 0.0  # total variation
    flat_skin: float = 0.0  # output ≈ its own guided-filter smoothing where the photo is flat (no strokes)
    strokes: float = 0.0  # thin dark strokes on flat skin (output below its closing): only those, not texture
    # L1 between the output and the output of the photo's mirror image shifted by 2 px, mapped back: what
    # the x2 test-time ensemble (inference.tta) averages away, taught to the single pass instead
    equivariance: float = 0.0
    # White-box surface GAN: a second discriminator on guided-filter-smoothed images (training.side_gans)
    surface: float = 0.0
    # skin GAN: a second discriminator on small patches from inside the skin only (training.side_gans)
    skin: float = 0.0
    # White-box structure term: the output's content features against those of its own superpixel-
    # flattened copy (artifygan.superpixels; seeds every structure_cell pixels): flat regions, kept edges
    structure: float = 0.0
    structure_cell: int = 16
    # face structure: L1 between a face detector's (YuNet's) features of the photo and of the output, both
    # phases (models.face_structure): holds eyes, nose and mouth where the Inception content loss is blind
    face: float = 0.0
    teacher: float = 0.0  # initialisation phase: L1 to the teacher snapshot's output (model.teacher)
    # adversarial phase: the same L1, as an anchor that keeps the student near a working mapping while D
    # sharpens it (a norm-free student against a fresh D drifted to dark outputs without it)
    teacher_adv: float = 0.0
    teacher_adv_fraction: float = 1.0  # share of each batch the anchor is computed on (the teacher's cost)

    def content_at(self, step: int) -> float:
        """The content weight at a training step: ``content``, then the latest ``content_from`` entry reached
        (keys may arrive as strings from JSON)."""
        weight = self.content
        for start, value in sorted((int(k), float(v)) for k, v in self.content_from.items()):
            if start <= step:
                weight = value
        return weight

    def teacher_weight(self, adversarial: bool) -> float:
        """The teacher L1's weight in a phase: distillation (initialisation) or anchor (adversarial)."""
        return self.teacher_adv if adversarial else self.teacher


@dataclass
class TrainConfig:
    batch_size: int = 8  # per process and micro-step
    grad_accum: int = 1  # micro-batches per optimizer step (effective batch = batch_size × grad_accum × world)
    init_steps: int | None = None  # content-only initialisation; None → init_epochs
    init_epochs: float = 1.0
    adv_steps: int | None = None  # adversarial phase; None → epochs
    d_warmup_steps: int = 0  # first steps of the adversarial phase train only D (fine-tunes: fresh D, trained G)
    epochs: float = 10.0
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_init: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    ema_decay: float = 0.999
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16 | fp16
    channels_last: bool | None = None  # None: on CUDA when the generator prefers it
    compile: bool = False  # torch.compile (default mode) for G, D and the content network
    # CUDA: cuDNN times its algorithms once per conv shape (training shapes are fixed); false: its
    # heuristic pick (a reproducible algorithm choice)
    cudnn_benchmark: bool = True
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    sample_every: int = 200
    snapshot_every: int = 1000
    checkpoint_every: int = 200
    n_samples: int = 8


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(obj: Any) -> Any:
    """Tuples → lists so YAML/JSON dumps stay plain."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a YAML/CLI value to the annotated field type, with an error naming the key."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if tp is Any:
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, list | tuple):
            value = [value]
        return [_coerce(v, args[0], key) for v in value]
    if origin is tuple:
        if isinstance(value, str):
            value = value.split(",")
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]: any length
            return tuple(_coerce(v, args[0], key) for v in (value if isinstance(value, list | tuple) else [value]))
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ValueError(f"{key}: expected {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{key}: expected a mapping, got {value!r}")
        if len(args) != 2:
            return dict(value)
        # keys and values to their types: YAML's 2500 and an override's "2500" are one entry, not two
        return {_coerce(k, args[0], f"{key}.{k}"): _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, str):
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{key}: expected a boolean, got {value!r}")
        if not isinstance(value, bool):  # train.compile=2 was bool(2): on, without a word
            raise ValueError(f"{key}: expected a boolean, got {value!r}")
        return value
    if tp is str and isinstance(value, bool):  # YAML 1.1 reads off/on as booleans; a word field wants the word
        return "on" if value else "off"
    if tp in (int, float, str):
        try:
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            if tp in (int, float) and isinstance(value, bool):  # train.batch_size=true trained at batch 1
                raise ValueError
            return tp(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: expected {tp.__name__}, got {value!r}") from None
    return value


def _apply(obj: Any, data: dict[str, Any], prefix: str = "") -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise KeyError(f"unknown config key {full!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"{full}: expected a section mapping")
            _apply(current, value, full + ".")
        else:
            setattr(obj, key, _coerce(value, hints[key], full))


def parse_override(item: str) -> tuple[list[str], Any]:
    """'train.lr_g=1e-4' → (['train', 'lr_g'], 1e-4); values parsed as YAML scalars."""
    if "=" not in item:
        raise ValueError(f"override {item!r} must look like section.key=value")
    key, raw = item.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw != "" else ""


_Settings = typing.TypeVar("_Settings")


def apply_overrides(cfg: _Settings, overrides: list[str]) -> _Settings:
    """Apply dotted overrides to a config dataclass (the training Config, or any other such as the few-shot
    AdaptConfig), each value coerced to its field's type; dict-valued fields accept deeper keys
    (model.generator_args.n_blocks=4)."""
    for item in overrides:
        parts, value = parse_override(item)
        nested: Any = value
        # Build {'a': {'b': value}} and apply, letting dict fields absorb extra depth.
        obj: Any = cfg
        depth = 0
        while depth < len(parts) - 1 and dataclasses.is_dataclass(getattr(obj, parts[depth], None)):
            obj = getattr(obj, parts[depth])
            depth += 1
        rest = parts[depth:]
        if len(rest) > 1:
            target = getattr(obj, rest[0], None)
            if not isinstance(target, dict):
                raise KeyError(f"unknown config key {'.'.join(parts)!r}")
            d = target
            for p in rest[1:-1]:
                d = d.setdefault(p, {})
            d[rest[-1]] = nested
            # and the field coerced again: a typed mapping (content_from: dict[int, float]) takes "2500" as
            # the YAML's 2500, one entry with the override's value, not two
            _apply(obj, {rest[0]: target}, ".".join(parts[:depth]) + ("." if depth else ""))
        else:
            _apply(obj, {rest[0]: nested}, ".".join(parts[:depth]) + ("." if depth else ""))
    return cfg


def _check_models(cfg: Config) -> None:
    """Build the generator and discriminator on the meta device and run a picture of data.size through them
    (no memory, no time): arguments of the wrong kind or size (``ch=8.0``, ``base_ch=0``) are one line naming
    them now, not a traceback at the first step, after the run folder was made."""
    import torch

    from .models import DISCRIMINATORS, GENERATORS

    size = cfg.data.size
    for registry, name, args, key in ((GENERATORS, cfg.model.generator, cfg.model.generator_args, "generator"),
                                      (DISCRIMINATORS, cfg.model.discriminator, cfg.model.discriminator_args,
                                       "discriminator")):
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "initializing zero-element tensors is a no-op"
                registry.build(name, args)(torch.zeros(1, 3, size, size))
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            why = (str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)).strip().splitlines()
            raise ValueError(f"model.{key}_args {args}: {why[0] if why else type(exc).__name__}") from None


def validate_config(cfg: Config) -> None:
    """Reject values that would crash deep inside training (ZeroDivisionError, empty runs) with a clear line."""
    from .inference.tta import TTA  # the ensembles model.teacher_tta may name

    t, d = cfg.train, cfg.data
    checks = [
        (t.batch_size >= 1, f"train.batch_size={t.batch_size}: must be at least 1"),
        (t.grad_accum >= 1, f"train.grad_accum={t.grad_accum}: must be at least 1"),
        (d.size >= 32, f"data.size={d.size}: must be at least 32"),
        (d.resize is None or d.resize >= d.size,
         f"data.resize={d.resize}: must be at least data.size ({d.size}), or unset"),
        (d.num_workers >= 0, f"data.num_workers={d.num_workers}: must be 0 or more"),
        (min(t.lr_g, t.lr_d, t.lr_init) > 0 and all(map(math.isfinite, (t.lr_g, t.lr_d, t.lr_init))),
         "train.lr_g, lr_d and lr_init must be positive and finite"),  # inf trained on, every loss NaN
        (cfg.loss.face >= 0, f"loss.face={cfg.loss.face}: must be 0 or more"),
        (cfg.loss.crack_negatives >= 0, f"loss.crack_negatives={cfg.loss.crack_negatives}: must be 0 or more"),
        (cfg.loss.equivariance >= 0, f"loss.equivariance={cfg.loss.equivariance}: must be 0 or more"),
        (cfg.loss.gan in GAN_TYPES, f"loss.gan={cfg.loss.gan!r}: must be one of {', '.join(GAN_TYPES)}"),
        (cfg.loss.crack_shape in CRACK_SHAPES,
         f"loss.crack_shape={cfg.loss.crack_shape!r}: must be one of {', '.join(CRACK_SHAPES)}"),
        (cfg.model.teacher_tta in TTA,
         f"model.teacher_tta={cfg.model.teacher_tta!r}: must be one of {', '.join(TTA)}"),
        (cfg.model.teacher_tta == "off" or bool(cfg.model.teacher),
         "model.teacher_tta: needs model.teacher"),
        (cfg.loss.structure_cell >= 2, f"loss.structure_cell={cfg.loss.structure_cell}: must be at least 2"),
        (0 < cfg.loss.teacher_adv_fraction <= 1, "loss.teacher_adv_fraction must be in (0, 1]"),
        (all(str(k).isdigit() for k in cfg.loss.content_from),
         f"loss.content_from={cfg.loss.content_from}: keys must be step numbers (0 or more)"),
        (0.0 <= t.ema_decay < 1.0, f"train.ema_decay={t.ema_decay}: must be in [0, 1)"),
        (t.init_epochs >= 0 and t.epochs >= 0 and math.isfinite(t.init_epochs) and math.isfinite(t.epochs),
         "train.init_epochs and train.epochs must be finite, 0 or more (for a run bounded by time: a large "
         "train.epochs with --time-limit)"),
        ((t.init_steps or 0) >= 0 and (t.adv_steps or 0) >= 0, "train.init_steps/adv_steps must be 0 or more"),
        (min(t.log_every, t.sample_every, t.snapshot_every, t.checkpoint_every) >= 1,
         "train.log_every, sample_every, snapshot_every and checkpoint_every must be at least 1"),
        (t.n_samples >= 1, f"train.n_samples={t.n_samples}: must be at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    _check_models(cfg)
    for f in dataclasses.fields(cfg.loss):  # a weight of nan trained with that term silently at 0
        v = getattr(cfg.loss, f.name)
        if isinstance(v, int | float) and not isinstance(v, bool) and not (math.isfinite(v) and v >= 0):
            raise ValueError(f"loss.{f.name}={v}: must be a finite number, 0 or more")
    for k, v in cfg.loss.content_from.items():
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            raise ValueError(f"loss.content_from[{k}]={v}: must be a finite number, 0 or more")
    if d.photo_smoothing is not None:
        from .input_smoothing import InputSmoothing

        try:
            InputSmoothing.from_dict(d.photo_smoothing)
        except ValueError as exc:
            raise ValueError(f"data.photo_smoothing: {exc}") from None
    if d.photo_skin is not None:
        from .skin_smoothing import SkinSmoothing

        if d.photo_smoothing is None and not cfg.model.teacher:  # a teacher may record one (training/setup.py)
            raise ValueError("data.photo_skin: runs after the bilateral filter, so it needs data.photo_smoothing")
        try:
            SkinSmoothing.from_dict(d.photo_skin)
        except ValueError as exc:
            raise ValueError(f"data.photo_skin: {exc}") from None


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A config file's mapping; a file that is not YAML, or not a mapping, is one line naming it and where."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: config must be a YAML mapping")
    return data


def config_from_dict(data: dict[str, Any] | None) -> Config:
    cfg = Config()
    _apply(cfg, data or {})
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults ← YAML file ← dotted overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: config file not found")
        data = read_yaml_mapping(path)
    cfg = config_from_dict(data)
    return apply_overrides(cfg, overrides or [])


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
