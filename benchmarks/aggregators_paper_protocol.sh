#!/usr/bin/env bash
# Aggregators compared under the paper's evaluation protocol (issue 14; results in docs/dancegen/ablation.md and
# benchmarks/results/aggregators_paper_protocol.json). Procedural data (16 genres × 4 songs × 40 s), `small` preset,
# 1000 steps, nash / aligned in representation space, linear = EDGE's fixed weights (one backward), 2 seeds each,
# one thread per process; evaluated with --protocol gcdance on 3 sets of 15 clips per song, DDIM 20 steps.
#   bash benchmarks/aggregators_paper_protocol.sh OUT [STEPS]
set -euo pipefail
OUT=${1:?usage: aggregators_paper_protocol.sh OUT [STEPS]}
STEPS=${2:-1000}
DG=${DANCEGEN:-dancegen}
mkdir -p "$OUT"
[ -d "$OUT/data" ] || $DG data synth "$OUT/data" --seconds 40
for seed in 0 1; do
  for agg in nash aligned linear; do
    run="$OUT/runs/${agg}_s${seed}"
    extra=()
    [ "$agg" = nash ] && extra=(--aggregator-opt min_norm_ratio=0.05)
    [ -f "$run/latest" ] || OMP_NUM_THREADS=1 $DG train --data "$OUT/data" --out "$run" --preset small \
      --music-encoders baseline35 --genre-controller text --aggregator "$agg" "${extra[@]}" \
      --shared representation --backend representation --batch-size 16 --lr 1e-3 --lr-schedule cosine \
      --warmup 100 --ema-decay 0.995 --steps "$STEPS" --checkpoint-every 500 --log-every 25 --seed "$seed" \
      --cache-dir "$OUT/cache" --no-progress
    [ -f "$OUT/reports/${agg}_s${seed}.json" ] || OMP_NUM_THREADS=1 $DG evaluate --checkpoint "$run" \
      --data "$OUT/data" --protocol gcdance --sets 3 --steps 20 --seed 0 --threads 1 --device cpu \
      --cache-dir "$OUT/evalcache" --out "$OUT/reports/${agg}_s${seed}.json"
  done
done
