"""Tests of paper_report.py on run folders laid out as paper-comparison.sh packs them (bin/test runs them):
    python3 -m unittest discover -s scripts/experiments -p 'test_*.py'
"""
import json
import os
import random
import tempfile
import unittest

import paper_report

CONFIGS = {  # the keys architecture() reads, as the cmp-* presets set them
    "dense": {"routing": "dense", "n_routed_experts": "0", "n_shared_experts": "0", "num_experts_per_tok": "0"},
    "gshard": {"routing": "softmax", "n_routed_experts": "16", "n_shared_experts": "0", "num_experts_per_tok": "2"},
    "deepseekmoe": {"routing": "softmax", "n_routed_experts": "63", "n_shared_experts": "1",
                    "num_experts_per_tok": "7"},
}


def write_run(results, model, seed, validation, tokens_per_round=1000, loads=None):
    run = os.path.join(results, f"cmp-{model}-seed{seed}")
    os.makedirs(os.path.join(run, "metrics"))
    os.makedirs(os.path.join(run, "evaluation"))
    with open(os.path.join(run, "model.json"), "w") as f:
        json.dump({"model": f"cmp-{model}", "seed": seed, "model_config": CONFIGS[model]}, f)
    with open(os.path.join(run, "summary.json"), "w") as f:
        json.dump({"rounds": len(validation), "total_tokens": tokens_per_round * len(validation),
                   "final_loss": validation[-1] - 1}, f)
    with open(os.path.join(run, "evaluation", "evaluation.json"), "w") as f:
        evaluation = {"validation": {"loss": validation[-1], "sequences": 8}, "specialisation": {}}
        if loads is not None:  # what evaluate writes for a routed model: its analyses and per-layer loads
            config = CONFIGS[model]
            evaluation["specialisation"] = {"routed_experts": int(config["n_routed_experts"]),
                                            "experts_per_token": int(config["num_experts_per_tok"]),
                                            "baseline_loss": validation[-1], "disabled_top_experts": [],
                                            "activated_routed_experts": []}
            evaluation["validation_expert_load"] = [{"layer": i, "load_cv": cv, "tokens_per_expert": counts}
                                                    for i, (cv, counts) in enumerate(loads)]
        json.dump(evaluation, f)
    with open(os.path.join(run, "metrics", "rounds.jsonl"), "w") as f:
        for i, v in enumerate(validation):
            f.write(json.dumps({"round": i, "loss": v - 0.5, "total_tokens": tokens_per_round * (i + 1),
                                "validation_loss": v}) + "\n")


class PaperReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.results = os.path.join(self.tmp.name, "results")
        rng = random.Random(7)
        # DeepSeekMoE lowest early, Dense lowest at the end; GShard's two seeds differ by 0.02 at every round.
        self.dsm = [5 - 0.2 * i + (0.3 * (i - 8) if i > 8 else 0) for i in range(16)]
        self.dense = [5.2 - 0.12 * i for i in range(16)]
        base = [5.1 - 0.18 * i + (0.25 * (i - 8) if i > 8 else 0) + rng.uniform(-0.01, 0.01) for i in range(16)]
        write_run(self.results, "deepseekmoe", 42, self.dsm)
        write_run(self.results, "dense", 42, self.dense)
        write_run(self.results, "gshard", 42, base)
        write_run(self.results, "gshard", 43, [v + 0.02 for v in base])

    def tearDown(self):
        self.tmp.cleanup()

    def test_validation_along_gives_the_ordering_and_the_seed_noise_at_equal_tokens(self):
        table = paper_report.validation_along(paper_report.load_runs(self.results), columns=4)
        rows = {line.split(" | ")[0].lstrip("| "): line.strip("| ").split(" | ")[1:]
                for line in table.splitlines()[2:]}
        self.assertEqual(["4.0 K", "8.0 K", "12.0 K", "16.0 K"], table.splitlines()[0].strip("| ").split(" | ")[1:])
        self.assertEqual(f"{self.dsm[3]:.4f}", rows["DeepSeekMoE"][0])
        self.assertEqual(f"{self.dense[15]:.4f}", rows["Dense"][3])
        self.assertEqual("DSM < G < D", rows["order, lowest first"][1])
        self.assertEqual("D", rows["order, lowest first"][3].split(" < ")[0])
        self.assertTrue(all(abs(float(x) - 0.01) < 1e-9 for x in rows["largest seed half-range"]))
        self.assertIn("GShard (2 seeds)", rows)

    def test_markdown_keeps_the_text_above_the_marker_and_replaces_the_rest(self):
        markdown = os.path.join(self.tmp.name, "results.md")
        with open(markdown, "w") as f:
            f.write(f"# Results\n\nWritten by hand.\n\n{paper_report.MARKER}\n\nan older report\n")
        out = os.path.join(self.tmp.name, "figures")
        self.assertEqual(0, paper_report.main(["paper_report.py", self.results, out, "--markdown", markdown]))
        with open(markdown) as f:
            text = f.read()
        self.assertTrue(text.startswith("# Results\n\nWritten by hand.\n\n" + paper_report.MARKER))
        self.assertNotIn("an older report", text)
        self.assertIn("| GShard | `cmp-gshard` |", text)
        self.assertIn("(figures/validation-curves.", text)

    def test_expert_load_per_layer_side_by_side(self):
        write_run(self.results, "gshard", 44, self.dsm, loads=[(0.25, [30, 10, 20, 20]), (0.0, [5, 5, 5, 5])])
        write_run(self.results, "deepseekmoe", 44, self.dsm, loads=[(0.1, [9, 11, 10, 10])])
        sections = paper_report.specialisation(paper_report.load_runs(self.results))
        text = [s for s in sections if s.startswith("#### Seed 44")][0]
        rows = [line for line in text.splitlines() if line.startswith("| 0 |") or line.startswith("| 1 |")]
        self.assertEqual("| 0 | 0.250 | 1.50 | 0.100 | 1.10 |", rows[-2])
        self.assertEqual("| 1 | 0.000 | 1.00 | – | – |", rows[-1])

    def test_markdown_without_the_marker_is_the_report_alone(self):
        markdown = os.path.join(self.tmp.name, "report.md")
        with open(markdown, "w") as f:
            f.write("stale\n")
        paper_report.main(["paper_report.py", self.results, self.tmp.name, "--markdown", markdown])
        with open(markdown) as f:
            self.assertTrue(f.read().startswith("## Results"))


if __name__ == "__main__":
    unittest.main()
