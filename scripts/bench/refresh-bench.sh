#!/usr/bin/env bash
# Refresh vs one-shot benchmark for docs/benchmarks.md, "Scheduled refresh".
#   scripts/bench/refresh-bench.sh [REPEATS (default 3)] [WORK_DIR (default /tmp/refresh-bench)]
# Each step is its own `bin/sparkmoe` process (JVM and Spark start-up included, cold tokenizer caches, as a scheduled
# run has them), local[2], local filesystem, the DeepSeek-V3 tokenizer. Per repetition:
#   anchor      prepare + tokenize, one shot, over the whole train corpus (16 files)
#   full        refresh from scratch over the same corpus (version 1)
#   increment   refresh with the 3 validation files added (version 2: only they are prepared and tokenized,
#               deduplicated against everything kept)
#   unchanged   the same refresh again ("nothing changes")
# Prints one line per step and repetition, then the medians and ratios to the anchor.
# SPARKMOE (launcher, default bin/sparkmoe of this checkout) and SPARKMOE_SHARED (default ../shared: the full
# corpus/train, corpus/validation and tokenizers/deepseek-v3) may be overridden.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
repeats="${1:-3}"
work="${2:-/tmp/refresh-bench}"
sparkmoe="${SPARKMOE:-$here/bin/sparkmoe}"
shared="$(cd "${SPARKMOE_SHARED:-$here/../shared}" && pwd)"
tokenizer="$shared/tokenizers/deepseek-v3/tokenizer.json"
train="$shared/corpus/train"
validation="$shared/corpus/validation"
rm -rf "$work" && mkdir -p "$work"
results="$work/results.tsv"

# step NAME REPEAT COMMAND...: runs one timed command, logging to WORK/NAME-REPEAT.log; appends "name repeat wall rss".
step() {
  local name="$1" r="$2"; shift 2
  local log="$work/$name-$r.log"
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$log" 2>&1 || { echo "$name (repeat $r) failed: see $log" >&2; exit 1; }
  read -r wall rss <"$work/time"
  printf '%s\t%s\t%s\t%s\n' "$name" "$r" "$wall" "$rss" | tee -a "$results"
}
# oneshot DIR: prepare then tokenize, as one timed step.
oneshot() {
  "$sparkmoe" prepare --input "$train/*.jsonl" --output "$1/prepared" --spark.master 'local[2]' &&
  "$sparkmoe" tokenize --input "$1/prepared" --tokenizer "$tokenizer" --output "$1/tokens" --version v1 \
      --spark.master 'local[2]'
}
export -f oneshot
export sparkmoe train tokenizer

"$sparkmoe" help >/dev/null  # builds the project first when needed, outside the timed steps
for r in $(seq 1 "$repeats"); do
  step anchor "$r" bash -c 'oneshot "$0"' "$work/oneshot-$r"
  refresh=("$sparkmoe" refresh --target "$work/refresh-$r" --tokenizer "$tokenizer" --spark.master 'local[2]'
           --input "$train/*.jsonl")
  step full "$r" "${refresh[@]}"
  step increment "$r" "${refresh[@]}" --input "$validation/*.jsonl"
  step unchanged "$r" "${refresh[@]}" --input "$validation/*.jsonl"
  grep -h -m1 "refresh: published\|nothing changes" "$work/full-$r.log" "$work/increment-$r.log" "$work/unchanged-$r.log" \
      | sed 's/^.*refresh: /  refresh: /' | cut -c1-260
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
wall = {}
rss = {}
for name, r, w, m in rows:
    wall.setdefault(name, []).append(float(w))
    rss.setdefault(name, []).append(int(m) / 1e6)
anchor = statistics.median(wall["anchor"])
print(f"\n{'step':<10} {'runs':>4} {'median wall s':>14} {'min':>7} {'max':>7} {'/ anchor':>9} {'max RSS GB':>11}")
for name in ["anchor", "full", "increment", "unchanged"]:
    w = wall[name]
    print(f"{name:<10} {len(w):>4} {statistics.median(w):>14.1f} {min(w):>7.1f} {max(w):>7.1f} "
          f"{statistics.median(w) / anchor:>9.2f} {max(rss[name]):>11.2f}")
PY
