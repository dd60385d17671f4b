#!/usr/bin/env bash
# The data of an experiment (conf/experiments/*.properties, data.* keys) made by the product's jobs on a CPU host:
# `prepare` keeps the languages data.languages of the corpus, `train-tokenizer` trains a byte-level BPE of
# data.vocab-size tokens on that, `tokenize` writes token shards with the train split mixed as data.mixture and
# data.validation-ratio of the documents held out for validation.
#   scripts/experiments/prepare-data.sh CORPUS OUT_DIR [EXPERIMENT_FILE]
# CORPUS: the corpus's JSON Lines (a directory, file or glob, any Hadoop URI). OUT_DIR/tokenizer/tokenizer.json and
# OUT_DIR/tokens/v1/ are the result; name OUT_DIR as data.name so that `scripts/gpu/runtime.sh OUT PART_MB OUT_DIR`
# puts it where paper-comparison.sh looks (data/<data.name>/). The prepare output goes to OUT_DIR.prepared (not needed
# afterwards). SPARK_MASTER (default local[2]) and SPARKMOE_JAVA_OPTS (default -Xmx6g) size the local jobs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/scripts/experiments/properties.sh"
corpus="$1"; out="$(mkdir -p "$2" && cd "$2" && pwd)"
experiment="${3:-$here/conf/experiments/paper-comparison.properties}"
master="${SPARK_MASTER:-local[2]}"
export SPARKMOE_JAVA_OPTS="${SPARKMOE_JAVA_OPTS:--Xmx6g}"
prepared="$out.prepared"
log="$out/prepare-data.log"
mkdir -p "$out"
job() {  # JOB ARGS...: a local job, its console into the log, its summary lines on the console
  echo "== $(date +%T) $*" | tee -a "$log"
  "$here/bin/sparkmoe" "$@" --spark.master "$master" >> "$log" 2>&1 \
      || { echo "prepare-data.sh: '$1' failed; its console is in $log" >&2; tail -20 "$log" >&2; exit 1; }
}

# A step whose output exists is skipped (tokenize never overwrites a published version): a second call finishes
# what a stopped one left.
[[ -f "$prepared/report.json" ]] \
    || job prepare --input "$corpus" --output "$prepared" --lid.keep-languages "$(prop "$experiment" data.languages)"
[[ -f "$out/tokenizer/tokenizer.json" ]] || job train-tokenizer --input "$prepared" --output "$out/tokenizer" \
    --vocab-size "$(prop "$experiment" data.vocab-size)"
[[ -f "$out/tokens/v1/manifest.json" ]] || job tokenize --input "$prepared" --tokenizer "$out/tokenizer/tokenizer.json" \
    --output "$out/tokens" --version v1 --mixture.shares "$(prop "$experiment" data.mixture)" \
    --validation-ratio "$(prop "$experiment" data.validation-ratio)" --shard.size-mb 16
python3 - "$prepared/report.json" "$out/tokens/v1/manifest.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"prepare kept {report['records_kept']:,} documents, {report['bytes_kept']:,} bytes {report['kept_by_lang']}")
for name, split in json.load(open(sys.argv[2]))["splits"].items():
    print(f"{name}: {split['tokens']:,} tokens, {split['documents']:,} documents, {len(split['shards'])} shards, "
          f"by language {split['tokensPerLanguage']}")
PY
du -sh "$out/tokenizer" "$out/tokens"
