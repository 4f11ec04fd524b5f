#!/usr/bin/env bash
# "Rethinking generative restoration" at CPU scale (issue: generative restoration): three experiments, each at one
# budget for all its arms, with reduced widths (the paper's 54M/17M-parameter generators are a GPU job).
#   1. Information-loss probe (Table III protocol): each generator trained as an autoencoder on clean images,
#      reconstruction PSNR/SSIM. Arms: En/Dec-8, UNet-8, UNet-5, InfoAccum-15+UNet-5, +SubPix (ngf = $NGF).
#   2. UNet depth sweep on synthetic deraining (pix2pix GAN, λ_L1 100): depth 4..7.
#   3. UNet-5 vs +InfoAccum vs +SubPix vs +LSGAN on synthetic deraining.
# Results: $OUT/probe_*.json, $OUT/<arm>/metrics.jsonl; table: $OUT/tables.md (benchmarks/pix2pix_table.py).
#
#   bash benchmarks/pix2pix_cpu_experiments.sh                                   # the documented run
#   PROBE_STEPS=2 STEPS=2 LIMIT=2 OUT=/tmp/p2p bash benchmarks/pix2pix_cpu_experiments.sh   # a smoke test
set -euo pipefail
export INVRESTORE_DATA="${INVRESTORE_DATA:-../shared/data}"
INV="${INV:-.venv/bin/invrestore}"
OUT="${OUT:-runs/pix2pix_cpu}"
NGF="${NGF:-16}"
PROBE_STEPS="${PROBE_STEPS:-500}"
STEPS="${STEPS:-2000}"
LIMIT="${LIMIT:-0}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
mkdir -p "$OUT"

# 1. probe: 256² crops of BSDS200 (all generators, also the 8-level ones, fit), scored on Set14 full images
for m in pix2pix-encdec-8 pix2pix-unet-8 pix2pix-unet-5 pix2pix-unet-5-ia15 pix2pix-unet-5-ia15-subpix; do
  "$INV" probe --model "$m" --set "ngf=$NGF" --dataset BSDS200 --eval-dataset Set14 --limit "$LIMIT" \
    --steps "$PROBE_STEPS" --crop 256 --json "$OUT/probe_$m.json"
done

# 2. + 3. GAN training on synthetic rain (BSDS200 crops), validated once at the end on the 14 Set14 images
COMMON=(--set "generator.ngf=$NGF" --set "train.steps=$STEPS" --set "train.val_every=$STEPS"
        --set "train.ckpt_every=$STEPS" --set data.val_set=Set14 --set "data.val_limit=$LIMIT" --no-progress)
for d in 4 5 6 7; do
  "$INV" train configs/pix2pix/cpu_derain_unet5.yaml --run-dir "$OUT/depth$d" "${COMMON[@]}" \
    --set "generator.depth=$d" --set crop_size=128
done
"$INV" train configs/pix2pix/cpu_derain_unet5.yaml --run-dir "$OUT/unet5" "${COMMON[@]}"
"$INV" train configs/pix2pix/cpu_derain_unet5.yaml --run-dir "$OUT/unet5_ia" "${COMMON[@]}" \
  --set generator.info_accum_layers=15
"$INV" train configs/pix2pix/cpu_derain_unet5.yaml --run-dir "$OUT/unet5_ia_subpix" "${COMMON[@]}" \
  --set generator.info_accum_layers=15 --set generator.subpix_top=true
"$INV" train configs/pix2pix/cpu_derain_final.yaml --run-dir "$OUT/unet5_ia_subpix_lsgan" "${COMMON[@]}"
"${PYTHON:-.venv/bin/python}" benchmarks/pix2pix_table.py "$OUT" | tee "$OUT/tables.md"
