"""Ours against HF tokenizers, one thread each, cold and warm, pass by pass (scripts/bench/encode-cold-warm.sh runs it).

Usage: python3 encode_cold_warm.py WORK_DIR TOKENIZER_JSON ROUNDS 'OURS_COMMAND' 'HF_COMMAND'
WORK_DIR holds warmup.jsonl, en.jsonl and zh.jsonl (encode_docs.py). Both commands speak the protocol of
EncodeThroughput / hf_encode.py ('cold FILE', 'warm FILE' on stdin, one '<MB/s> <MB per CPU-second> <bytes> <tokens>'
line back) and take '--once TOKENIZER FILE' for a whole process. Passes alternate (ours, HF, HF, ours, ...), so each
of our passes has an HF pass next to it in time; each ratio is one such pair's. Throughput per CPU-second (process
CPU time) is the figure to read on a shared machine; wall-clock MB/s is printed beside it.
"""
import resource
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
    wall, cpu, size, tokens = procs[name].stdout.readline().split()
    return float(wall), float(cpu), int(size), int(tokens)


def whole_process(name, file):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(commands[name] + ["--once", tokenizer, file], check=True, stdout=subprocess.DEVNULL,
                   stderr=logs[name])
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def alternating(measure):
    """ROUNDS pairs of (ours, HF) measurements, each pair adjacent in time, the order swapped every round."""
    values = {"ours": [], "hf": []}
    for r in range(rounds):
        for name in (("ours", "hf") if r % 2 == 0 else ("hf", "ours")):
            values[name].append(measure(name))
    return values


rows = []
for lang in ("en", "zh"):
    file = f"{work}/{lang}.jsonl"
    for mode in ("cold", "warm"):
        v = alternating(lambda name: one_pass(name, mode, file))
        size, tokens = v["ours"][0][2], v["ours"][0][3]
        rows.append((lang, mode, v, lambda o, h: o / h, f"MB/s; {size:,} bytes, {tokens:,} tokens"))
for p in procs.values():
    p.stdin.close()
    p.wait()
for lang in ("en", "zh"):
    v = alternating(lambda name: whole_process(name, f"{work}/{lang}.jsonl"))
    rows.append((lang, "process", v, lambda o, h: h / o, "seconds"))

print(f"{rounds} pairs per row, medians. ours/HF: the median of the pairs' ratios (min-max), by CPU time. "
      "process: a whole process (start, load tokenizer.json, encode each document once, exit).")
print(f"{'text':<5}{'figure':<9}{'ours cpu':>10}{'HF cpu':>10}{'ours/HF':>9}  {'range':<11}{'ours wall':>10}"
      f"{'HF wall':>10}")
for lang, mode, v, speedup, unit in rows:
    ratios = [speedup(o[1], h[1]) for o, h in zip(v["ours"], v["hf"])]
    med = {name: (statistics.median(x[0] for x in v[name]), statistics.median(x[1] for x in v[name])) for name in v}
    print(f"{lang:<5}{mode:<9}{med['ours'][1]:>10.2f}{med['hf'][1]:>10.2f}{statistics.median(ratios):>8.1f}x  "
          f"{min(ratios):.1f}-{max(ratios):<7.1f}{med['ours'][0]:>10.2f}{med['hf'][0]:>10.2f}  ({unit})")
