"""Ours against HF tokenizers, one thread each, cold and warm, pass by pass (scripts/bench/encode-cold-warm.sh runs it).

Usage: python3 encode_cold_warm.py WORK_DIR TOKENIZER_JSON ROUNDS 'OURS_COMMAND' 'HF_COMMAND'
WORK_DIR holds warmup.jsonl, en.jsonl and zh.jsonl (encode_docs.py). Both commands speak the protocol of
EncodeThroughput / hf_encode.py ('cold FILE', 'warm FILE' on stdin, one '<MB/s> <bytes> <tokens>' line back) and take
'--once TOKENIZER FILE' for a whole process. Passes alternate (ours, HF, HF, ours, ...), so each of our passes has an
HF pass next to it in time: each ratio is one such pair's, which keeps it meaningful on a busy machine.
"""
import shlex
import statistics
import subprocess
import sys
import time

work, tokenizer, rounds, ours_cmd, hf_cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
commands = {"ours": shlex.split(ours_cmd), "hf": shlex.split(hf_cmd)}
logs = {name: open(f"{work}/{name}.log", "w") for name in commands}  # their log lines, out of the table's way
procs = {}
for name, cmd in commands.items():
    procs[name] = subprocess.Popen(cmd + [tokenizer, f"{work}/warmup.jsonl"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=logs[name], text=True)
    if procs[name].stdout.readline().strip() != "ready":
        sys.exit(f"{name} did not start ({work}/{name}.log says why): {cmd}")


def one_pass(name, mode, file):
    procs[name].stdin.write(f"{mode} {file}\n")
    procs[name].stdin.flush()
    rate, size, tokens = procs[name].stdout.readline().split()
    return float(rate), int(size), int(tokens)


rows = []
for lang in ("en", "zh"):
    file = f"{work}/{lang}.jsonl"
    for mode in ("cold", "warm"):
        rates = {"ours": [], "hf": []}
        for r in range(rounds):
            for name in (("ours", "hf") if r % 2 == 0 else ("hf", "ours")):
                rate, size, tokens = one_pass(name, mode, file)
                rates[name].append(rate)
        ratios = [o / h for o, h in zip(rates["ours"], rates["hf"])]
        rows.append((lang, mode, "MB/s", rates, ratios, size, tokens))
for p in procs.values():
    p.stdin.close()
    p.wait()

for lang in ("en", "zh"):
    times = {"ours": [], "hf": []}
    for r in range(rounds):
        for name in (("ours", "hf") if r % 2 == 0 else ("hf", "ours")):
            start = time.perf_counter()
            subprocess.run(commands[name] + ["--once", tokenizer, f"{work}/{lang}.jsonl"], check=True,
                           stdout=subprocess.DEVNULL, stderr=logs[name])
            times[name].append(time.perf_counter() - start)
    rows.append((lang, "process", "s", times, [h / o for o, h in zip(times["ours"], times["hf"])], None, None))

print(f"{rounds} pairs per row; medians; ours/HF = median of the pairs' ratios (min-max). "
      "process = whole process: start, load tokenizer.json, encode each document once, exit.")
print(f"{'text':<5}{'figure':<9}{'ours':>9}{'HF':>9}{'ours/HF':>9}  pairs' range")
for lang, mode, unit, values, ratios, size, tokens in rows:
    print(f"{lang:<5}{mode:<9}{statistics.median(values['ours']):>9.2f}{statistics.median(values['hf']):>9.2f}"
          f"{statistics.median(ratios):>8.1f}x  {min(ratios):.1f}-{max(ratios):.1f}  ({unit}"
          + (f"; {size:,} bytes, {tokens:,} tokens)" if size else ")"))
