#!/usr/bin/env bash
# Measures which jars and JDK modules the GPU-side jobs load at run time, so scripts/gpu/runtime.sh packs only
# those: starts a Spark standalone master and worker over every dependency jar, runs tokenize, train (losing an
# executor mid-run, so failure handling loads its classes too), evaluate, score and inspect through spark-submit with
# class-loading logs on every JVM, and writes what they loaded (prepare and train-tokenizer run beforehand with the
# launcher, unmeasured: corpus preparation stays on the CPU cluster):
#   scripts/gpu/runtime-jars.txt     jar file names (Spark and its dependencies; our own jar is the cluster jar)
#   scripts/gpu/runtime-modules.txt  JDK modules for jlink
#   scripts/gpu/measure-runtime.sh [CORPUS_DIR]   (default: a few files of the shared corpus beside the repository)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
corpus="${1:-$here/../shared/corpus/train}"
work="$(mktemp -d)"
trap 'scripts/gpu/standalone.sh stop "$work/spark" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cd "$here"
mvn -B -q -DskipTests package >&2
mkdir -p "$work/spark/jars" "$work/spark/conf" "$work/logs" "$work/corpus"
# What the cluster jar bundles (our modules, log4j-jpl, XChart) is not Spark's: leave it out of SPARK_HOME.
tr ':' '\n' < pipeline-jobs/target/classpath.txt | grep '\.jar$' | grep -v -E '/(sparkmoe-|log4j-jpl-|xchart-)' \
    | while read -r jar; do ln -s "$jar" "$work/spark/jars/"; done
cp pipeline-jobs/src/main/resources/log4j2.properties "$work/spark/conf/"
for f in en_wikitext zh_classics code; do cp "$corpus/$f.jsonl" "$work/corpus/"; done
bin/sparkmoe prepare --input "$work/corpus" --output "$work/prepared" >>"$work/jobs.log" 2>&1
bin/sparkmoe train-tokenizer --input "$work/prepared" --output "$work/tok" --vocab-size 512 >>"$work/jobs.log" 2>&1
log="-Xlog:class+load=info:file=$work/logs/%p.log"
export SPARKMOE_DAEMON_OPTS="$log" SPARKMOE_DRIVER_OPTS="$log" SPARKMOE_EXECUTOR_OPTS="$log"
# Spark's GPU scheduling loads its own classes (the worker parses the discovered addresses): hand out one address,
# whether or not this host has a GPU (backend auto then says it falls back to the CPU).
printf '#!/usr/bin/env bash\necho %s\n' "'{\"name\":\"gpu\",\"addresses\":[\"0\"]}'" > "$work/gpu.sh"
chmod +x "$work/gpu.sh"
export SPARKMOE_GPU_DISCOVERY="$work/gpu.sh"
master="$(scripts/gpu/standalone.sh start "$work/spark" 2 6g)"
submit() {
  scripts/gpu/submit.sh "$work/spark" "$master" --conf spark.executor.memory=4g \
      --conf spark.executor.resource.gpu.amount=1 --conf spark.task.resource.gpu.amount=1 -- "$@" >>"$work/jobs.log" 2>&1
}
submit tokenize --input "$work/prepared" --tokenizer "$work/tok/tokenizer.json" --output "$work/tokens" --version v1
submit train --manifest "$work/tokens/v1" --runs "$work/runs" --run-id r --model tiny --workers 2 --local-steps 8 \
    --rounds 6 --seq-len 64 --checkpoint-every 2 &
train=$!
# Lose an executor once the first round is done: the retry path loads its own classes.
for _ in $(seq 1 300); do [[ -d "$work/runs/r/checkpoints" || -f "$work/runs/r/metrics/rounds.jsonl" ]] && break; sleep 1; done
pkill -9 -f CoarseGrainedExecutorBackend || true
wait "$train"
submit evaluate --run "$work/runs/r" --tokenizer "$work/tok/tokenizer.json"
echo "[5, 17, 42, 9, 3]" > "$work/seqs.jsonl"
submit score --checkpoint "$work/runs/r/final" --input "$work/seqs.jsonl"
submit inspect "$work/tokens/v1/manifest.json" --sample 1 --seq-len 32
grep -q "trained 6 rounds" "$work/jobs.log" || { echo "measure-runtime.sh: the train job did not finish:" >&2; tail -30 "$work/jobs.log" >&2; exit 1; }

cat "$work"/logs/*.log | sed -n -E 's/.*source: (jar:)?file:([^!]*\.jar).*/\2/p' | sort -u | xargs -n1 basename \
    | grep -v -E '^(sparkmoe-|log4j-jpl-|xchart-)' | sort -u > scripts/gpu/runtime-jars.txt
# Classes from the CDS archive name no module: map them through the runtime image's class list.
"$JAVA_HOME/bin/jimage" list "$JAVA_HOME/lib/modules" | awk '/^Module: /{m=$2} /\.class$/{c=$1; sub(/\.class$/,"",c); gsub("/",".",c); print c, m}' > "$work/class-modules.txt"
{
  cat "$work"/logs/*.log | sed -n -E 's/.*source: jrt:\/([^ ]*).*/\1/p'
  cat "$work"/logs/*.log | sed -n -E 's/.*\] ([^ ]*) source: shared objects file.*/\1/p' | sort -u \
      | awk 'NR==FNR{m[$1]=$2; next} ($1 in m){print m[$1]}' "$work/class-modules.txt" -
} | sort -u | grep -v -E '^(jdk\.jshell|jdk\.internal\.le)$' > scripts/gpu/runtime-modules.txt  # jshell: only an optional System.console provider
echo "runtime-jars.txt: $(wc -l < scripts/gpu/runtime-jars.txt) jars; runtime-modules.txt: $(paste -sd, scripts/gpu/runtime-modules.txt)"
