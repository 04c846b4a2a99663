"""The training loop: one plain function, two phases (content-only initialisation → adversarial).

Reading order: set-up (process group, run folder, data, models, optimizers, resume), then the step
loop, then the periodic side effects (stats, samples, snapshots, training state).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..cartoon_losses import clean_strokes, postprocess_settings
from ..config import Config, config_from_dict, validate_config
from ..data.dataset import EpochStream, UnpairedImages
from ..data.smoothing import edge_smooth_batch
from ..device import adam, to_memory_format
from ..imageio import save_image, tensor_to_pil
from ..inference.tta import ensemble, shifted_mirror
from ..losses import d_fake_loss, discriminator_loss, generator_loss
from ..models import CONTENT_NETWORKS, DISCRIMINATORS, GENERATORS, load_generator, save_generator
from ..models.face_structure import face_features
from ..models.snapshot import resolve_snapshot
from . import ddp
from .checkpoint import (
    load_state,
    microbatch_seed,
    restore,
    rng_state,
    save_state,
    set_lr_betas,
    set_rng_state,
    warm_start,
)
from .compile_cache import load_compile_cache, may_replace_cache, save_compile_cache
from .cracks import crack
from .rundir import CONFIG_FILE, STATE_FILE, StatsWriter, attach_log_file, next_run_dir, write_config
from .setup import (
    StopOnSignal,
    configure_backends,
    loader_options,
    memory_format,
    peak_memory_gb,
    photo_steps,
    recorded_preprocess,
    resolve_precision,
    smoothing_on_device,
)
from .side_gans import side_gans

log = logging.getLogger("artifygan.train")


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """One fused multi-tensor update (a kernel per parameter was a host-bound tail on GPUs)."""
    torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()], 1.0 - decay)
    eb, mb = list(ema.buffers()), list(model.buffers())
    if eb:
        torch._foreach_copy_(eb, mb)


def phase_steps(explicit: int | None, epochs: float, steps_per_epoch: int) -> int:
    return explicit if explicit is not None else round(epochs * steps_per_epoch)


@torch.inference_mode()
def sample_grid(g: nn.Module, photos: torch.Tensor) -> torch.Tensor:
    """Rows of (photo | output) stacked vertically, as one (3, H, W) tensor."""
    out = g(photos)
    rows = [torch.cat([p, o], dim=2) for p, o in zip(photos, out, strict=True)]
    return torch.cat(rows, dim=1)


def load_run_config(run_dir: Path, overrides: list[str] | None = None) -> Config:
    """The config a run was started with (for --resume), optionally overridden (e.g. more steps)."""
    from ..config import apply_overrides, read_yaml_mapping

    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a run folder (no {CONFIG_FILE})")
    return apply_overrides(config_from_dict(read_yaml_mapping(path)), overrides or [])


def train(cfg: Config, *, run_root: str | Path = "runs", resume: str | Path | None = None,
          name: str | None = None, stop_at_step: int | None = None, time_limit_s: float | None = None,
          progress: bool = True, compile_cache: str | Path | None = None) -> Path:
    """Train (or resume) one run; returns its run folder.

    ``stop_at_step`` / ``time_limit_s`` end this invocation early with a saved state, so long runs can
    be done in chunks (``--resume`` continues them exactly). ``compile_cache``: a file of compiled
    graphs (``train.compile``) loaded before the first step when it exists, and rewritten at the end.
    """
    validate_config(cfg)
    t_cfg = cfg.train
    cleanup = contextlib.ExitStack()  # whatever happens: signal handlers, log file, process group
    with cleanup:
        info = ddp.setup(t_cfg.device)
        cleanup.callback(ddp.teardown)
        dev = info.device
        configure_backends(t_cfg.cudnn_benchmark, dev)
        torch.manual_seed(t_cfg.seed)

        # ---- data: endless (epoch, index) stream, one loader whose workers live for the whole run ----
        smoothing, skin = photo_steps(cfg.data.photo_smoothing, cfg.data.photo_skin, cfg.model.teacher)
        dataset = UnpairedImages(cfg.data.photos, cfg.data.cartoons, cfg.data.smoothed or None,
                                 cfg.data.size, cfg.data.hflip, t_cfg.seed, smoothing, cfg.data.resize, skin)
        dataset.smooth_on_device = smoothing_on_device(cfg.data.smoothing, dev)
        preprocess = recorded_preprocess(cfg.data, smoothing, skin)
        bs, accum = t_cfg.batch_size, t_cfg.grad_accum
        per_rank = -(-len(dataset) // info.world)
        steps_per_epoch = per_rank // (bs * accum)
        if steps_per_epoch == 0:
            raise ValueError(f"dataset has {len(dataset)} items: fewer than one batch of {bs} × {accum} "
                             f"(train.batch_size × train.grad_accum) per process")
        init_steps = phase_steps(t_cfg.init_steps, t_cfg.init_epochs, steps_per_epoch)
        total_steps = init_steps + phase_steps(t_cfg.adv_steps, t_cfg.epochs, steps_per_epoch)
        if total_steps == 0:  # before any run folder: it was left with no snapshot and no state
            raise ValueError(f"this run has no steps ({len(dataset)} items, {steps_per_epoch} step(s) an epoch): "
                             "give train.epochs / init_epochs or train.adv_steps / init_steps")

        # ---- models and optimizers ----
        G = GENERATORS.build(cfg.model.generator, cfg.model.generator_args)
        if cfg.model.init and resume is None:
            warm_start(G, cfg.model.init, cfg.model.generator, cfg.model.generator_args)
        G = G.to(dev)
        D = DISCRIMINATORS.build(cfg.model.discriminator, cfg.model.discriminator_args).to(dev)
        content = CONTENT_NETWORKS.build(cfg.model.content, cfg.model.content_args).to(dev)
        teacher, teacher_cleanup = None, None
        if cfg.model.teacher:
            if cfg.loss.teacher <= 0 and cfg.loss.teacher_adv <= 0:
                raise ValueError("model.teacher is set but loss.teacher and loss.teacher_adv are 0: "
                                 "give the distillation a weight")
            teacher, t_meta = load_generator(resolve_snapshot(cfg.model.teacher), device=str(dev))
            teacher.requires_grad_(False)
            if cfg.model.teacher_postprocess is not None:
                t_meta = {"postprocess": cfg.model.teacher_postprocess}
            teacher_cleanup = postprocess_settings(t_meta)
        g_stride, t_stride = int(getattr(G, "stride", 4)), int(getattr(teacher, "stride", 4))  # shifted copies
        if cfg.data.size % getattr(G, "stride", 1):
            raise ValueError(f"data.size={cfg.data.size}: must be a multiple of the generator's stride {G.stride}")
        fmt = memory_format(t_cfg.channels_last, dev, G)
        G, D, content = (to_memory_format(m, fmt) for m in (G, D, content))
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        opt_g = adam(G.parameters(), t_cfg.lr_g, t_cfg.betas, dev)
        opt_d = adam(D.parameters(), t_cfg.lr_d, t_cfg.betas, dev)
        sides = side_gans(cfg, dev, fmt, info.distributed)
        face_fwd = face_features(cfg.loss.face, cfg.model.face_detector, dev, fmt, t_cfg.compile)
        discriminators = (D, *(s.D for s in sides))  # frozen while G steps
        amp_dtype = resolve_precision(t_cfg.precision, dev)
        scaler = torch.amp.GradScaler(dev.type, enabled=amp_dtype == torch.float16)
        step = 0
        if resume is not None:
            # Always onto the CPU first: the RNG state must stay a CPU ByteTensor; load_state_dict
            # moves weights and optimizer moments to wherever the parameters live.
            state = load_state(Path(resume) / STATE_FILE, map_location="cpu")
            restore(Path(resume) / STATE_FILE, state,
                    {"G": G, "D": D, "G_ema": G_ema, "opt_g": opt_g, "opt_d": opt_d, "scaler": scaler})
            set_rng_state(state["rng"])
            for side in sides:
                if not side.load_state_dict(state):
                    log.info("loss.%s: the state has no %s discriminator; it starts fresh", side.name, side.name)
            step = int(state["step"])
            del state
            set_lr_betas([(opt_g, None), (opt_d, t_cfg.lr_d), *((s.opt, t_cfg.lr_d) for s in sides)], t_cfg.betas)
        G_train = DDP(G, device_ids=[dev.index] if dev.type == "cuda" else None) if info.distributed else G
        D_train = DDP(D, device_ids=[dev.index] if dev.type == "cuda" else None) if info.distributed else D
        G_fwd: Callable[..., torch.Tensor] = G_train
        D_fwd: Callable[..., torch.Tensor] = D_train
        D_plain: Callable[..., torch.Tensor] = D
        content_fwd: Callable[..., torch.Tensor] = content
        teacher_fwd: Callable[..., torch.Tensor] | None = teacher
        if t_cfg.compile:  # default mode: max-autotune tuned for more than 6 minutes on an H100
            G_fwd, D_fwd, content_fwd = torch.compile(G_train), torch.compile(D_train), torch.compile(content)
            D_plain = D_fwd if not info.distributed else torch.compile(D)
            # the light teacher (a norm after every conv) ran at 764 img/s eager on an H200, 2,220 compiled
            teacher_fwd = torch.compile(teacher) if teacher is not None else None

        # a stop signal from here on ends the run after its first step with a state to resume: caught only at
        # the loop, one during the sample decoding or the workers' start left a run folder with no state. Not
        # under torchrun: a rank that held its SIGTERM would wait in the run folder's broadcast for a dead peer
        stop_signal = None if info.distributed else StopOnSignal()
        if stop_signal is not None:
            cleanup.callback(stop_signal.restore)
        # ---- run folder: only now, so a run that fails to start leaves nothing behind ----
        run_dir: Path | None = None
        if info.is_main:
            run_dir = Path(resume) if resume is not None else next_run_dir(
                run_root, name or f"{cfg.model.generator}-{cfg.data.size}")
            changed = write_config(run_dir, cfg)
        run_dir = Path(ddp.broadcast_object(str(run_dir), info))
        stats_writer: StatsWriter | None = None
        if info.is_main:
            handler = attach_log_file(run_dir)
            cleanup.callback(_detach_log, handler)
            stats_writer = StatsWriter(run_dir, step if resume is not None else None)
            cleanup.callback(stats_writer.close)
            if resume is not None:
                log.info("resumed %s at step %d%s", run_dir, step, "".join(f"; {c}" for c in changed))
        # after the log file is attached (so the run's log.txt records it), before the first compiled call
        cache_replaceable = True  # a file at --compile-cache that is not a readable cache is never written over
        if compile_cache is not None and t_cfg.compile:
            cache_replaceable = load_compile_cache(compile_cache) > 0 or may_replace_cache(compile_cache)
        elif compile_cache is not None:
            log.warning("compile cache %s ignored: train.compile is off", compile_cache)

        def autocast():
            if amp_dtype is None:
                return contextlib.nullcontext()
            return torch.autocast(dev.type, dtype=amp_dtype)

        def to_dev(x: torch.Tensor) -> torch.Tensor:
            """uint8 batch → [-1, 1] floats on the device, in the models' memory format."""
            x = x.to(dev, non_blocking=True).float().div_(127.5).sub_(1.0)
            return x.contiguous(memory_format=fmt)

        def save_training_state() -> None:
            save_state(run_dir / STATE_FILE, {
                "step": step, "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "scaler": scaler.state_dict(),
                "rng": rng_state(), "config": cfg.to_dict(), **{k: v for s in sides for k, v in s.state_dict().items()},
            })

        n_samples = min(t_cfg.n_samples, len(dataset))
        sample_photos = to_dev(torch.stack([dataset[(0, i)]["photo"] for i in range(n_samples)]))
        stream = EpochStream(len(dataset), info.rank, info.world, seed=t_cfg.seed, start=step * bs * accum)
        batches = iter(DataLoader(dataset, batch_size=bs, sampler=stream, drop_last=True,
                                  **loader_options(cfg.data.num_workers, dev)))
        # its workers ignore SIGTERM (setup.ignore_stop_signals), so Python's exit could not end them after an
        # error: the run hung after printing it. Shut them down on every way out.
        cleanup.callback(getattr(batches, "_shutdown_workers", lambda: None))
        if info.is_main:
            log.info("run %s: %d photos, %d cartoons, %d steps/epoch/process, init %d + adversarial %d steps, "
                     "world %d on %s, precision %s, batch %d × accum %d, %s, compile %s, smoothing on %s",
                     run_dir, len(dataset.photos), len(dataset.cartoons), steps_per_epoch, init_steps,
                     total_steps - init_steps, info.world, dev, amp_dtype or "fp32", bs, accum,
                     "channels_last" if fmt == torch.channels_last else "NCHW", t_cfg.compile,
                     "device" if dataset.smooth_on_device else "data loader")

        # ---- the loop ----
        if stop_signal is None:
            stop_signal = StopOnSignal()
            cleanup.callback(stop_signal.restore)
        bar = tqdm(total=total_steps, initial=step, disable=not (progress and info.is_main), dynamic_ncols=True)
        cleanup.callback(bar.close)
        t_start = time.monotonic()
        t_log, step_log = time.monotonic(), step
        acc: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}  # steps each loss was summed over (the D and adversarial ones not in init)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        while step < total_steps and (stop_at_step is None or step < stop_at_step):
            init_phase = step < init_steps
            # train.d_warmup_steps: fresh discriminators first learn the current outputs (a fine-tune from
            # model.init); G stays as it is until they can tell it something
            g_step = init_phase or step >= init_steps + t_cfg.d_warmup_steps
            micro = []
            for _ in range(accum):
                batch = next(batches)
                cartoon = batch["cartoon"].to(dev, non_blocking=True)
                smooth = batch["smooth"].to(dev, non_blocking=True) if "smooth" in batch else edge_smooth_batch(cartoon)
                micro.append((to_dev(batch["photo"]), to_dev(cartoon), to_dev(smooth)))
            stats: dict[str, torch.Tensor] = {}
            kept_fake: torch.Tensor | None = None

            if not init_phase:
                # -- discriminator: real cartoons vs G(photo) and (edge-promoting) smoothed cartoons --
                opt_d.zero_grad(set_to_none=True)
                for side in sides:
                    side.opt.zero_grad(set_to_none=True)
                for i, (photo, cartoon, smooth) in enumerate(micro):
                    if accum == 1 and g_step:  # one G forward serves both steps: D sees it detached, G reuses it
                        with autocast():
                            kept_fake = fake = G_fwd(photo)
                    else:  # micro-batches: G's graphs would all stay alive until its step; recompute there
                        with torch.no_grad(), autocast():
                            fake = G_fwd(photo)
                    parts = [cartoon, fake.detach()] + ([smooth] if cfg.loss.edge_promoting else [])
                    seed = microbatch_seed(t_cfg.seed, step, i, info.rank, info.world, accum)  # per step, rank
                    if cfg.loss.crack_negatives > 0:
                        parts.append(crack(cartoon, torch.Generator().manual_seed(seed), cfg.loss.crack_shape))
                    with _no_sync(D_train, i < accum - 1):
                        with autocast():
                            logits = D_fwd(torch.cat(parts)).float().chunk(len(parts))
                            loss_d = cfg.loss.adversarial * discriminator_loss(
                                logits[0], logits[1], logits[2] if cfg.loss.edge_promoting else None,
                                cfg.loss.gan, cfg.loss.edge_weight)
                            if cfg.loss.crack_negatives > 0:
                                loss_d = loss_d + cfg.loss.adversarial * cfg.loss.crack_negatives * d_fake_loss(
                                    logits[-1], cfg.loss.gan)
                            for side in sides:
                                loss_d = loss_d + side.d_loss(cartoon, fake, photo, seed)
                        scaler.scale(loss_d / accum).backward()
                    stats["loss_d"] = stats.get("loss_d", 0) + loss_d.detach() / accum
                scaler.step(opt_d)
                for side in sides:
                    scaler.step(side.opt)

            # -- generator: content (both phases) + adversarial and extras (adversarial phase) --
            if g_step:
                for group in opt_g.param_groups:
                    group["lr"] = t_cfg.lr_init if init_phase else t_cfg.lr_g
                loss_cfg = dataclasses.replace(cfg.loss, content=cfg.loss.content_at(step))
                opt_g.zero_grad(set_to_none=True)
                for d in discriminators:
                    d.requires_grad_(False)
                for i, (photo, cartoon, _smooth) in enumerate(micro):
                    with _no_sync(G_train, i < accum - 1):
                        with autocast():
                            fake = kept_fake if kept_fake is not None else G_fwd(photo)
                            kept_fake = None
                            d_fake = None if init_phase else D_plain(fake).float()  # no DDP hooks: D is frozen
                            seed = microbatch_seed(t_cfg.seed, step, i, info.rank, info.world, accum)
                            d_side = None if init_phase else {s.name: s.logits(fake, photo, seed) for s in sides}
                            t_out = None
                            if teacher_fwd is not None and cfg.loss.teacher_weight(adversarial=not init_phase) > 0:
                                with torch.no_grad():  # the adversarial anchor may use part of the batch (cost)
                                    n_t = teacher_images(photo.shape[0], cfg.loss, init_phase)
                                    photo_t = photo[:n_t]
                                    t_out = ensemble(teacher_fwd, photo_t, cfg.model.teacher_tta, t_stride)
                                    if teacher_cleanup is not None:
                                        t_out = clean_strokes(t_out.float(), photo_t.float(), teacher_cleanup)
                            twin = shifted_mirror(G_fwd, photo, g_stride) if cfg.loss.equivariance > 0 else None
                            g_losses = generator_loss(loss_cfg, content_fwd, photo, fake.float(), d_fake, cartoon,
                                                      t_out, d_side, face_fwd, twin)
                        scaler.scale(g_losses.total / accum).backward()
                    for k, v in g_losses.parts.items():
                        stats[f"loss_g_{k}"] = stats.get(f"loss_g_{k}", 0) + v / accum
                    stats["loss_g"] = stats.get("loss_g", 0) + g_losses.total.detach() / accum
                for d in discriminators:
                    d.requires_grad_(True)
                scaler.step(opt_g)
                update_ema(G_ema, G, min(t_cfg.ema_decay, (1 + step) / (10 + step)))
            scaler.update()
            for k, v in stats.items():
                acc[k] = acc.get(k, torch.zeros((), device=dev)) + v.float()
                counts[k] = counts.get(k, 0) + 1
            step += 1
            bar.update(1)

            # -- periodic side effects --
            last = step >= total_steps
            timed_out = time_limit_s is not None and time.monotonic() - t_start > time_limit_s
            local_stop = timed_out or stop_signal.is_set()
            if info.distributed:  # the ranks agree (a collective: a GPU sync) at log steps only, not every step;
                # a rank that stopped alone would leave the others waiting in the next gradient all-reduce
                stop = ddp.any_rank(local_stop, info) if step % t_cfg.log_every == 0 or last else False
            else:
                stop = local_stop
            stop = stop or (stop_at_step is not None and step >= stop_at_step)
            log_step = step % t_cfg.log_every == 0 or last or stop  # a stopped run logs its last steps too
            if log_step and acc:
                keys = sorted(acc)
                means = ddp.mean_over_ranks(torch.stack([acc[k] / counts[k] for k in keys]), info).tolist()
                now = time.monotonic()
                row = dict(zip(keys, means, strict=True))
                row["img_per_s"] = (step - step_log) * bs * accum * info.world / max(now - t_log, 1e-9)
                row["phase"] = "init" if init_phase else "adversarial" if g_step else "d_warmup"
                row["epoch"] = step // steps_per_epoch
                row["time_s"] = now - t_start
                row["peak_mem_gb"] = peak_memory_gb(dev)
                t_log, step_log, acc, counts = now, step, {}, {}
                if stats_writer is not None:
                    stats_writer.write(step, row)
                    bar.set_postfix({k.removeprefix("loss_"): f"{row[k]:.3f}" for k in keys} |
                                    {"img/s": f"{row['img_per_s']:.1f}"})
            if info.is_main and (step % t_cfg.sample_every == 0 or last):
                save_image(tensor_to_pil(sample_grid(G_ema, sample_photos).float()),
                           run_dir / "samples" / f"step_{step:07d}.png")
            if info.is_main and (step % t_cfg.snapshot_every == 0 or last or stop):
                save_generator(G_ema, cfg.model.generator, run_dir / "snapshots" / f"step_{step:07d}",
                               {"size": cfg.data.size, "step": step, "run": run_dir.name,
                                "preprocess": preprocess})
            if info.is_main and (step % t_cfg.checkpoint_every == 0 or last or stop):
                save_training_state()
            if stop:
                break

        if info.is_main:
            log.info("stopped at step %d of %d; run folder %s", step, total_steps, run_dir)
            if t_cfg.compile and compile_cache is not None:
                save_compile_cache(compile_cache, replace=cache_replaceable)
        if info.distributed:
            torch.distributed.barrier()
    return run_dir


def teacher_images(batch: int, loss: Any, init_phase: bool = False) -> int:
    """Images of a batch the teacher sees: all in the initialisation; in the adversarial phase's anchor a
    share (a teacher forward per image is what it costs; an L1 mean over a quarter estimates the same)."""
    return batch if init_phase else max(1, min(batch, round(batch * loss.teacher_adv_fraction)))


def _no_sync(model: nn.Module, skip: bool):
    """DDP: no gradient all-reduce on the micro-batches before the last one."""
    return model.no_sync() if skip and isinstance(model, DDP) else contextlib.nullcontext()


def _detach_log(handler: logging.Handler) -> None:
    logging.getLogger("artifygan").removeHandler(handler)
    handler.close()
