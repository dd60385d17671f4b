"""One JSON line of a train run's figures, from its metrics: the device and backend the steps ran on, the loss at the
start and end, the median step time and tokens/s of steady-state steps (rounds after the first, whose first steps
carry warm-up), tokens/s per round (the whole round: steps plus everything between them), the overhead share, and
the mean time of each between-steps phase the trainer records.
    python3 run_summary.py RUN_DIR
"""
import json
import os
import statistics
import sys

run = sys.argv[1]
metrics = os.path.join(run, "metrics")
if not os.path.exists(os.path.join(metrics, "rounds.jsonl")):
    print(json.dumps({"run": os.path.basename(run), "error": "no metrics/rounds.jsonl"}))
    sys.exit(0)
rounds = [json.loads(l) for l in open(os.path.join(metrics, "rounds.jsonl")) if l.strip()]
steps = [json.loads(l) for l in open(os.path.join(metrics, "steps.jsonl")) if l.strip()]
steady_rounds = [r for r in rounds if r["round"] >= 1] or rounds
steady_steps = [s for s in steps if s["round"] >= 1] or steps[len(steps) // 2:]
phases = {}
for r in steady_rounds:
    for k, v in r.get("phases", {}).items():
        phases.setdefault(k, []).append(v)
out = {
    "run": os.path.basename(run.rstrip("/")),
    "rounds": len(rounds),
    "devices": sorted({s.get("device", "?") for s in steps}),
    "backend": sorted({s.get("backend", "?").split(";")[0] for s in steps}),
    "first_loss": round(rounds[0]["loss"], 4),
    "final_loss": round(rounds[-1]["loss"], 4),
    "step_seconds_median": round(statistics.median(s["seconds"] for s in steady_steps), 5),
    "step_tokens_per_s_median": round(statistics.median(s["tokens_per_second"] for s in steady_steps)),
    "round_seconds_median": round(statistics.median(r["round_seconds"] for r in steady_rounds), 3),
    "round_tokens_per_s_median": round(statistics.median(r["tokens_per_second"] for r in steady_rounds)),
    "overhead_share_median": round(statistics.median(r["overhead_share"] for r in steady_rounds), 4),
    "retried_tasks": sum(r.get("retried_tasks", 0) for r in rounds),
    "phases_mean_seconds": {k: round(statistics.mean(v), 3) for k, v in sorted(phases.items())},
}
print(json.dumps(out))
