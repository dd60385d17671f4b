#!/usr/bin/env bash
# Builds .device/tokenizer/ (git-ignored): what the one-thread "ours vs native HF tokenizers" comparison needs on a
# machine without Maven (the lent GPU machine's CPU; docs/benchmarks.md, section tokenizer). Then, from the repo
# root on that machine: bash .device/tokenizer/run.sh
# Needs a built tokenizer module: mvn -B -q -pl tokenizer -am test-compile dependency:build-classpath \
#   -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
out="$here/.device/tokenizer"
shared="${SPARKMOE_SHARED:-$here/../shared}"
rm -rf "$out" && mkdir -p "$out/lib"
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.unsupported,jdk.incubator.vector,java.logging \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$out/jre"
strip --strip-unneeded "$out/jre/lib/server/libjvm.so" || true
"$JAVA_HOME/bin/jar" cf "$out/lib/sparkmoe-tokenizer.jar" -C "$here/tokenizer/target/classes" .
"$JAVA_HOME/bin/jar" uf "$out/lib/sparkmoe-tokenizer.jar" -C "$here/tokenizer/target/test-classes" \
    org/sparkmoe/tokenizer/bench/EncodeThroughput.class
tr ':' '\n' < "$here/tokenizer/target/bench-classpath.txt" | grep jackson | xargs -I{} cp {} "$out/lib/"
cp "$shared/tokenizers/deepseek-v3/tokenizer.json" "$out/deepseek-v3.json"
cp "$here/scripts/bench/hf_encode.py" "$out/"
python3 - "$shared" "$out" <<'PY'
import glob, json, sys
shared, out = sys.argv[1], sys.argv[2]
for lang in ("en", "zh"):  # about 2 MB per language, round-robin over the train files
    files = [open(f, encoding="utf-8").readlines() for f in sorted(glob.glob(f"{shared}/corpus/train/{lang}_*.jsonl"))]
    docs, size, i = [], 0, 0
    while size < 2_000_000 and any(i < len(f) for f in files):
        for f in files:
            if i < len(f) and size < 2_000_000:
                text = json.loads(f[i])["text"]
                docs.append(json.dumps({"text": text}, ensure_ascii=False))
                size += len(text.encode())
        i += 1
    open(f"{out}/{lang}.jsonl", "w", encoding="utf-8").write("\n".join(docs) + "\n")
PY
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Ours vs HF tokenizers (Python, Rust core), one thread each, pinned to one core. Run from the repo root.
set -u
cd .device/tokenizer
nproc; lscpu | grep -m1 'Model name'
for round in 1 2; do
  RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false taskset -c 2 python3 hf_encode.py deepseek-v3.json en.jsonl zh.jsonl
  taskset -c 3 jre/bin/java -XX:ActiveProcessorCount=1 -Xmx2g -cp 'lib/*' org.sparkmoe.tokenizer.bench.EncodeThroughput deepseek-v3.json en.jsonl zh.jsonl
done
RUN
chmod +x "$out/run.sh"
du -sh "$out"
