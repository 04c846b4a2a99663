#!/bin/bash
# One prepared device call (the `device` tool; README "Training on a lent GPU machine"): the GPU figures
# of the GPU-speed issue, then a resumable training chunk whose snapshot and state come back in $OUT.
# Before the call, here:
#   python ../shared/tools/device_pack.py --out .device --size 256 --quality 80 --max-mib 50 --limit 2600 \
#       photos=data/s2a_256/train/photos cartoons=data/s2a_256/train/cartoons
#   mkdir -p carry && cp ~/.cache/artifygan/weights/inception-2015-12-05-mixed_2.safetensors carry/inception-mixed_2.safetensors
# The call: run(command="bash benchmarks/gpu_session.sh", carry=[".device", "carry"], timeout_s=560).
# Timings of the 2026-11-26 H200 call: start ~1 min, each bench 20-40 s, compile warm-up ~30 s.
# Knobs (also for a CPU dry run: DEV=cpu BK=torch SIZE=64 BATCH=4 WORKERS=1 TL=0.3):
#   DEV BK SIZE BATCH TL WORKERS INIT COMPILE T_* (per-step time limits, seconds) NORESUME (skip the resume check)
#   TRAIN_BATCHES (the train-step rows, default "$BATCH 128"), ADAPT_LOSSES (default "gram match");
#   PARTS tokens heuristic and profile add the train part's two slower rows (in the default PARTS)
#   RECIPE (the training chunk's config) EXTRA (more dotted overrides for it, space-separated, none with a
#   space inside). For issue 13 the 2026-11-26
#   CPU runs suggest RECIPE=configs/selfie2anime_light.yaml (the default's recipe, a norm after every conv:
#   the norm-free fast generator drifted into blotches once its photo anchors were dropped; docs/default-model-experiments.md) with
#   EXTRA='data.smoothed=[]' (edge smoothing on the fly: the prepared smoothed/ folder is not carried),
#   plus loss.surface=1.0 for the surface discriminator from the first adversarial step (fine-tunes of the
#   default against fresh discriminators failed four ways: docs/default-model-experiments.md). CPU dry run of exactly that
#   (2026-11-26, SIZE=64 INIT=5 COMPILE=false): train, resume and the split state (26 MB, 2 parts) all work.
#   RESUME: a carried run folder holding just config.yaml + training_state.pt, continued here at SIZE with
#   the carried data instead of a run from scratch, e.g. the 128² CPU run of the default's recipe with the
#   surface D (runs/00010-light-surface-scratch, 2026-11-26):
#     mkdir -p carry/resume && cp runs/00010-*/{config.yaml,training_state.pt} carry/resume/
#   with a smaller pack so that both fit in a call (--max-mib 30 --limit 1500), RESUME=carry/resume and
#   EXTRA='data.smoothed=[]' (nothing else: the run keeps its own recipe). CPU dry run of that branch
#   (2026-11-26, SIZE=64 BATCH=4, the run's step-2006 state): resumed, trained, resumed again, state split.
# Device time is 15 minutes a session now: one call of this script (~8 minutes) is the plan.
# Lessons of the 2026-11-27 H100 call: a `timeout` whose output went through a pipe hung the call for its
# whole limit (compile workers outlived the killed process and held the pipe open), so every step now writes
# its own log file and `timeout -k` ends it; the device's OpenCV 5 has no cascade classifier (adapt then uses
# the references whole); `adapt -q` with a short timeout left no step count: it now has room to finish.
# Lessons of the second 2026-11-27 H100 call: a compiled train-step bench needs ~55 s at batch 64 and ~85 s
# at 128 on a cold machine (T_TB=55/60 killed both; give T_TB=100); adapt gram took 26 s; the chunk spent 160 s
# compiling (YuNet's graph broke at each Resize; fixed since) and then trained at ~285 img/s, 200 steps in
# TL=4: for a chunk worth scoring give it TL>=6 in a call of its own.
# Lessons of the third 2026-11-27 H100 call (that chunk at batch 64, 7 minutes): 164 s to step 20 and 44 s
# at the phase switch even with the YuNet fix, then 4.6 steps/s; its step 979 was a toned photo (KID 21.5),
# where the same recipe on the CPU at batch 8 was at step 1,000 too: the recipe learns per step, not per
# image (docs/default-model-experiments.md), so the next chunk runs batch 16 for ~4x the steps (step rate at 16 unmeasured).
# PARTS picks what runs (default: all of inference train heuristic profile adapt chunk). The inference,
# train-step and adapt figures are measured (README "Performance"), so the next lent GPU (15 minutes) is
# one chunk call (carry=[".device", "carry"], timeout_s=590; carry/ holds the YuNet ONNX for loss.face):
#   PARTS="chunk" TL=7 T_TRAIN=520 NORESUME=1 BATCH=16 INIT=200 NSNAP=6 RECIPE=configs/selfie2anime_light.yaml
#   EXTRA='data.smoothed=[] loss.surface=1.0 loss.content=2.0 loss.content_from={} loss.style=100
#   loss.color=2.0 loss.tv=0.2 model.discriminator_args={"base_ch":16,"norm":"none","spectral_norm":true}
#   data.photo_smoothing={"d":7,"sigma_color":25,"sigma_space":6} data.photo_skin={} loss.crack_negatives=1.0
#   loss.face=0.5 train.adv_steps=8000
#   train.snapshot_every=500'
# (Compile cache, 2026-11-28: that chunk brings back compile-cache.gz.part-*; put it together as
# carry/compile-cache.bin, `cat compile-cache.gz.part-* | gunzip > carry/compile-cache.bin`, and the next
# chunk of the same recipe, batch and size loads it before its first step: compare its time_s at step 20
# in stats.jsonl with the 164 s of 2026-11-27. Only the same torch and GPU model hit it.)
# (crack_negatives and photo_skin, 2026-11-29: the recipe without them, run on to step 6,389 on the CPU, drew
# the default's cracks again by KID 10 (docs/default-model-experiments.md); judge the chunk's faces on Haar, as loss.face trains on YuNet.)
# (INIT 200: the recipe's 400 steps of 8 as steps of 16; snapshot_every 500 so that the 6 snapshots back
# span the run; the third call's chunk, of the lessons above, ran this with BATCH=64 INIT=60 adv_steps=4000)
# (loss.face 0.5, not 1.0: on the CPU 1.0 took KID to 12.7 within 250 steps at 256² and 0.5 held it near
# 7.5 at 128², while 256² alone won Haar faces back (75% to 84-90%); docs/default-model-experiments.md "A face-structure loss")
# (adv_steps: the recipe's 20 epochs are 3,200 steps of 16 here, which 7 minutes may pass; NORESUME: the
# resume of a GPU chunk was checked on 2026-11-26/27 and costs a minute of compiling)
# (content held at 2.0 with the AnimeGAN extras: the CPU branches of 2026-11-27 in docs/default-model-experiments.md; dropping
# content to 1.0 at the switch lost faces, 84% to 55%; the bilateral filter of the photos is the shipped
# default's input smoothing, which lowered KID in training too: docs/default-model-experiments.md): a chunk of the issue-13 run that comes back
# resumable, with its last 6 snapshots to evaluate on the CPU.
# Why those numbers: the recipe counts steps at batch 8; at batch 64 a step is 8 images of it, so its
# 400 initialisation steps become ~60 (the default's whole budget, 44,000 images at 128², is ~700 steps
# of 64 here). The 16-channel D without a norm: the layer-normed one's compiled bench did not finish in
# 80 s on the H100, and at equal budget the 16-channel D cost nothing measurable (MODEL_CARD); on the CPU
# (2026-11-27, 128², batch 8) this recipe ran 2.6x faster than with the layer-normed D and was ahead at
# equal steps (step 2000: KID 16.0 against 18.9; docs/default-model-experiments.md).
# EXTRA is split on spaces: JSON-style values, no spaces inside.
# The face-structure loss (2026-11-27 CPU runs, docs/default-model-experiments.md "A face-structure loss"): add loss.face=1.0 (and
# perhaps loss.content=1.0) to EXTRA after `cp ../shared/models/face_detection_yunet_2026may.onnx carry/`;
# judge that run on evaluate's Haar column, since it trains on YuNet's own features.
set -x
DEV=${DEV:-cuda}; BK=${BK:-cuda}; SIZE=${SIZE:-256}; BATCH=${BATCH:-64}; TL=${TL:-2.5}; WORKERS=${WORKERS:-12}
COMPILE=${COMPILE:-true}; RECIPE=${RECIPE:-configs/selfie2anime_fast.yaml}; EXTRA=${EXTRA:-}
PARTS=${PARTS:-inference train heuristic profile adapt chunk}
OUT=${OUT:-/tmp/devout}; LOGS=/root/logs; mkdir -p "$OUT" "$LOGS" /root/data
[ -d .device/pack-1 ] && cp -r .device/pack-1/. /root/data/
export PYTHONPATH=$PWD/src ARTIFYGAN_INCEPTION_CONTENT=$PWD/carry/inception-mixed_2.safetensors PYTHONUNBUFFERED=1
A="python3 -m artifygan"
[ -f carry/face_detection_yunet_2026may.onnx ] && export ARTIFYGAN_YUNET=$PWD/carry/face_detection_yunet_2026may.onnx
nvidia-smi -L; python3 -c "import torch; print(torch.__version__)"
# step NAME SECONDS CMD...: its output to $LOGS/NAME.log (never a pipe), the tail to bench.txt and stdout
step() {
  local name=$1 limit=$2 t0; shift 2; t0=$(date +%s)
  timeout -k 5 "$limit" "$@" > "$LOGS/$name.log" 2>&1
  echo "== $name: rc $?, $(( $(date +%s) - t0 )) s" >> "$OUT/bench.txt"
  grep -v -e Warning -e warn "$LOGS/$name.log" | tail -n "${TAIL:-8}" >> "$OUT/bench.txt"
  tail -n 12 "$OUT/bench.txt"
}
has() { [[ " $PARTS " == *" $1 "* ]]; }
D16="model.discriminator_args={base_ch: 16, norm: none, spectral_norm: true}"  # the fast recipe's D
# 1. inference through the Cartoonizer (forward_bytes), eager and compiled, each batch on its own row
if has inference; then
  for b in "$BATCH" 128; do
    step "infer-b$b" "${T_INF:-45}" $A bench --models fast,light --sizes "$SIZE" --batches "$b" --backends "$BK" --seconds 1
  done
  step infer-compiled "${T_INFC:-70}" $A bench --models fast --sizes "$SIZE" --batches "$BATCH" --backends "$BK" \
    --seconds 1 --compile
