#!/usr/bin/env bash
# An experiment of conf/experiments/ (default: paper-comparison.properties, the DeepSeekMoE paper's Table 1 at small
# scale) on a GPU host, through the product's jobs as a cluster runs them: a Spark standalone master and worker, and
# for each model and seed `train` then `evaluate` sent with spark-submit (scripts/gpu/spark-steps.sh, the pieces
# scripts/gpu/train-on-gpu.sh uses too). Every run reads the same token shards; runs of one seed read them in the
# same order. A run is named MODEL-seedSEED.
#   scripts/experiments/paper-comparison.sh [EXPERIMENT_FILE]
# Resumable: call it again after it was stopped (a time limit, a lost host) and it goes on where it was: a run whose
# summary.json and evaluation/evaluation.json exist is skipped, one with a checkpoint but no summary.json continues
# with `train --resume true`, one stopped before its first checkpoint starts again, one trained but not evaluated is
# evaluated. After each run its metrics, evaluation files and job logs (no checkpoints, no parameters) are packed into
# $OUT/results.tgz (steps.jsonl without its per-step expert loads and backend line: steps-loss.jsonl; rounds.jsonl
# keeps the loads per round), with the report scripts/experiments/paper_report.py writes from them (results/report/;
# its markdown also as $OUT/results.md). $OUT holds these three files only. On a fresh host (WORK
# gone), PREVIOUS_RESULTS names the unpacked results/ of earlier calls: the runs finished there are not run again.
# Environment:
#   SPARKMOE_RUNTIME  the runtime (scripts/gpu/install-runtime.sh; default $HOME/sparkmoe-runtime) whose data/<data.name>/
#                     holds tokenizer/ and tokens/ (scripts/experiments/prepare-data.sh); DATA_DIR overrides that folder
#   OUT               console.log, results.tgz, results.md (default /tmp/sparkmoe-paper-comparison)
#   WORK              run directories, job logs, Spark's files (default $HOME/sparkmoe-paper-comparison)
#   BACKEND           train's and evaluate's backend instead of the file's (auto to rehearse on a host without a GPU,
#                     with SPARKMOE_GPU_DISCOVERY naming a script that hands out a GPU address anyway)
#   PREVIOUS_RESULTS  an earlier call's results/ (from its results.tgz), copied into this call's results first
#   TASK_CPUS, DRIVER_MEMORY, EXECUTOR_MEMORY   as scripts/gpu/spark-steps.sh
#   LANES             runs at once (default 1): the runs are dealt to that many sequences, each with its own standalone
#                     cluster (master port SPARKMOE_MASTER_PORT + lane, default 7077), WORK/lanes/N and TASK_CPUS
#                     (default: the host's cores shared out); a run and the run its evaluation is drawn beside share a
#                     lane. Small models leave a GPU mostly idle (host-bound steps, JVM start, evaluate), so lanes
#                     sharing it finish the experiment sooner (docs/experiments.md); the results come together in OUT.
#   RUNS              the runs to make, MODEL:SEED,... (default: every model at the file's seed, then its extra seeds)
# Overrides that shrink the experiment for a rehearsal (the file's values otherwise): MODELS (comma-separated subset),
# ROUNDS, LOCAL_STEPS, BATCH (batch-size and micro-batch), SEQ_LEN, WARMUP, SEQUENCES (evaluate's and the validation
# during training's), MODEL_OVERRIDES
# (model config keys, e.g. num_hidden_layers=2,hidden_size=64, applied to every model).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/scripts/experiments/properties.sh"
experiment="$(cd "$(dirname "${1:-$here/conf/experiments/paper-comparison.properties}")" && pwd)/$(basename "${1:-paper-comparison.properties}")"
runtime="${SPARKMOE_RUNTIME:-$HOME/sparkmoe-runtime}"
out="${OUT:-/tmp/sparkmoe-paper-comparison}"
work="${WORK:-$HOME/sparkmoe-paper-comparison}"
source "$here/scripts/gpu/spark-steps.sh"

