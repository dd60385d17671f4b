"""The report of a model comparison (scripts/experiments/paper-comparison.sh) from its packed results: a markdown
table per model (sizes, tokens, validation loss and bits per byte, the spread over seeds, the DeepSeekMoE paper's
Table 1 figure beside it), the training-loss curves of every run overlaid, and the §4.5 specialisation analyses of
GShard and DeepSeekMoE side by side.
    python3 paper_report.py RESULTS_DIR OUT_DIR [--markdown FILE]
RESULTS_DIR holds one folder per run (MODEL-seedSEED/ with model.json, model-info.json, summary.json,
metrics/rounds.jsonl and steps.jsonl or steps-loss.jsonl, evaluation/evaluation.json). Writes OUT_DIR/loss-curves.svg (and loss-curves.png where matplotlib
is installed), copies the DeepSeekMoE run's specialisation PNGs (drawn beside GShard by evaluate --compare-run) into
OUT_DIR, and the markdown into FILE (default OUT_DIR/results.md) with the figures linked relative to it. Where FILE
exists and holds the line MARKER, the text above it (a discussion written by hand) is kept and the report replaces
what follows. Standard library only, matplotlib optional.
"""
import json
import math
import os
import shutil
import statistics
import sys

MARKER = "<!-- paper_report.py writes everything below this line -->"

# arXiv 2401.06066, Table 1 (§4.2): Pile loss after 100B tokens at 2.0B total parameters (Dense: 0.2B).
PAPER = {"Dense": 2.060, "Hash Layer": 1.932, "Switch": 1.881, "GShard": 1.867, "DeepSeekMoE": 1.808}
ORDER = list(PAPER)
COLOURS = {"Dense": "#555555", "Hash Layer": "#8c564b", "Switch": "#ff7f0e", "GShard": "#1f77b4",
           "DeepSeekMoE": "#d62728"}


def architecture(config):
    """The paper's name of the model a run's model_config describes."""
    if config["routing"] == "dense" or int(config["n_routed_experts"]) == 0:
        return "Dense"
    if config["routing"] == "hash":
        return "Hash Layer"
    if int(config["n_shared_experts"]) > 0:
        return "DeepSeekMoE"
    return "Switch" if int(config["num_experts_per_tok"]) == 1 else "GShard"


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def load_runs(results):
    runs = []
    for name in sorted(os.listdir(results)):
        run = os.path.join(results, name)
        model = read_json(os.path.join(run, "model.json"))
        if model is None:
            continue
        # paper-comparison.sh packs steps.jsonl cut to steps-loss.jsonl
        steps = (read_jsonl(os.path.join(run, "metrics", "steps.jsonl"))
                 or read_jsonl(os.path.join(run, "metrics", "steps-loss.jsonl")))
        rounds = read_jsonl(os.path.join(run, "metrics", "rounds.jsonl"))
        runs.append({
            "id": name, "dir": run, "arch": architecture(model["model_config"]), "seed": model.get("seed"),
            "preset": model.get("model"), "config": model["model_config"],
            "info": read_json(os.path.join(run, "model-info.json")) or {},
            "summary": read_json(os.path.join(run, "summary.json")) or {},
            "evaluation": read_json(os.path.join(run, "evaluation", "evaluation.json")),
            "steps": steps, "rounds": rounds,
        })
    runs.sort(key=lambda r: (ORDER.index(r["arch"]), r["seed"] or 0))
    return runs


def millions(n):
    """A count in millions, or in thousands below one million."""
    if n is None:
        return "–"
    return f"{n / 1e6:,.1f} M" if n >= 1e6 else f"{n / 1e3:,.1f} K"


def fmt(x, digits=4):
    return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "–"


def spread(values):
    """mean, and '±half range (n seeds)' for more than one value."""
    if not values:
        return None, ""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return mean, ""
    return mean, f" ± {(max(values) - min(values)) / 2:.4f} ({len(values)} seeds: {', '.join(f'{v:.4f}' for v in values)})"


