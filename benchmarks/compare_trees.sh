#!/usr/bin/env bash
# make bench's pipeline benchmark on several commits in one session, interleaved, so that the
# machine's load hits each alike: each commit is checked out in its own worktree under
# $TMPDIR and runs its own benchmarks/pipeline_bench.py with this checkout's .venv.
#   benchmarks/compare_trees.sh [--n N] [--workers W] [--rounds R] REV [REV ...]
# Logs: $TMPDIR/compare-trees/<rev>-<round>.log; the last lines of each are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
n=1000 workers=2 rounds=1
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --n) n=$2 ;; --workers) workers=$2 ;; --rounds) rounds=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--n N] [--workers W] [--rounds R] REV [REV ...]" >&2; exit 2; }
python=$PWD/.venv/bin/python
data=$PWD/../shared/data/article-extraction-benchmark  # as pipeline_bench.py says when missing
out=${TMPDIR:-/tmp}/compare-trees
mkdir -p "$out"
for rev in "$@"; do
  [[ -d $out/tree-$rev ]] || git worktree add -q --detach "$out/tree-$rev" "$rev"
done
for ((round = 1; round <= rounds; round++)); do
  revs=("$@")
  (( round % 2 == 0 )) && revs=($(printf '%s\n' "$@" | tac))  # alternate who goes first
  for rev in "${revs[@]}"; do
    echo "== $rev, round $round, $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd "$out/tree-$rev" && PYTHONPATH=$PWD INGEST_WORKERS=$workers "$python" \
      benchmarks/pipeline_bench.py --data "$data" --n "$n" --workers "$workers" --storage-n 2000 \
      > "$out/$rev-$round.log" 2>&1)
    grep -E "no benchmark data|trafilatura extraction alone|stored in|all processes" \
      "$out/$rev-$round.log" || true
  done
done
