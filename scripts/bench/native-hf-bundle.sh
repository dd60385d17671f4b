#!/usr/bin/env bash
# Builds .stage/tokenizer/ (git-ignored): what the one-thread "ours vs HF tokenizers" comparison (cold and warm,
# scripts/bench/encode_cold_warm.py) needs on a machine without Maven, such as a GPU machine's host CPU
# (docs/benchmarks.md, tokenizer). Then, from the repository root on that machine: bash .stage/tokenizer/run.sh
# (it needs python3 with `tokenizers` there). Needs a built tokenizer module here:
#   mvn -B -q -pl tokenizer -am test-compile dependency:build-classpath \
#       -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
out="$here/.stage/tokenizer"
shared="${SPARKMOE_SHARED:-$here/../shared}"
rm -rf "$out" && mkdir -p "$out/lib"
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.incubator.vector,java.logging,java.management,jdk.management \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$out/jre"
strip --strip-unneeded "$out/jre/lib/server/libjvm.so" || true
"$JAVA_HOME/bin/jar" cf "$out/lib/sparkmoe-tokenizer.jar" -C "$here/tokenizer/target/classes" .
"$JAVA_HOME/bin/jar" uf "$out/lib/sparkmoe-tokenizer.jar" -C "$here/tokenizer/target/test-classes" \
    org/sparkmoe/tokenizer/bench/EncodeThroughput.class
tr ':' '\n' < "$here/tokenizer/target/bench-classpath.txt" | grep jackson | xargs -I{} cp {} "$out/lib/"
cp "$shared/tokenizers/deepseek-v3/tokenizer.json" "$out/deepseek-v3.json"
cp "$here/scripts/bench/hf_encode.py" "$here/scripts/bench/encode_cold_warm.py" "$out/"
python3 "$here/scripts/bench/encode_docs.py" "$shared/corpus/train" "$out"
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Ours vs HF tokenizers (Python, Rust core), one thread each, each pinned to a core of its own. Run from the repo root.
set -euo pipefail
cd .stage/tokenizer
echo "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
python3 encode_cold_warm.py . deepseek-v3.json "${1:-5}" \
    "taskset -c 3 jre/bin/java -XX:ActiveProcessorCount=1 -Xmx2g -cp lib/* org.sparkmoe.tokenizer.bench.EncodeThroughput" \
    "taskset -c 2 python3 hf_encode.py"
RUN
chmod +x "$out/run.sh"
du -sh "$out"