def table(runs):
    dense = [r["evaluation"]["validation"]["loss"] for r in runs if r["arch"] == "Dense" and r["evaluation"]]
    dense_loss = statistics.fmean(dense) if dense else None
    lines = ["| model | preset | total params | activated params | training FLOPs / token | tokens per run | "
             "validation loss | Δ vs Dense | bits per byte | paper: Pile loss (Δ vs Dense) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arch in ORDER:
        group = [r for r in runs if r["arch"] == arch]
        if not group:
            continue
        first = group[0]
        evaluated = [r for r in group if r["evaluation"]]
        loss, loss_spread = spread([r["evaluation"]["validation"]["loss"] for r in evaluated])
        bpb, bpb_spread = spread([r["evaluation"]["validation"].get("bits_per_byte") for r in evaluated
                                  if r["evaluation"]["validation"].get("bits_per_byte") is not None])
        tokens = sorted({r["summary"].get("total_tokens") for r in group if r["summary"].get("total_tokens")})
        delta = (f"{loss - dense_loss:+.3f}" if loss is not None and dense_loss is not None and arch != "Dense"
                 else "–")
        paper = PAPER[arch]
        paper_delta = f" ({paper - PAPER['Dense']:+.3f})" if arch != "Dense" else ""
        info = first["info"]
        flops = info.get("flops_per_token")
        lines.append(
            f"| {arch} | `{os.path.basename(str(first['preset'])).removesuffix('.properties')}` | "
            f"{millions(info.get('total_params'))} | {millions(info.get('activated_params'))} | "
            f"{f'{flops / 1e6:,.1f} M' if flops else '–'} | {', '.join(f'{t:,}' for t in tokens) or '–'} | "
            f"{fmt(loss)}{loss_spread} | {delta} | {fmt(bpb)}{bpb_spread} | {paper:.3f}{paper_delta} |")
    return "\n".join(lines)


def curves(runs, window, points=400):
    """Per run: (tokens, loss) points, each the mean step loss (over the workers) of the last `window` steps, at most
    `points` of them; the round losses where a run has no step metrics."""
    out = {}
    for r in runs:
        by_step = {}
        for s in r["steps"]:
            by_step.setdefault(s["global_step"], []).append((s["tokens"], s["loss"]))
        if by_step:
            steps = sorted(by_step)
            tokens = [sum(t for t, _ in by_step[g]) for g in steps]
            losses = [statistics.fmean(l for _, l in by_step[g]) for g in steps]
            stride = max(1, len(steps) // points)
            picks = list(range(stride - 1, len(steps), stride))
            if picks[-1] != len(steps) - 1:
                picks.append(len(steps) - 1)
            seen = [sum(tokens[:i + 1]) for i in range(len(tokens))]
            pts = [(seen[i], statistics.fmean(losses[max(0, i - window + 1):i + 1])) for i in picks]
        else:
            pts = [(x["total_tokens"], x["loss"]) for x in r["rounds"]]
        pts = [(x, y) for x, y in pts if math.isfinite(y)]
        if pts:
            out[r["id"]] = (r["arch"], r["seed"], pts)
    return out


def validation_points(run):
    """(tokens trained, validation loss) after every round that scored the validation split (train --validate-every)."""
    return [(x["total_tokens"], x["validation_loss"]) for x in run["rounds"]
            if x.get("validation_loss") is not None and math.isfinite(x["validation_loss"])]


def validation_table(runs):
    """Per model: the validation loss during training at its lowest and at the end, over the seeds."""
    lines = ["| model | lowest validation loss | reached after (tokens) | at the end | end − lowest |",
             "|---|---:|---:|---:|---:|"]
    for arch in ORDER:
        group = [validation_points(r) for r in runs if r["arch"] == arch]
        group = [pts for pts in group if pts]
        if not group:
            continue
        lowest, lowest_spread = spread([min(y for _, y in pts) for pts in group])
        at = sorted({min(pts, key=lambda p: p[1])[0] for pts in group})
        end, end_spread = spread([pts[-1][1] for pts in group])
        lines.append(f"| {arch} | {fmt(lowest)}{lowest_spread} | {', '.join(f'{t:,}' for t in at)} | "
                     f"{fmt(end)}{end_spread} | {end - lowest:+.4f} |")
    return "\n".join(lines) if len(lines) > 2 else None


def validation_along(runs, columns=8):
    """The validation loss of every model (mean over its seeds) at equal tokens, at `columns` evenly spaced points that
    every run scored, with the ordering and the largest seed half-range at each: whether a gap exceeds seed noise."""
    per_run = {r["id"]: dict(validation_points(r)) for r in runs if validation_points(r)}
    if not per_run:
        return None
    common = sorted(set.intersection(*(set(points) for points in per_run.values())))
    if len(common) < 2:
        return None
    stride = max(1, len(common) // columns)
    picks = common[stride - 1::stride]
    if picks[-1] != common[-1]:
        picks.append(common[-1])
    archs = [a for a in ORDER if any(r["arch"] == a and r["id"] in per_run for r in runs)]
    short = {"Dense": "D", "Hash Layer": "H", "Switch": "S", "GShard": "G", "DeepSeekMoE": "DSM"}
    lines = ["| model | " + " | ".join(millions(t) for t in picks) + " |",
             "|---|" + "---:|" * len(picks)]
    means, noise = {}, [0.0] * len(picks)
    for arch in archs:
        ids = [r["id"] for r in runs if r["arch"] == arch and r["id"] in per_run]
        row = []
        for i, t in enumerate(picks):
            values = [per_run[x][t] for x in ids]
            means[arch, t] = statistics.fmean(values)
            noise[i] = max(noise[i], (max(values) - min(values)) / 2)
            row.append(fmt(means[arch, t]))
        lines.append(f"| {arch}{f' ({len(ids)} seeds)' if len(ids) > 1 else ''} | " + " | ".join(row) + " |")
    lines.append("| order, lowest first | " + " | ".join(
        " < ".join(short[a] for a in sorted(archs, key=lambda a: means[a, t])) for t in picks) + " |")
    lines.append("| largest seed half-range | " + " | ".join(fmt(n) for n in noise) + " |")
    return "\n".join(lines)


def nice_ticks(lo, hi, n=5):
    span = hi - lo or 1.0
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)], step


def tick_label(v, step):
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:g}k"
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{v:.{decimals}f}"


