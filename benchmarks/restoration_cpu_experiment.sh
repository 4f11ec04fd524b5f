#!/usr/bin/env bash
# IRAE vs DnCNN for σ = 25 denoising at an equal CPU budget (issue: IRAE and its baselines).
# Same data (64² crops of T91 + BSDS200), batch, steps, loss (L1), optimiser and seed for both; each model trains
# on one CPU thread at the same time. A third arm, DnCNN with the original residual learning (the IRAE repo's DnCNN
# outputs the image directly), runs niced beside them. Then all are scored on the same seeded noisy copies of
# CBSD68, Kodak24 and McMaster (RGB PSNR/SSIM) and the table is written to $OUT/table.md.
#
#   bash benchmarks/restoration_cpu_experiment.sh          # the documented run
#   STEPS=2 LIMIT=1 OUT=/tmp/smoke bash benchmarks/restoration_cpu_experiment.sh   # a smoke test
set -euo pipefail
export INVRESTORE_DATA="${INVRESTORE_DATA:-../shared/data}"
STEPS="${STEPS:-1200}"
LIMIT="${LIMIT:-0}"
OUT="${OUT:-runs/restoration_cpu}"
INV="${INV:-.venv/bin/invrestore}"
SET=(--set "train.steps=$STEPS" --no-progress)
mkdir -p "$OUT"
OMP_NUM_THREADS=1 "$INV" train configs/irae/cpu_denoise25.yaml --run-dir "$OUT/irae" "${SET[@]}" &
OMP_NUM_THREADS=1 "$INV" train configs/baselines/cpu_dncnn_denoise25.yaml --run-dir "$OUT/dncnn" "${SET[@]}" &
# the original DnCNN's residual learning (y − net(y)); the IRAE repo's DnCNN outputs the image directly. Niced: it
# takes what CPU the two main arms leave.
OMP_NUM_THREADS=1 nice -n 19 "$INV" train configs/baselines/cpu_dncnn_denoise25.yaml --run-dir "$OUT/dncnn_residual" \
  "${SET[@]}" --set model.residual=true &
wait
for run in irae:irae dncnn:dncnn dncnn_residual:dncnn; do
  "$INV" eval --model "${run#*:}" --weights "$OUT/${run%%:*}/last" --task denoise --sigma 25 --limit "$LIMIT" \
    --dataset CBSD68 --dataset Kodak24 --dataset McMaster --json "$OUT/${run%%:*}_eval.json"
done
"${PYTHON:-.venv/bin/python}" benchmarks/restoration_table.py "$OUT" irae dncnn dncnn_residual | tee "$OUT/table.md"
