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
#   DEV BK SIZE BATCH TL WORKERS INIT COMPILE T_* (per-step time limits, seconds)
#   RECIPE (the training chunk's config) EXTRA (more dotted overrides for it, space-separated, none with a
#   space inside). For issue 13 the 2026-11-26
#   CPU runs suggest RECIPE=configs/selfie2anime_light.yaml (the default's recipe, a norm after every conv:
#   the norm-free fast generator drifted into blotches once its photo anchors were dropped; MODEL_CARD) with
#   EXTRA='data.smoothed=[]' (edge smoothing on the fly: the prepared smoothed/ folder is not carried),
#   plus loss.surface=1.0 for the surface discriminator from the first adversarial step (fine-tunes of the
#   default against fresh discriminators failed four ways: MODEL_CARD). CPU dry run of exactly that
#   (2026-11-26, SIZE=64 INIT=5 COMPILE=false): train, resume and the split state (26 MB, 2 parts) all work.
#   RESUME: a carried run folder holding just config.yaml + training_state.pt, continued here at SIZE with
#   the carried data instead of a run from scratch, e.g. the 128² CPU run of the default's recipe with the
#   surface D (runs/00010-light-surface-scratch, 2026-11-26):
#     mkdir -p carry/resume && cp runs/00010-*/{config.yaml,training_state.pt} carry/resume/
#   with a smaller pack so that both fit in a call (--max-mib 30 --limit 1500), RESUME=carry/resume and
#   EXTRA='data.smoothed=[]' (nothing else: the run keeps its own recipe). CPU dry run of that branch
#   (2026-11-26, SIZE=64 BATCH=4, the run's step-2006 state): resumed, trained, resumed again, state split.
# Device time is 15 minutes a session now: one call of this script (~8 minutes) is the plan.
set -x
DEV=${DEV:-cuda}; BK=${BK:-cuda}; SIZE=${SIZE:-256}; BATCH=${BATCH:-64}; TL=${TL:-2.5}; WORKERS=${WORKERS:-12}
COMPILE=${COMPILE:-true}; RECIPE=${RECIPE:-configs/selfie2anime_fast.yaml}; EXTRA=${EXTRA:-}
OUT=${OUT:-/tmp/devout}; mkdir -p "$OUT" /root/data
[ -d .device/pack-1 ] && cp -r .device/pack-1/. /root/data/
export PYTHONPATH=$PWD/src ARTIFYGAN_INCEPTION_CONTENT=$PWD/carry/inception-mixed_2.safetensors PYTHONUNBUFFERED=1
A="python3 -m artifygan"
nvidia-smi -L; python3 -c "import torch; print(torch.__version__)"
D16='model.discriminator_args={base_ch: 16, norm: layer, spectral_norm: true}'
D16N='model.discriminator_args={base_ch: 16, norm: none, spectral_norm: true}'
# 1. inference through the Cartoonizer (forward_bytes), eager and compiled
timeout "${T_INF:-60}" $A bench --models fast,light --sizes "$SIZE" --batches "$BATCH",128 --backends "$BK" --seconds 1 2>&1 | tee "$OUT/bench.txt"
timeout "${T_INFC:-70}" $A bench --models fast --sizes "$SIZE" --batches "$BATCH" --backends "$BK" --seconds 1 --compile 2>&1 | grep -v Warning | tee -a "$OUT/bench.txt"
# 2. full training step, compiled: the fast recipe's D (layer norm), then the same D without a norm
for d in "$D16" "$D16N"; do
  echo "training step with $d" | tee -a "$OUT/bench.txt"
  timeout "${T_TB:-80}" $A bench --train --no-inference --models fast --train-size "$SIZE" --train-batch "$BATCH" \
    --train-devices "$DEV" "$d" train.compile=true 2>&1 | grep -v Warning | tail -3 | tee -a "$OUT/bench.txt"
done
# 3. a training chunk (from scratch, or RESUME continued at SIZE), then a resume of it (state read on the CPU)
ONDEV=(data.size="$SIZE" train.batch_size="$BATCH" data.num_workers="$WORKERS" "data.photos=[/root/data/photos]"
  "data.cartoons=[/root/data/cartoons]" train.sample_every=200 train.snapshot_every=200 train.checkpoint_every=100
  train.log_every=20 train.compile="$COMPILE" train.device="$DEV")
if [ -n "${RESUME:-}" ]; then
  mkdir -p /root/runs/00000-gpu && cp "$RESUME"/config.yaml "$RESUME"/training_state.pt /root/runs/00000-gpu/
  # adv_steps: the run's epochs counted at the larger batch could end it at once; the time limit ends it
  timeout "${T_TRAIN:-200}" $A train --resume /root/runs/00000-gpu "${ONDEV[@]}" train.adv_steps=1000000 $EXTRA \
    --time-limit "$TL" --no-progress 2>&1 | tail -20 | tee "$OUT/train.txt"
else
  timeout "${T_TRAIN:-200}" $A train -c "$RECIPE" "${ONDEV[@]}" train.init_steps="${INIT:-300}" \
    $EXTRA --run-root /root/runs --name gpu --time-limit "$TL" --no-progress 2>&1 | tail -20 | tee "$OUT/train.txt"
fi
RUN=$(ls -d /root/runs/*gpu* | tail -1)
timeout "${T_RES:-60}" $A train --resume "$RUN" --time-limit 0.25 --no-progress 2>&1 | tail -4 | tee -a "$OUT/train.txt"
tar czf "$OUT/run.tgz" -C "$RUN" stats.jsonl $(cd "$RUN" && ls -d snapshots/step_* | tail -2) \
  $(cd "$RUN" && ls -d samples/* 2>/dev/null | tail -2)
split -b 15m "$RUN/training_state.pt" "$OUT/state.part-"  # files back are at most 16 MiB each
cat "$OUT/bench.txt"; ls -la "$OUT"
