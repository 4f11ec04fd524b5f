#!/usr/bin/env bash
# CPU-scale selfVAE experiment (docs/selfvae.md, "CPU-scale experiments"): vae-small vs selfvae-downscale-small
# on CIFAR-10-partial at an equal budget of 1500 steps (batch 32), trained concurrently with one thread each on a
# 2-core CPU. Run from the repository root; the data root must hold CIFAR-10-partial.
set -euo pipefail
export INVRESTORE_DATA="${INVRESTORE_DATA:-/work/shared/data}"
BIN="${BIN:-.venv/bin/invrestore}"
PY="${PY:-.venv/bin/python}"
OUT="${OUT:-runs/selfvae_cpu}"
STEPS="${STEPS:-1500}"
K="${K:-64}"
mkdir -p "$OUT" docs/img
SET=(--set train.steps="$STEPS" --set train.val_every=750 --set train.ckpt_every=750 --no-progress)

# 1. training (both at once, one thread each)
OMP_NUM_THREADS=1 "$BIN" train configs/selfvae/cpu_vae.yaml --run-dir "$OUT/vae" "${SET[@]}" > "$OUT/vae.log" 2>&1 &
PID_VAE=$!
OMP_NUM_THREADS=1 "$BIN" train configs/selfvae/cpu_selfvae_downscale.yaml --run-dir "$OUT/svae" "${SET[@]}" \
    > "$OUT/svae.log" 2>&1 &
PID_SVAE=$!
wait "$PID_VAE" || { echo "vae training failed (see $OUT/vae.log)" >&2; exit 1; }
wait "$PID_SVAE" || { echo "selfvae training failed (see $OUT/svae.log)" >&2; exit 1; }

# 2. bpd on the official test split of CIFAR-10-partial (ELBO and IW with K samples). In the documented run the
#    vae-small evaluation started as soon as its training ended, beside the selfVAE's training; same commands.
for pair in "vae-small vae" "selfvae-downscale-small svae"; do
    set -- $pair
    OMP_NUM_THREADS=1 "$BIN" eval-bpd --model "$1" --weights "$OUT/$2/best" --dataset CIFAR-10-partial \
        --data-root "$INVRESTORE_DATA" --split test --iw-samples "$K" --seed 0 --json "$OUT/$2_bpd.json" &
done
wait

# 3. compression modes of selfvae-downscale-small (100 test images)
"$PY" benchmarks/selfvae_modes.py --weights "$OUT/svae/best" --limit 100 --out "$OUT/modes.md"

# 4. sample grids (mode G)
"$BIN" sample --model vae-small --weights "$OUT/vae/best" -n 16 -o docs/img/selfvae_vae_samples.png --seed 0
"$BIN" sample --model selfvae-downscale-small --weights "$OUT/svae/best" -n 16 \
    -o docs/img/selfvae_downscale_samples.png --seed 0
