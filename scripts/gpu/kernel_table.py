"""Sums an Nsight Compute CSV (`--metrics gpu__time_duration.sum[,dram__bytes.sum][,sm__throughput...] --csv
--print-units base`) per kernel name: where a step's device time goes, and, where the CSV has them, the DRAM traffic
as GB/s against the copy ceiling and the SM throughput (percent of its peak, weighted by time) of each kernel.

    python3 kernel_table.py KERNELS.csv [TITLE] [--peak-gbs 4300]

4300 GB/s is the device-to-device copy rate measured on an H200 (reads plus writes); a memory-bound kernel near it
has little left to gain, one far below it and below the SM peak waits on something else (launch, latency, tails).
"""
import collections
import csv
import sys

TIME = "gpu__time_duration.sum"
BYTES = "dram__bytes.sum"
SM = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
TIME_SCALE = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
BYTE_SCALE = {"byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9}


def launches(path):
    """Per kernel launch (the CSV's ID): its name and its metrics (time in µs, bytes, percent)."""
    with open(path, newline="") as f:
        rows = [line for line in f if line.startswith('"')]
    by_id = {}
    for row in csv.DictReader(rows):
        metric, unit = row.get("Metric Name"), row.get("Metric Unit")
        value = float(row["Metric Value"].replace(",", ""))
        launch = by_id.setdefault(row["ID"], {"name": row["Kernel Name"].split("(")[0][:90]})
        if metric == TIME:
            launch["us"] = value * TIME_SCALE[unit]
        elif metric == BYTES:
            launch["bytes"] = value * BYTE_SCALE[unit]
        elif metric == SM:
            launch["sm"] = value
    return [launch for launch in by_id.values() if "us" in launch]


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    peak = float(argv[argv.index("--peak-gbs") + 1]) if "--peak-gbs" in argv else 4300.0
    if "--peak-gbs" in argv:
        args.remove(argv[argv.index("--peak-gbs") + 1])
    path, title = args[0], (args[1] if len(args) > 1 else args[0])
    per_name = collections.defaultdict(lambda: {"us": 0.0, "bytes": 0.0, "sm_us": 0.0, "n": 0, "has_bytes": False,
                                                "has_sm": False})
    for launch in launches(path):
        k = per_name[launch["name"]]
        k["n"] += 1
        k["us"] += launch["us"]
        if "bytes" in launch:
            k["bytes"] += launch["bytes"]
            k["has_bytes"] = True
        if "sm" in launch:
            k["sm_us"] += launch["sm"] * launch["us"]
            k["has_sm"] = True
    total = sum(k["us"] for k in per_name.values())
    print(f"kernels of one step, {title}: {sum(k['n'] for k in per_name.values())} launches, "
          f"{total / 1e3:.2f} ms of device time")
    print(f"{'kernel':<90} {'launches':>8} {'ms':>8} {'share':>6} {'GB/s':>7} {'of peak':>7} {'SM %':>5}")
    for name, k in sorted(per_name.items(), key=lambda kv: -kv[1]["us"]):
        gbs = k["bytes"] / (k["us"] * 1e3) if k["has_bytes"] and k["us"] > 0 else None
        sm = k["sm_us"] / k["us"] if k["has_sm"] and k["us"] > 0 else None
        print(f"{name:<90} {k['n']:>8} {k['us'] / 1e3:>8.2f} {k['us'] / total:>6.1%} "
              f"{f'{gbs:,.0f}' if gbs is not None else '–':>7} {f'{gbs / peak:.0%}' if gbs is not None else '–':>7} "
              f"{f'{sm:.0f}' if sm is not None else '–':>5}")


if __name__ == "__main__":
    main(sys.argv)
