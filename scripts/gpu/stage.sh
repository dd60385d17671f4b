#!/usr/bin/env bash
# Stages what scripts/gpu/run.sh needs on the GPU machine into STAGE (default: the main checkout's git-ignored
# .device/cuda/, which the device tool carries): a jlink'd Java 25 runtime (xz-packed), our moe-model classes and
# test classes, their dependency jars, the JUnit console launcher, the PyTorch anchor and run.sh itself.
#   scripts/gpu/stage.sh [STAGE]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
stage="${1:-/work/main/.device/cuda}"
mkdir -p "$stage/lib"
cd "$here"
mvn -B -q -o -pl moe-model -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/gpu-classpath.txt -Dmdep.includeScope=test >&2
rm -rf "$stage/classes" "$stage/test-classes"
cp -r moe-model/target/classes "$stage/classes"
cp -r moe-model/target/test-classes "$stage/test-classes"
# Our runtime dependencies; JUnit itself comes as the console launcher's standalone jar.
tr ':' '\n' < moe-model/target/gpu-classpath.txt | grep -v -E '/(org/junit|org/opentest4j|org/apiguardian)/' \
    | grep '\.jar$' | while read -r jar; do cp "$jar" "$stage/lib/"; done
if [[ ! -f "$stage/lib/junit-platform-console-standalone-1.14.1.jar" ]]; then
  mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 \
      -DoutputDirectory="$stage/lib" >&2
fi
if [[ ! -f "$stage/jre25.tar.xz" ]]; then
  tmp="$(mktemp -d)"
  "$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.incubator.vector,java.logging,java.xml,java.management \
      --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$tmp/jre25"
  tar -C "$tmp" -cf - jre25 | xz -T2 -6 > "$stage/jre25.tar.xz"
  rm -rf "$tmp"
fi
cp "$here/conf/jvm.properties" "$stage/"
cp "$here/scripts/gpu/run.sh" "$here/scripts/gpu/anchor_subset.py" "$stage/"
cp "$here/../shared/bench/torch_anchor.py" "$stage/"
du -sh "$stage"
