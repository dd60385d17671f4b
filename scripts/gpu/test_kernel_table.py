"""Tests of kernel_table.py on a CSV laid out as `ncu --csv --print-units base` writes it (bin/test runs them)."""
import contextlib
import io
import os
import tempfile
import unittest

import kernel_table

HEADER = ('"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size",'
          '"Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"')


def row(launch, kernel, metric, unit, value):
    return (f'"{launch}","1","java","h","{kernel}(float *, long)","1","7","(256, 1, 1)","(1056, 1, 1)","0","9.0",'
            f'"Command line profiler metrics","{metric}","{unit}","{value}"')


class KernelTableTest(unittest.TestCase):
    def table(self, lines, *options):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "kernels.csv")
            with open(path, "w") as f:
                f.write("==PROF== Connected to process 1\n" + "\n".join([HEADER] + lines) + "\n")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                kernel_table.main(["kernel_table.py", path, "step", *options])
            return out.getvalue().splitlines()

    def test_time_traffic_and_sm_throughput_per_kernel_name(self):
        lines = self.table([
            row(0, "cast_f32_bf16", "dram__bytes.sum", "byte", "6,000,000"),
            row(0, "cast_f32_bf16", "gpu__time_duration.sum", "nsecond", "2,000"),
            row(0, "cast_f32_bf16", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "10"),
            row(1, "cast_f32_bf16", "dram__bytes.sum", "byte", "2000000"),
            row(1, "cast_f32_bf16", "gpu__time_duration.sum", "nsecond", "2000"),
            row(1, "cast_f32_bf16", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "30"),
            row(2, "adamw_f32", "dram__bytes.sum", "byte", "0"),
            row(2, "adamw_f32", "gpu__time_duration.sum", "usecond", "12"),
            row(2, "adamw_f32", "sm__throughput.avg.pct_of_peak_sustained_elapsed", "%", "5"),
        ], "--peak-gbs", "4000")
        self.assertEqual("kernels of one step, step: 3 launches, 0.02 ms of device time", lines[0])
        adamw, cast = lines[2].split(), lines[3].split()
        self.assertEqual(["adamw_f32", "1", "0.01", "75.0%", "0", "0%", "5"], adamw)
        # 8 MB in 4 µs: 2,000 GB/s, half the given peak; SM throughput weighted by time: (10 + 30) / 2
        self.assertEqual(["cast_f32_bf16", "2", "0.00", "25.0%", "2,000", "50%", "20"], cast)

    def test_time_only_csv_leaves_the_other_columns_empty(self):
        lines = self.table([row(0, "rmsnorm_forward", "gpu__time_duration.sum", "nsecond", "1500")])
        self.assertEqual(["rmsnorm_forward", "1", "0.00", "100.0%", "–", "–", "–"], lines[2].split())


if __name__ == "__main__":
    unittest.main()
