"""One-thread encode throughput of HF tokenizers (Python, Rust core) on the same files as EncodeThroughput.

Usage: RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 hf_encode.py tokenizer.json en.txt zh.txt
Prints the median of 5 timed passes after 3 warm-up passes, like EncodeThroughput.
"""
import json
import statistics
import sys
import time

import tokenizers

tok = tokenizers.Tokenizer.from_file(sys.argv[1])
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f if line.strip()]
    size = sum(len(d.encode("utf-8")) for d in docs)
    rates = []
    for p in range(8):
        t = time.perf_counter()
        n = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
        if p >= 3:
            rates.append(size / (time.perf_counter() - t) / 1e6)
    print(f"hf tokenizers {tokenizers.__version__} {path}: {statistics.median(rates):.2f} MB/s (median of 5), "
          f"{size} bytes, {n} tokens")
