#!/usr/bin/env bash
# ILC vs its Ballé-2017 teacher at CPU scale, at two rate points (issue: learned compression).
# For each λ in $LAMBDAS (the spec's q1 and q4 starting values), in parallel, one thread each:
#   1. train the teacher bls2017-128 (configs/ilc/cpu_teacher_small.yaml) for $TEACHER_STEPS steps;
#   2. finalize it (fit the quantiles, build the coding tables);
#   3. train ilc-small (configs/ilc/cpu_ilc_small.yaml) distilled from that teacher for $ILC_STEPS steps, same
#      data, crops, batch, optimiser and schedule; finalize it.
# Then `invrestore bench rd` codes Kodak24 with all four codecs (real files, real bpp) beside JPEG and WebP and
# benchmarks/compression_table.py writes $OUT/table.md (with ILC − teacher at equal real bpp).
# The finalized weights: $OUT/teacher_<q>/bls2017-128-<q>.safetensors, $OUT/ilc_<q>/ilc-small-<q>.safetensors.
# Every training is resumable: run the script again after an interruption.
#
#   bash benchmarks/compression_cpu_experiment.sh                                    # the documented run
#   TEACHER_STEPS=3 ILC_STEPS=3 LIMIT=1 OUT=/tmp/c bash benchmarks/compression_cpu_experiment.sh   # a smoke test
set -euo pipefail
export INVRESTORE_DATA="${INVRESTORE_DATA:-../shared/data}"
export OMP_NUM_THREADS=1
INV="${INV:-.venv/bin/invrestore}"
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-runs/compression_cpu}"
TEACHER_STEPS="${TEACHER_STEPS:-2500}"
ILC_STEPS="${ILC_STEPS:-2000}"
LR="${LR:-5e-4}"
LIMIT="${LIMIT:-0}"
LAMBDAS="${LAMBDAS:-q1=0.0067 q4=0.025}"
mkdir -p "$OUT/logs"

finalize() {  # finalize NAME RUN OUT
  [ -f "$3" ] && return 0
  "$PY" -c "import sys; from invrestore.models.ilc.loading import finalize_codec_weights as f; f(*sys.argv[1:])" \
    "$1" "$2/last/model.safetensors" "$3"
}
# the same short schedule for both: lr $LR, ×0.2 at 80 %
sched() { echo "--set train.optim.lr=$LR --set train.optim.milestones=[$(($1 * 4 / 5))] --set train.optim.gamma=0.2"; }

one_rate() {  # one_rate Q LAMBDA
  local q="$1" lmbda="$2" t="$OUT/teacher_$1" i="$OUT/ilc_$1"
  # shellcheck disable=SC2046
  "$INV" train configs/ilc/cpu_teacher_small.yaml --run-dir "$t" --no-progress --set "loss.lmbda=$lmbda" \
    --set "train.steps=$TEACHER_STEPS" --set "train.val_every=$TEACHER_STEPS" $(sched "$TEACHER_STEPS")
  finalize bls2017-128 "$t" "$t/bls2017-128-$q.safetensors"
  # shellcheck disable=SC2046
  "$INV" train configs/ilc/cpu_ilc_small.yaml --run-dir "$i" --no-progress --set "loss.teacher_lmbda=$lmbda" \
    --set "teacher.weights=$t/bls2017-128-$q.safetensors" --set "train.steps=$ILC_STEPS" \
    --set "train.val_every=$ILC_STEPS" $(sched "$ILC_STEPS")
  finalize ilc-small "$i" "$i/ilc-small-$q.safetensors"
}
for pair in $LAMBDAS; do
  ( one_rate "${pair%%=*}" "${pair#*=}" > "$OUT/logs/${pair%%=*}.log" 2>&1 || echo "${pair%%=*}" >> "$OUT/failed" ) &
done
wait
if [ -s "$OUT/failed" ]; then
  echo "failed rate points (see $OUT/logs): $(tr '\n' ' ' < "$OUT/failed")" >&2
  rm -f "$OUT/failed"
  exit 1
fi
MODELS=()
for pair in $LAMBDAS; do
  q="${pair%%=*}"
  MODELS+=(--models "bls2017-128=$OUT/teacher_$q/bls2017-128-$q.safetensors" --models "ilc-small=$OUT/ilc_$q/ilc-small-$q.safetensors")
done
LIM=()
[ "$LIMIT" -gt 0 ] && LIM=(--limit "$LIMIT")
"$INV" bench rd "${MODELS[@]}" --dataset Kodak24 "${LIM[@]}" --references jpeg,webp --csv "$OUT/rd.csv" \
  --per-image-csv "$OUT/rd_per_image.csv" --plot "$OUT/rd.png"
"$PY" benchmarks/compression_table.py "$OUT" | tee "$OUT/table.md"
