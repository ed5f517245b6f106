#!/usr/bin/env bash
# Few-step samplers against DDIM-50 under the paper's evaluation protocol (issue 15; results in
# docs/dancegen/generation.md#samplers and benchmarks/results/samplers_paper_protocol.json). The bundled model on
# the procedural test split (16 genres × 4 songs × 40 s), --protocol gcdance with 3 seeded sets of 15 consecutive
# 4-s clips per song (240 clips per set), raw model output, one thread per process; the set-to-set spread of
# DDIM-50 is the bar each few-step configuration must stay inside.
#   bash benchmarks/samplers_paper_protocol.sh OUT [SAMPLER:STEPS ...]
set -euo pipefail
OUT=${1:?usage: samplers_paper_protocol.sh OUT [SAMPLER:STEPS ...]}
shift
CONFIGS=("$@")
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(ddim:50 unipc:10 dpmpp_2m:20 ddim:20 unipc:20)
DG=${DANCEGEN:-dancegen}
PY=${PYTHON:-python}
mkdir -p "$OUT/reports"
[ -d "$OUT/data" ] || $DG data synth "$OUT/data" --seconds 40
MODEL=$("$PY" -c 'from dancegen.checkpoint import default_checkpoint_dir; print(default_checkpoint_dir())')
for cfg in "${CONFIGS[@]}"; do
  sampler=${cfg%%:*}; steps=${cfg##*:}
  report="$OUT/reports/${sampler}_${steps}.json"
  [ -f "$report" ] || OMP_NUM_THREADS=1 $DG evaluate --checkpoint "$MODEL" --data "$OUT/data" --protocol gcdance --sets 3 \
    --sampler "$sampler" --steps "$steps" --seed 0 --threads 1 --device cpu --cache-dir "$OUT/evalcache" \
    --out "$report"
done
"$PY" "$(dirname "$0")/summarise_reports.py" "$OUT/reports" --baseline ddim_50
