"""Picks the English and Chinese documents the encode benchmarks read, so that ours and HF's read the same ones.

Usage: python3 encode_docs.py CORPUS_TRAIN_DIR OUT_DIR [MEASURED_BYTES (default 2000000)]
Writes OUT_DIR/{en,zh}.jsonl (the measured documents) and OUT_DIR/warmup.jsonl (other English and Chinese documents,
half as many bytes of each, for warming up), {"text": ...} per line. Documents are taken round-robin over the
language's train files ({en,zh}_*.jsonl), so every source is represented, warm-up documents first; a text that
occurred earlier is skipped (the corpus has exact duplicates), so no measured document repeats another or a warm-up
document.
"""
import glob
import json
import os
import sys


def round_robin(paths):
    files = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            files.append([json.loads(line)["text"] for line in f if line.strip()])
    seen = set()
    for i in range(max(len(f) for f in files)):
        for f in files:
            if i < len(f) and f[i] not in seen:
                seen.add(f[i])
                yield f[i]


def take(docs, budget):
    taken, size = [], 0
    for text in docs:
        taken.append(text)
        size += len(text.encode("utf-8"))
        if size >= budget:
            break
    return taken


def write(path, docs):
    with open(path, "w", encoding="utf-8") as f:
        for text in docs:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


train, out = sys.argv[1], sys.argv[2]
measured_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 2_000_000
os.makedirs(out, exist_ok=True)
warmup = []
for lang in ("en", "zh"):
    paths = sorted(glob.glob(os.path.join(train, f"{lang}_*.jsonl")))
    if not paths:
        sys.exit(f"encode_docs: no {lang}_*.jsonl files in {train}")
    docs = round_robin(paths)
    warmup += take(docs, measured_bytes // 2)
    write(os.path.join(out, f"{lang}.jsonl"), take(docs, measured_bytes))
write(os.path.join(out, "warmup.jsonl"), warmup)