fi
# 2. full training step, compiled, the D without a norm (the fast recipe's): at BATCH and 128, then without
# cuDNN's per-shape timing (train.cudnn_benchmark, on by default since 2026-11-27) to see what it bought.
# Since 2026-11-27 the bench times whole 10-step windows with one host sync each (as a run that logs every
# 10+ steps), not every step, and the optimizers are fused on CUDA: the 1,195 img/s of the H100 was per step
if has train; then
  for b in ${TRAIN_BATCHES:-$BATCH 128}; do
    step "train-step-b$b" "${T_TB:-100}" $A bench --train --no-inference --models fast --train-size "$SIZE" \
      --train-batch "$b" --train-devices "$DEV" "$D16" train.compile=true
  done
fi
if has heuristic; then
  step "train-step-b$BATCH-heuristic" "${T_TB:-100}" $A bench --train --no-inference --models fast \
    --train-size "$SIZE" --train-batch "$BATCH" --train-devices "$DEV" "$D16" train.compile=true \
    train.cudnn_benchmark=false
fi
if has profile; then  # where the step's GPU time goes, by operator (eager: readable names), back in bench.txt
  TAIL=52 step profile "${T_PROF:-100}" python3 benchmarks/profile_step.py --device "$DEV" --size "$SIZE" \
    --batch "$BATCH" --rows 35 "$D16"
