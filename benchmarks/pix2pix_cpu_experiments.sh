#!/usr/bin/env bash
# "Rethinking generative restoration" at CPU scale (issue: generative restoration): three experiments, each at one
# budget for all its arms, with reduced widths (the paper's 54M/17M-parameter generators are a GPU job).
#   1. Information-loss probe (Table III protocol): each generator trained as an autoencoder on clean images,
#      reconstruction PSNR/SSIM. Arms: En/Dec-8, UNet-8, UNet-5, InfoAccum-15+UNet-5, +SubPix (ngf = $NGF).
#   2. UNet depth sweep on synthetic deraining (pix2pix GAN, λ_L1 100, 128² crops): depth 4..7, $DEPTH_STEPS each.
#   3. UNet-5 vs +InfoAccum vs +SubPix vs +LSGAN on synthetic deraining (64² crops), $STEPS each.
# The 13 arms run as a queue of $JOBS one-thread jobs (longest first). Every arm is a resumable training run: run the
# script again after an interruption and finished arms are skipped, unfinished ones resume from their last checkpoint.
# Results: $OUT/probe_*.json, $OUT/<arm>/metrics.jsonl, logs in $OUT/logs; tables: $OUT/tables.md
# (benchmarks/pix2pix_table.py); plots (matplotlib): $PLOTS (default $OUT/plots; the docs use PLOTS=docs/img).
#
#   bash benchmarks/pix2pix_cpu_experiments.sh                                   # the documented run
#   PROBE_STEPS=2 STEPS=2 DEPTH_STEPS=2 LIMIT=2 OUT=/tmp/p2p bash benchmarks/pix2pix_cpu_experiments.sh   # a smoke test
set -euo pipefail
export INVRESTORE_DATA="${INVRESTORE_DATA:-../shared/data}"
INV="${INV:-.venv/bin/invrestore}"
OUT="${OUT:-runs/pix2pix_cpu}"
NGF="${NGF:-16}"
PROBE_STEPS="${PROBE_STEPS:-500}"
STEPS="${STEPS:-800}"
DEPTH_STEPS="${DEPTH_STEPS:-400}"
LIMIT="${LIMIT:-0}"
JOBS="${JOBS:-2}"
export OMP_NUM_THREADS=1
mkdir -p "$OUT/logs"

# 1. probe: 256² crops of BSDS200 (all generators, also the 8-level ones, fit), scored on Set14 full images
probe() {
  [ -f "$OUT/probe_$1.json" ] && return 0
  "$INV" probe --model "$1" --set "ngf=$NGF" --dataset BSDS200 --eval-dataset Set14 --limit "$LIMIT" \
    --steps "$PROBE_STEPS" --crop 256 --json "$OUT/probe_$1.json"
}
# 2. + 3. GAN training on synthetic rain (BSDS200 crops), validated once at the end on the 14 Set14 images
gan() {  # gan ARM STEPS CONFIG [--set ...]
  local arm="$1" steps="$2" cfg="$3"
  shift 3
  "$INV" train "$cfg" --run-dir "$OUT/$arm" --set "generator.ngf=$NGF" --set "train.steps=$steps" \
    --set "train.val_every=$steps" --set "train.ckpt_every=100" --set data.val_set=Set14 \
    --set "data.val_limit=$LIMIT" --no-progress "$@"
}
P=configs/pix2pix/cpu_derain_unet5.yaml
ARMS=(  # longest first
  "gan unet5_ia_subpix_lsgan $STEPS configs/pix2pix/cpu_derain_final.yaml"
  "gan unet5_ia_subpix $STEPS $P --set generator.info_accum_layers=15 --set generator.subpix_top=true"
  "gan unet5_ia $STEPS $P --set generator.info_accum_layers=15"
  "probe pix2pix-unet-5-ia15-subpix"
  "probe pix2pix-unet-5-ia15"
  "gan depth7 $DEPTH_STEPS $P --set generator.depth=7 --set crop_size=128"
  "gan depth6 $DEPTH_STEPS $P --set generator.depth=6 --set crop_size=128"
  "gan depth5 $DEPTH_STEPS $P --set generator.depth=5 --set crop_size=128"
  "gan depth4 $DEPTH_STEPS $P --set generator.depth=4 --set crop_size=128"
  "probe pix2pix-encdec-8"
  "probe pix2pix-unet-8"
  "probe pix2pix-unet-5"
  "gan unet5 $STEPS $P"
)
for arm in "${ARMS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  name=$(echo "$arm" | cut -d' ' -f2)
  echo "$(date +%T) start $name"
  ( $arm > "$OUT/logs/$name.log" 2>&1 || echo "$name" >> "$OUT/failed" ) &
done
wait
if [ -s "$OUT/failed" ]; then
  echo "failed arms (see $OUT/logs): $(tr '\n' ' ' < "$OUT/failed")" >&2
  rm -f "$OUT/failed"
  exit 1
fi
"${PYTHON:-.venv/bin/python}" benchmarks/pix2pix_table.py "$OUT" "${PLOTS:-$OUT/plots}" | tee "$OUT/tables.md"