def svg_plot(series, path, title, xlabel, ylabel):
    """Overlaid lines as an SVG (no dependency): series = [(label, colour, dashed, [(x, y)...])]."""
    w, h, left, right, top, bottom = 900, 460, 70, 200, 40, 50
    xs = [x for *_, pts in series for x, _ in pts]
    ys = [y for *_, pts in series for _, y in pts]
    x0, x1 = min(xs), max(xs)
    # The first steps' losses (ln V and above) would flatten the part that tells the models apart.
    y_hi = sorted(ys)[int(0.97 * (len(ys) - 1))]
    y0, y1 = min(ys), y_hi if y_hi > min(ys) else max(ys)
    y0, y1 = y0 - 0.03 * (y1 - y0 or 1), y1 + 0.03 * (y1 - y0 or 1)
    px = lambda x: left + (x - x0) / ((x1 - x0) or 1) * (w - left - right)
    py = lambda y: top + (y1 - min(max(y, y0), y1)) / ((y1 - y0) or 1) * (h - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="DejaVu Sans, sans-serif" '
           f'font-size="12"><rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
           f'<text x="{left + (w - left - right) / 2}" y="{h - 10}" text-anchor="middle">{xlabel}</text>',
           f'<text transform="translate(18,{top + (h - top - bottom) / 2}) rotate(-90)" text-anchor="middle">{ylabel}</text>',
           f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" stroke="#000"/>']
    ticks, step = nice_ticks(x0, x1)
    for t in ticks:
        out.append(f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{h - bottom}" stroke="#ddd"/>'
                   f'<text x="{px(t):.1f}" y="{h - bottom + 16}" text-anchor="middle">{tick_label(t, step)}</text>')
    ticks, step = nice_ticks(y0, y1)
    for t in ticks:
        out.append(f'<line x1="{left}" y1="{py(t):.1f}" x2="{w - right}" y2="{py(t):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{tick_label(t, step)}</text>')
    for i, (label, colour, dashed, pts) in enumerate(series):
        path_d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        out.append(f'<polyline points="{path_d}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>')
        ly = top + 10 + 18 * i
        out.append(f'<line x1="{w - right + 12}" y1="{ly}" x2="{w - right + 40}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="2"{dash}/><text x="{w - right + 46}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def png_plot(series, path, title, xlabel, ylabel):
    """The same figure as a PNG where matplotlib is installed; False otherwise."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(9, 4.6), dpi=100)
    ys = sorted(y for *_, pts in series for _, y in pts)
    for label, colour, dashed, pts in series:
        ax.plot([x for x, _ in pts], [y for _, y in pts], color=colour, linestyle="--" if dashed else "-",
                linewidth=1.4, label=label)
    ax.set_ylim(ys[0] - 0.03 * (ys[-1] - ys[0]), ys[int(0.97 * (len(ys) - 1))])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def specialisation(runs):
    """§4.5 tables: GShard and DeepSeekMoE of the same seeds side by side."""
    pairs = {}
    for r in runs:
        if r["arch"] in ("GShard", "DeepSeekMoE") and r["evaluation"] and r["evaluation"].get("specialisation"):
            pairs.setdefault(r["seed"], {})[r["arch"]] = r
    sections = []
    for seed in sorted(pairs):
        both = pairs[seed]
        text = [f"#### Seed {seed}"]
        cols = [a for a in ("GShard", "DeepSeekMoE") if a in both]
        spec = {a: both[a]["evaluation"]["specialisation"] for a in cols}
        text.append("Top routed experts disabled per token (paper Fig. 4): validation loss")
        text.append("")
        text.append("| disabled share | " + " | ".join(
            f"{a} ({spec[a]['routed_experts']} routed, top-{spec[a]['experts_per_token']})" for a in cols) + " |")
        text.append("|---|" + "---:|" * len(cols))
        shares = sorted({round(x["share_asked"], 4) for a in cols for x in spec[a].get("disabled_top_experts", [])})
        for share in shares:
            cells = []
            for a in cols:
                hit = [x for x in spec[a].get("disabled_top_experts", []) if round(x["share_asked"], 4) == share]
                cells.append(f"{hit[0]['loss']:.4f} ({hit[0]['disabled_experts']} disabled)" if hit else "–")
            text.append(f"| {share:g} | " + " | ".join(cells) + " |")
        text.append("")
        text.append("Fewer activated routed experts (paper Fig. 5): validation loss")
        text.append("")
        text.append("| activated routed experts | " + " | ".join(cols) + " |")
        text.append("|---:|" + "---:|" * len(cols))
        ks = sorted({x["activated_experts"] for a in cols for x in spec[a].get("activated_routed_experts", [])}
                    | {spec[a]["experts_per_token"] for a in cols})
        for k in ks:
            cells = []
            for a in cols:
                hit = [x["loss"] for x in spec[a].get("activated_routed_experts", []) if x["activated_experts"] == k]
                if not hit and k == spec[a]["experts_per_token"]:
                    hit = [spec[a]["baseline_loss"]]
                cells.append(f"{hit[0]:.4f}" if hit else "–")
            text.append(f"| {k} | " + " | ".join(cells) + " |")
        if "DeepSeekMoE" in spec and spec["DeepSeekMoE"].get("shared_expert"):
            text.append("")
            text.append("DeepSeekMoE without its shared expert (paper §4.5; K + 1 routed experts keeps the compute):")
            text.append("")
            text.append("| shared expert | activated routed experts | validation loss | change |")
            text.append("|---|---:|---:|---:|")
            for x in spec["DeepSeekMoE"]["shared_expert"]:
                text.append(f"| {'on' if x['shared_experts'] else 'off'} | {x['activated_experts']} | "
                            f"{x['loss']:.4f} | {x['loss_increase']:+.4f} |")
        loads = {a: both[a]["evaluation"].get("validation_expert_load") or [] for a in cols}
        if any(loads.values()):
            text.append("")
            text.append("Expert load per layer on the validation split: coefficient of variation of the tokens each "
                        "routed expert received (0 = perfectly balanced), and the busiest expert's share against an "
                        "even one (max / mean)")
            text.append("")
            text.append("| layer | " + " | ".join(f"{a} CV | {a} max / mean" for a in cols) + " |")
            text.append("|---:|" + "---:|---:|" * len(cols))
            layers = sorted({x["layer"] for a in cols for x in loads[a]})
            for layer in layers:
                cells = []
                for a in cols:
                    hit = [x for x in loads[a] if x["layer"] == layer]
                    counts = hit[0].get("tokens_per_expert", []) if hit else []
                    mean = statistics.fmean(counts) if counts else 0
                    cells.append(f"{hit[0]['load_cv']:.3f}" if hit else "–")
                    cells.append(f"{max(counts) / mean:.2f}" if mean else "–")
                text.append(f"| {layer} | " + " | ".join(cells) + " |")
        notes = [n for a in cols for n in spec[a].get("notes", [])]
        if notes:
            text.append("")
            text.extend(f"- {n}" for n in dict.fromkeys(notes))
        sections.append("\n".join(text))
    return sections


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--markdown")]
    markdown = None
    if "--markdown" in argv:
        markdown = argv[argv.index("--markdown") + 1]
        args.remove(markdown)
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    results, out = args
    os.makedirs(out, exist_ok=True)
    markdown = markdown or os.path.join(out, "results.md")
    rel = os.path.relpath(out, os.path.dirname(os.path.abspath(markdown)) or ".")
    link = lambda name: name if rel == "." else f"{rel}/{name}"
    runs = load_runs(results)
    if not runs:
        print(f"paper_report.py: no run folders (with model.json) in {results}", file=sys.stderr)
        return 1

    md = ["## Results", "",
          "Validation loss is the cross-entropy on held-out sequences of the same dataset for every model (nats per "
          "token); bits per byte divide the summed loss by ln 2 and the text's UTF-8 bytes. The paper's Pile losses "
          "come from 2.0B-parameter models after 100B tokens of another corpus: compare the ordering and the gaps "
          "(Δ vs Dense), not the values. Where a model ran with several seeds, its loss is their mean ± half their "
          "range.", "", table(runs), ""]
    steps = max((len({s["global_step"] for s in r["steps"]}) for r in runs), default=0)
    window = max(1, min(50, steps // 20))
    series = [(f"{arch} (seed {seed})", COLOURS[arch], seed != min(r["seed"] for r in runs if r["arch"] == arch),
               pts) for _, (arch, seed, pts) in curves(runs, window).items()]
    if series:
        title = f"Training loss (mean of the last {window} steps)" if window > 1 else "Training loss per step"
        svg_plot(series, os.path.join(out, "loss-curves.svg"), title, "tokens", "loss")
        figure = "loss-curves.png" if png_plot(series, os.path.join(out, "loss-curves.png"), title, "tokens",
                                               "loss") else "loss-curves.svg"
        md += ["### Training loss", "", f"![training loss of every run]({link(figure)})", ""]
    held_out = validation_table(runs)
    if held_out:
        series = [(f"{r['arch']} (seed {r['seed']})", COLOURS[r["arch"]],
                   r["seed"] != min(x["seed"] for x in runs if x["arch"] == r["arch"]), validation_points(r))
                  for r in runs if validation_points(r)]
        title = "Validation loss during training"
        svg_plot(series, os.path.join(out, "validation-curves.svg"), title, "tokens", "validation loss")
        figure = ("validation-curves.png" if png_plot(series, os.path.join(out, "validation-curves.png"), title,
                                                      "tokens", "validation loss") else "validation-curves.svg")
        md += ["### Validation loss during training", "",
               "The same validation sequences scored after every round that `train --validate-every` names: where "
               "each model's held-out loss was lowest, and how far it rose from there by the end (a model that "
               "repeats a small training split learns it by heart).", "", held_out, ""]
        along = validation_along(runs)
        if along:
            md += ["At equal tokens along the way (the paper's comparison is at equal tokens; here it is drawn at "
                   "several points, since the training split repeats): every model's validation loss, the ordering, "
                   "and the largest difference between two seeds of one model, half of it, as the noise a gap must "
                   "exceed.", "", along, ""]
        md += [f"![validation loss of every run]({link(figure)})", ""]
    sections = specialisation(runs)
    if sections:
        md += ["### Expert specialisation (the paper's §4.5): GShard and DeepSeekMoE", ""]
        for r in runs:
            if r["arch"] == "DeepSeekMoE" and r["evaluation"]:
                for plot in r["evaluation"]["specialisation"].get("plots", []):
                    source = os.path.join(r["dir"], "evaluation", plot)
                    if os.path.exists(source):
                        shutil.copy(source, os.path.join(out, plot))
                        md.append(f"![{plot}]({link(plot)})")
                md.append("")
                break
        md += ["\n\n".join(sections), ""]
    md += ["### Runs", "", "| run | rounds | tokens | final training loss | validation sequences | evaluated |",
           "|---|---:|---:|---:|---:|---|"]
    for r in runs:
        v = (r["evaluation"] or {}).get("validation", {})
        md.append(f"| `{r['id']}` | {r['summary'].get('rounds', len(r['rounds']))} | "
                  f"{r['summary'].get('total_tokens', 0):,} | {fmt(r['summary'].get('final_loss'))} | "
                  f"{v.get('sequences', '–')} | {'yes' if r['evaluation'] else 'no'} |")
    head = ""
    if os.path.exists(markdown):
        with open(markdown) as f:
            text = f.read()
        if MARKER in text:
            head = text[:text.index(MARKER) + len(MARKER)] + "\n\n"
    with open(markdown, "w") as f:
        f.write(head + "\n".join(md) + "\n")
    print(f"paper_report.py: {len(runs)} runs -> {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