data_dir="${DATA_DIR:-$runtime/data/$(prop "$experiment" data.name)}" || exit 2
manifest="$data_dir/tokens/v1"
tokenizer="$data_dir/tokenizer/tokenizer.json"
if [[ ! -f "$manifest/manifest.json" || ! -f "$tokenizer" ]]; then
  echo "paper-comparison.sh: no dataset at $manifest or no tokenizer at $tokenizer; make them with" \
       "scripts/experiments/prepare-data.sh and put the folder into the runtime (scripts/gpu/runtime.sh OUT PART_MB DIR)" >&2
  exit 2
fi

# The job options: every train.KEY / evaluate.KEY of the file, then the rehearsal overrides.
declare -A train_opts evaluate_opts
for key in $(prop_keys "$experiment" train.); do train_opts[${key#train.}]="$(prop "$experiment" "$key")"; done
for key in $(prop_keys "$experiment" evaluate.); do evaluate_opts[${key#evaluate.}]="$(prop "$experiment" "$key")"; done
[[ -n "${ROUNDS:-}" ]] && train_opts[rounds]="$ROUNDS"
[[ -n "${LOCAL_STEPS:-}" ]] && train_opts[local-steps]="$LOCAL_STEPS"
[[ -n "${BATCH:-}" ]] && train_opts[batch-size]="$BATCH" train_opts[engine.micro-batch]="$BATCH" evaluate_opts[batch-size]="$BATCH"
[[ -n "${SEQ_LEN:-}" ]] && train_opts[seq-len]="$SEQ_LEN"
[[ -n "${WARMUP:-}" ]] && train_opts[engine.warmup-steps]="$WARMUP"
if [[ -n "${SEQUENCES:-}" ]]; then
  evaluate_opts[sequences]="$SEQUENCES"
  [[ -n "${train_opts[validation-sequences]:-}" ]] && train_opts[validation-sequences]="$SEQUENCES"
fi
[[ -n "${BACKEND:-}" ]] && train_opts[backend]="$BACKEND" evaluate_opts[backend]="$BACKEND"
options() {  # NAME of an associative array: its entries as --KEY VALUE, sorted by key
  local -n opts="$1"
  local key
  for key in $(printf '%s\n' "${!opts[@]}" | sort); do printf -- '--%s\n%s\n' "$key" "${opts[$key]}"; done
}
model_overrides=()
IFS=',' read -ra pairs <<< "${MODEL_OVERRIDES:-}"
for pair in "${pairs[@]}"; do [[ -n "$pair" ]] && model_overrides+=(--set "$pair"); done

# The runs: every model at the file's seed, then the extra seeds (so the first seed's table is complete first).
models="${MODELS:-$(prop "$experiment" models)}" || exit 2
seed="$(prop "$experiment" seed)" || exit 2
run_list=()
for model in ${models//,/ }; do run_list+=("$model:$seed"); done
for pair in $(prop "$experiment" extra-seeds "" | tr ',' ' '); do
  [[ ",$models," == *",${pair%%:*},"* ]] && run_list+=("$pair")
done
[[ -n "${RUNS:-}" ]] && IFS=',' read -ra run_list <<< "$RUNS"
compare_with() {  # MODEL: the model whose run of the same seed MODEL's evaluation is drawn beside, if any
  local pair
  for pair in $(prop "$experiment" compare "" | tr ',' ' '); do
    [[ "${pair%%:*}" == "$1" ]] && echo "${pair#*:}"
  done
}
mapfile -t train_args < <(options train_opts)
mapfile -t evaluate_args < <(options evaluate_opts)
tokens=$(( ${train_opts[rounds]} * ${train_opts[local-steps]} * ${train_opts[batch-size]} * ${train_opts[seq-len]} ))
# The experiment file (and its base) go with the results; the resolved options are in console.log.
cp "$experiment" "$res/"
base="$(prop "$experiment" base "")" && [[ -n "$base" ]] && cp "$(dirname "$experiment")/$base" "$res/"
say "experiment $(basename "$experiment"): ${#run_list[@]} runs (${run_list[*]}), $tokens tokens each;" \
    "train ${train_args[*]} ${model_overrides[*]}; evaluate ${evaluate_args[*]}"

attempt_log() {  # NAME: NAME, or NAME.N for the N-th later attempt, so an earlier attempt's log stays
  local name="$1" n=1
  while [[ -f "$res/$name.log" ]]; do n=$((n + 1)); name="$1.$n"; done
  echo "$name"
}

model_info() {  # MODEL ID: the model's sizes and FLOPs per token (the model-info job) into the run's model-info.json
  submit "$2-model-info" -- model-info --model "$1" "${model_overrides[@]}" --json true \
      && grep '^{' "$res/$2-model-info.log" | tail -1 > "$runs/$2/model-info.json"
}

pack_run() {  # ID: pack, with the step metrics cut to what the report reads (a line of steps.jsonl carries every
  # layer's expert loads and the backend's description: 3.5 KB at cmp-deepseekmoe, 22 MB per run)
  pack "$1"
  local steps="$res/$1/metrics/steps.jsonl"
  [[ -f "$steps" ]] && python3 - "$steps" <<'PY' && rm "$steps"
import json, os, sys
drop = {"experts", "backend"}
with open(sys.argv[1]) as f, open(os.path.join(os.path.dirname(sys.argv[1]), "steps-loss.jsonl"), "w") as out:
    for line in f:
        if line.strip():
            out.write(json.dumps({k: v for k, v in json.loads(line).items() if k not in drop}) + "\n")
PY
}
report() {  # the report of what is packed so far, into the archive and $OUT/results.md
  python3 "$here/scripts/experiments/paper_report.py" "$res" "$res/report" >> "$log" 2>&1 \
      && cp "$res/report/results.md" "$out/" || say "paper_report.py failed (see $log)"
}

finished() {  # ID: the run was trained and evaluated, here or (packed) in an earlier call's results
  [[ -f "$1/summary.json" && -f "$1/evaluation/evaluation.json" ]]
}
if [[ -n "${PREVIOUS_RESULTS:-}" ]]; then
  for entry in "${run_list[@]}"; do
    id="${entry%%:*}-seed${entry#*:}"
    if finished "$PREVIOUS_RESULTS/$id" && ! finished "$res/$id"; then
      cp -r "$PREVIOUS_RESULTS/$id" "$res/" && cp "$PREVIOUS_RESULTS/$id"-*.log "$res/" 2>/dev/null
      say "$id: finished in an earlier call (PREVIOUS_RESULTS)"
    fi
  done
fi

lanes="${LANES:-1}"
if (( lanes > 1 )); then
  # Deal the runs to the lanes: a run and the run it is compared with (the same seed) form a group; the largest groups
  # first, each to the lane with the fewest runs, and every lane keeps the experiment's order.
  declare -A group_of=() lane_of=()
  for entry in "${run_list[@]}"; do group_of[$entry]="$entry"; done
  for entry in "${run_list[@]}"; do
    other="$(compare_with "${entry%%:*}")"
    [[ -n "$other" && -n "${group_of[$other:${entry#*:}]:-}" ]] && group_of[$entry]="$other:${entry#*:}"
  done
  declare -A group_size=()
  for entry in "${run_list[@]}"; do group_size[${group_of[$entry]}]=$(( ${group_size[${group_of[$entry]}]:-0} + 1 )); done
  declare -a lane_count=()
  for lane in $(seq 1 "$lanes"); do lane_count[$lane]=0; done
  for group in $(for g in "${!group_size[@]}"; do echo "${group_size[$g]} $g"; done | sort -s -k1,1nr | awk '{print $2}'); do
    best=1
    for lane in $(seq 1 "$lanes"); do (( lane_count[lane] < lane_count[best] )) && best=$lane; done
    lane_of[$group]=$best; lane_count[$best]=$(( lane_count[best] + group_size[$group] ))
  done
  port="${SPARKMOE_MASTER_PORT:-7077}"
  cpus="${TASK_CPUS:-$(( $(nproc) / lanes > 0 ? $(nproc) / lanes : 1 ))}"
  pids=()
  for lane in $(seq 1 "$lanes"); do
    lane_runs=()
    for entry in "${run_list[@]}"; do [[ ${lane_of[${group_of[$entry]}]} == "$lane" ]] && lane_runs+=("$entry"); done
    [[ ${#lane_runs[@]} -eq 0 ]] && continue
    lane_work="$work/lanes/$lane"
    # Each lane's daemons keep their logs and pid files in a SPARK_HOME of its own, over the runtime's jars.
    mkdir -p "$lane_work/spark"
    ln -sfn "$runtime/spark/jars" "$lane_work/spark/jars"
    cp -r "$runtime/spark/conf" "$lane_work/spark/"
    say "lane $lane: ${lane_runs[*]} (master port $((port + lane)), $cpus task CPUs)"
    LANES=1 SPARKMOE_LANE=$lane RUNS="$(IFS=,; echo "${lane_runs[*]}")" WORK="$lane_work" OUT="$lane_work/out" \
        SPARKMOE_MASTER_PORT=$((port + lane)) SPARKMOE_SPARK_HOME="$lane_work/spark" TASK_CPUS="$cpus" \
        PREVIOUS_RESULTS="$res" setsid "$here/scripts/experiments/paper-comparison.sh" "$experiment" &
    pids+=($!)
  done
  collect() {  # the lanes' results so far into $res, the report and $out/results.tgz
    local lane_dir
    for lane_dir in "$work"/lanes/*/; do
      [[ -d "$lane_dir/results" ]] && tar -C "$lane_dir/results" --exclude=./report -cf - . | tar -C "$res" -xf -
      cp "$lane_dir/out/console.log" "$res/console-lane-$(basename "$lane_dir").log" 2>/dev/null
    done
    compgen -G "$res/*/summary.json" > /dev/null && report
    archive
  }
  stop_lanes() {  # each lane's process group (its jobs' drivers too) and its Spark daemons
    local pid
    for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null; done
    for lane_dir in "$work"/lanes/*/; do "$here/scripts/gpu/standalone.sh" stop "$lane_dir/spark"; done
    collect
    exit 1
  }
  trap stop_lanes TERM INT
  # Collect whenever a lane packed a run, so a call stopped from outside still returns every finished run.
  stamp=""
  while [[ -n "$(jobs -rp)" ]]; do
    sleep 10
    now="$(ls -l --time-style=+%s "$work"/lanes/*/out/results.tgz 2>/dev/null | md5sum)"
    [[ "$now" != "$stamp" ]] && { stamp="$now"; collect; }
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  collect
  say "done, status $status: $out/results.tgz, $out/results.md"
  exit $status
fi

for entry in "${run_list[@]}"; do
  model="${entry%%:*}"; run_seed="${entry#*:}"; id="$model-seed$run_seed"; dir="$runs/$id"
  if finished "$dir" || { [[ ! -d "$dir" ]] && finished "$res/$id"; }; then
    say "$id: trained and evaluated, skipped"
    continue
  fi
  cluster || break
  if [[ ! -f "$dir/summary.json" ]]; then
    resume=()
    if compgen -G "$dir/checkpoints/round-*" > /dev/null; then
      resume=(--resume true)
      say "$id: continues from $(basename "$(ls -d "$dir"/checkpoints/round-* | sort | tail -1)")"
    elif [[ -d "$dir" ]]; then
      say "$id: stopped before its first checkpoint, starts again"
      rm -rf "$dir"
    fi
    submit "$(attempt_log "$id-train")" -- train --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" \
        --run-id "$id" --model "$model" "${model_overrides[@]}" --seed "$run_seed" "${train_args[@]}" "${resume[@]}" \
        || { status=1; pack_run "$id"; archive; continue; }
    summary "$id"
  fi
  [[ -s "$dir/model-info.json" ]] || model_info "$model" "$id"
  # Trained: the checkpoints are no longer needed (final/ holds the parameters evaluate scores).
  rm -rf "$dir/checkpoints" "$dir/workers"
  compare=()
  other="$(compare_with "$model")"
  # evaluate reads only the compared run's evaluation.json, which the packed copy has too.
  for candidate in "$runs/$other-seed$run_seed" "$res/$other-seed$run_seed"; do
    [[ -n "$other" && -f "$candidate/evaluation/evaluation.json" ]] && { compare=(--compare-run "$candidate"); break; }
  done
  submit "$(attempt_log "$id-evaluate")" -- evaluate --run "$dir" --tokenizer "$tokenizer" "${evaluate_args[@]}" \
      "${compare[@]}" || status=1
  pack_run "$id"
  report
  archive
done
cluster_stop
report
archive
say "done, status $status: $out/results.tgz, $out/results.md"
exit $status
