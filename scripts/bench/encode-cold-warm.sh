#!/usr/bin/env bash
# Encode throughput of our tokenizer against HF tokenizers (Python, Rust core), one thread each, on the same
# tokenizer.json and the same English and Chinese train documents (docs/benchmarks.md, tokenizer):
#   cold     a fresh tokenizer encodes each document once: documents it has never seen (empty piece cache)
#   warm     the same documents again (every piece cached), as repeated passes over one text
#   process  a whole process: start, load tokenizer.json, encode each document once, exit
#   scripts/bench/encode-cold-warm.sh [ROUNDS (default 5)]
# Environment: SPARKMOE_SHARED (default ../shared: corpus/train, tokenizers/deepseek-v3), TOKENIZER (a tokenizer.json,
# default DeepSeek-V3's), WORK (default tokenizer/target/encode-bench). Needs python3 with `tokenizers`
# (pip install tokenizers) and Maven.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
rounds="${1:-5}"
shared="${SPARKMOE_SHARED:-$here/../shared}"
tokenizer="${TOKENIZER:-$shared/tokenizers/deepseek-v3/tokenizer.json}"
work="${WORK:-$here/tokenizer/target/encode-bench}"
cd "$here"
mvn -B -q -pl tokenizer -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test >&2
m="$here/tokenizer/target"
python3 "$here/scripts/bench/encode_docs.py" "$shared/corpus/train" "$work"
echo "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$("$JAVA_HOME/bin/java" -version 2>&1 | head -1); HF tokenizers $(python3 -c 'import tokenizers; print(tokenizers.__version__)')"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
python3 "$here/scripts/bench/encode_cold_warm.py" "$work" "$tokenizer" "$rounds" \
    "$JAVA_HOME/bin/java -Xmx2g -cp $m/test-classes:$m/classes:$(cat "$m/bench-classpath.txt") org.sparkmoe.tokenizer.bench.EncodeThroughput" \
    "python3 $here/scripts/bench/hf_encode.py"
