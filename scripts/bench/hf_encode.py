"""One-thread encode passes of HF tokenizers (Python, Rust core), with the protocol of our EncodeThroughput
(tokenizer/src/test/java/org/sparkmoe/tokenizer/bench), so that encode_cold_warm.py can alternate them pass by pass:

  cold FILE   a fresh Tokenizer (empty BPE cache) encodes each document of FILE once, in file order
  warm FILE   the last fresh Tokenizer encodes FILE again, as many times as fill a second of CPU time (its cache now
              holds the file's words)

Each answer is one line "<MB/s> <MB per CPU-second> <bytes> <tokens>" (wall-clock and process CPU time). Before the first command it warms up on WARMUP.jsonl with a
tokenizer of its own; loading a tokenizer is not timed.
Usage: RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 hf_encode.py tokenizer.json WARMUP.jsonl
       python3 hf_encode.py --once tokenizer.json TEXT.jsonl   (load, encode each document once: whole-process timing)
"""
import json
import sys
import time

import tokenizers


def texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def encode_all(tok, docs):
    return sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)


if len(sys.argv) == 4 and sys.argv[1] == "--once":
    print("tokens", encode_all(tokenizers.Tokenizer.from_file(sys.argv[2]), texts(sys.argv[3])))
    sys.exit(0)
if len(sys.argv) != 3:
    sys.exit(__doc__)
path = sys.argv[1]
warmup = tokenizers.Tokenizer.from_file(path)
for _ in range(3):
    encode_all(warmup, texts(sys.argv[2]))
files, last = {}, None
print("ready", flush=True)
for line in sys.stdin:
    if not line.strip():
        break
    command, file = line.split(maxsplit=1)
    file = file.strip()
    docs = files.setdefault(file, texts(file))
    if command == "cold":
        last = tokenizers.Tokenizer.from_file(path)
    elif command != "warm" or last is None:
        sys.exit(f"expected 'cold FILE', or 'warm FILE' after a cold pass: {line.strip()}")
    size = sum(len(d.encode("utf-8")) for d in docs)
    cpu_start, start = time.process_time(), time.perf_counter()
    n, passes = encode_all(last, docs), 1
    while command == "warm" and time.process_time() - cpu_start < 1.0:
        encode_all(last, docs)
        passes += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"{passes * size / wall / 1e6:.4f} {passes * size / cpu / 1e6:.4f} {size} {n}", flush=True)