fi
# 3. adapt (issue 14: default settings <= 30 s on an H100), the whole CLI call timed by `step`, each style
# loss; the adapted snapshots come back for scoring on the CPU. Carry 5 references in carry/refs:
#   mkdir -p carry/refs && cp $(ls -d ../shared/data/styles/bitmoji/* | head -5) carry/refs/
if has adapt && [ -d carry/refs ]; then
  for loss in ${ADAPT_LOSSES:-gram match}; do
    step "adapt-$loss" "${T_AD:-190}" $A adapt carry/refs/* -o "/root/adapt_$loss" --style-loss $loss --device "$DEV" -q
  done
  tar czf "$OUT/adapt.tgz" -C /root $(cd /root && ls -d adapt_* 2>/dev/null)
fi
# 4. a training chunk (from scratch, or RESUME continued at SIZE), then a resume of it (state read on the CPU)
if has chunk; then
  ONDEV=(data.size="$SIZE" train.batch_size="$BATCH" data.num_workers="$WORKERS" "data.photos=[/root/data/photos]"
    "data.cartoons=[/root/data/cartoons]" train.sample_every=200 train.snapshot_every=200 train.checkpoint_every=100
    train.log_every=20 train.compile="$COMPILE" train.device="$DEV")
  TAIL=20
  # torch.compile's portable cache: carried in as carry/compile-cache.bin when an earlier call brought one
  # back (same torch, Triton and GPU: else it is not hit and everything compiles as before), rewritten here
  CC=(); if [ "$COMPILE" = true ]; then
    [ -f carry/compile-cache.bin ] && cp carry/compile-cache.bin /root/compile-cache.bin
    CC=(--compile-cache /root/compile-cache.bin)
  fi
  if [ -n "${RESUME:-}" ]; then
    mkdir -p /root/runs/00000-gpu && cp "$RESUME"/config.yaml "$RESUME"/training_state.pt /root/runs/00000-gpu/
    # adv_steps: the run's epochs counted at the larger batch could end it at once; the time limit ends it
    step train "${T_TRAIN:-200}" $A train --resume /root/runs/00000-gpu "${ONDEV[@]}" train.adv_steps=1000000 $EXTRA \
      --time-limit "$TL" --no-progress "${CC[@]}"
  else
    step train "${T_TRAIN:-200}" $A train -c "$RECIPE" "${ONDEV[@]}" train.init_steps="${INIT:-300}" \
      $EXTRA --run-root /root/runs --name gpu --time-limit "$TL" --no-progress "${CC[@]}"
  fi
  RUN=$(ls -d /root/runs/*gpu* | tail -1)
  TAIL=4
  # the resume check, in an empty Inductor cache folder: what a fresh machine given only the carried cache
  # file spends before its steps (compare its first stats.jsonl rows with the chunk's)
  [ -n "${NORESUME:-}" ] || TORCHINDUCTOR_CACHE_DIR=/root/inductor-fresh step resume "${T_RES:-60}" \
    $A train --resume "$RUN" --time-limit "${TL_RES:-0.25}" --no-progress "${CC[@]}"
  tar czf "$OUT/run.tgz" -C "$RUN" stats.jsonl $(cd "$RUN" && ls -d snapshots/step_* | tail -"${NSNAP:-2}") \
    $(cd "$RUN" && ls -d samples/* 2>/dev/null | tail -2)
  split -b 15m "$RUN/training_state.pt" "$OUT/state.part-"  # files back are at most 16 MiB each
  [ -f /root/compile-cache.bin ] && gzip -c /root/compile-cache.bin | split -b 15m - "$OUT/compile-cache.gz.part-"
fi
tar czf "$OUT/logs.tgz" -C "$LOGS" .
ls -la "$OUT"
