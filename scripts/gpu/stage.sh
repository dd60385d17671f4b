#!/usr/bin/env bash
# Stages what scripts/gpu/run.sh needs on a GPU host into STAGE (default: the git-ignored .stage/cuda/ of this
# checkout): our moe-model classes and test classes, their dependency jars, the JUnit console launcher, the PyTorch
# anchor, run.sh itself, and batches of real token shards (pipeline-jobs' ShardBatchDump: real ShardWriter shards of
# 400 en_wikitext documents, read back with the trainer's loader) for the loss curves. The Java runtime comes from
# scripts/gpu/runtime.sh.
#   scripts/gpu/stage.sh [STAGE]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
stage="${1:-$here/.stage/cuda}"
mkdir -p "$stage/lib"
cd "$here"
mvn -B -q -o -pl moe-model,pipeline-jobs -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/gpu-classpath.txt -Dmdep.includeScope=test >&2
rm -rf "$stage/classes" "$stage/test-classes"
cp -r moe-model/target/classes "$stage/classes"
cp -r moe-model/target/test-classes "$stage/test-classes"
# Our runtime dependencies; JUnit itself comes as the console launcher's standalone jar.
tr ':' '\n' < moe-model/target/gpu-classpath.txt | grep -v -E '/(org/junit|org/opentest4j|org/apiguardian)/' \
    | grep -v -E '/(org/bytedeco|org/openjdk/jmh|net/sf/jopt-simple|org/apache/commons/commons-math3)/' \
    | grep '\.jar$' | while read -r jar; do cp "$jar" "$stage/lib/"; done
if [[ ! -f "$stage/lib/junit-platform-console-standalone-1.14.1.jar" ]]; then
  mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 \
      -DoutputDirectory="$stage/lib" >&2
fi
shards="$(mktemp -d)"
p=pipeline-jobs/target
for shape in "64 8 300" "128 4 200"; do  # SEQ_LEN BATCH STEPS: tiny's and small's curves
  set -- $shape
  "$JAVA_HOME/bin/java" $SPARKMOE_JVM_FLAGS -Dsparkmoe.shared="$here/../shared" \
      -cp "$p/test-classes:$p/classes:$(cat $p/gpu-classpath.txt)" org.sparkmoe.jobs.train.bench.ShardBatchDump \
      "$shards/$1" 400 "$1" "$2" "$3" 2>/dev/null | grep batches >&2
done
mkdir -p "$stage/shards" && cp "$shards"/*/batches-*.i32 "$stage/shards/" && rm -rf "$shards"
cp "$here/conf/jvm.properties" "$stage/"
cp "$here/scripts/gpu/run.sh" "$here/scripts/gpu/anchor_subset.py" "$here/scripts/gpu/kernel_table.py" "$stage/"
cp "$here/moe-model/src/test/python/reference_from_checkpoint.py" "$stage/"
cp "$here/../shared/bench/torch_anchor.py" "$stage/"
du -sh "$stage"
