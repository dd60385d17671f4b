"""Sums an Nsight Compute CSV (--metrics gpu__time_duration.sum --csv) per kernel name: where a step's device time goes.

    python3 kernel_table.py KERNELS.csv [TITLE]
"""
import collections
import csv
import sys


def main(path, title):
    times = collections.defaultdict(float)
    counts = collections.Counter()
    with open(path, newline="") as f:
        rows = [line for line in f if line.startswith('"')]
    for row in csv.DictReader(rows):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}[row["Metric Unit"]]
        name = row["Kernel Name"].split("(")[0][:90]
        times[name] += value * scale
        counts[name] += 1
    total = sum(times.values())
    print(f"kernels of one step, {title}: {sum(counts.values())} launches, {total / 1e3:.2f} ms of device time")
    print(f"{'kernel':<90} {'launches':>8} {'ms':>8} {'share':>6}")
    for name, us in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"{name:<90} {counts[name]:>8} {us / 1e3:>8.2f} {us / total:>6.1%}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else sys.argv[1])
