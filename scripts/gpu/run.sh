#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root there, with the staged folder carried (scripts/gpu/stage.sh):
#   bash .stage/cuda/run.sh [tests] [bench] [attention] [grouped] [engine] [anchor] [compiled] [profile] [shards] [shared]
#       [kernels] [16b-infer] [16b-train]
#   (default: tests bench engine anchor, in that order)
# tests: the CUDA backend's JUnit tests (GPU ones included) on the JUnit console launcher (TESTS="CudaFusedOpsTest ...":
# only those classes of org.sparkmoe.model.backend.cuda);
# bench: the op sequence of a training step on val2b and small (StepBench), with the engine's fused memory-bound ops
# and with them as separate ops (NAME:separate); attention: causal attention alone at
# val2b's and small's shapes, forward and backward of each attention path (GEMM, FUSED, FLASH on each kernel family
# the GPU runs), ms and TFLOP/s and the paths' agreement (AttentionBench), then StepBench's whole step with GEMM and
# with FLASH attention; grouped: the
# experts' grouped GEMMs alone at val-2b's, small's, cmp-deepseekmoe's and cmp-gshard's MoE shapes, cuBLAS against our
# own kernels, ms and TFLOP/s per product and per MoE layer and the paths' agreement (GroupedGemmBench), then
# StepBench's whole step (FLASH attention) with each grouped path; engine: the engine's TrainingEngine on
# the CUDA backend (tiny loss curves against the CPU backend, small and val-2b throughput; EngineOnCuda);
# anchor: PyTorch (shared/bench/torch_anchor.py) on the same configs, eager; compiled: the same, eager and with
# torch.compile (minutes of compile time); profile: where the engine's step time goes on the host (EngineOnCuda
# profile) and the host-call and grouped-GEMM probe (CudaProbe); shards: tiny's and small's loss curves on real
# token shards, CPU backend (all cores) against CUDA fp32 and bf16; then a side-by-side table.
# kernels: every kernel of one warm training step of each preset in PRESETS (default "small:16"; PRESET[,KEY=VALUE...]:BATCH,
# e.g. "val-2b,num_hidden_layers=3:8": val-2b's layers, a third of them, since Nsight Compute takes minutes per
# thousand kernels), timed by Nsight Compute (device time, DRAM bytes and SM throughput, clocks left alone), summed per
# kernel name: where the device time goes, and how far each kernel is from the memory or compute ceiling.
# 16b-infer: the paper's 16B as an inference engine (SixteenB fit infer: memory estimates of 16b/145b against the
# GPU, loss and time on real ids, then greedy generation with the KV cache, prefill and decode timed); 16b-train: 16b
# with 4 layers (past 2^31 parameters) trained 5 steps, saved as a sharded checkpoint, reloaded, one more step
# compared, then the checkpoint loaded into the PyTorch reference forward (reference_from_checkpoint.py) on the same
# ids: its CE should match the "loss of the saved checkpoint" line.
# shared: the engine's throughput on the presets in PRESETS (default "small:16:200"; PRESET[,KEY=VALUE...]:BATCH:STEPS
# as EngineOnCuda takes them, enough timed steps that the processes' timings overlap) alone, then in COPIES (default 2) processes at once on the one GPU, as concurrent runs share
# it (scripts/experiments/paper-comparison.sh's LANES): the sum of their rates against the one process's (COPIES=1: the
# single pass only).
# Logs and JSON lines go to $OUT when set.
set -uo pipefail
stage="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-/tmp/sparkmoe-gpu-out}"
mkdir -p "$out"
steps=("$@"); [[ ${#steps[@]} -eq 0 ]] && steps=(tests bench engine anchor)
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
# The NVRTC kernel cache scripts/gpu/train-on-gpu.sh's executors use too (XDG_CACHE_HOME=/tmp/sparkmoe-cache).
cache=/tmp/sparkmoe-cache/sparkmoe/nvrtc
# The Java 25 runtime of scripts/gpu/runtime.sh, installed by scripts/gpu/install-runtime.sh.
java="${SPARKMOE_RUNTIME:-$HOME/sparkmoe-runtime}/jre/bin/java"
[[ -x "$java" ]] || { echo "run.sh: no Java runtime at $java: install one with scripts/gpu/install-runtime.sh" >&2; exit 2; }
flags="$(sed -n 's/^sparkmoe\.jvm\.flags=//p' "$stage/jvm.properties")"
# NCCL (and any CUDA library missing from /usr/local/cuda) from the image's Python packages.
extra="$(python3 -c 'import glob,os,nvidia; print(":".join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d+"/*/lib/lib*.so*")})))' 2>/dev/null)"
export SPARKMOE_CUDA_LIB_PATH="${SPARKMOE_CUDA_LIB_PATH:+$SPARKMOE_CUDA_LIB_PATH:}/usr/local/cuda/lib64:$extra"
cp_main="$stage/classes:$(ls "$stage"/lib/*.jar | grep -v console-standalone | tr '\n' ':')"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader
echo "java: $($java -version 2>&1 | head -1); SPARKMOE_CUDA_LIB_PATH=$SPARKMOE_CUDA_LIB_PATH"
status=0
for step in "${steps[@]}"; do
  case "$step" in
    tests)
      selectors=(--select-package org.sparkmoe.model.backend.cuda)
      if [[ -n "${TESTS:-}" ]]; then
        selectors=(); for class in $TESTS; do selectors+=(--select-class "org.sparkmoe.model.backend.cuda.$class"); done
      fi
      $java $flags -Dsparkmoe.cuda.cacheDir="$cache" -jar "$stage"/lib/junit-platform-console-standalone-*.jar \
          execute --class-path "$stage/test-classes:$cp_main" "${selectors[@]}" \
          --details=flat --disable-ansi-colors --disable-banner --reports-dir "$out/junit" 2>&1 | tee "$out/tests.log" \
          | grep -E "relative error|=> |tests (successful|failed|aborted)|AssertionFailed|CudaException|INFO: CUDA|NCCL [0-9]" \
          | cut -c1-400 | head -150
      [[ ${PIPESTATUS[0]} -ne 0 ]] && status=1
      (cd "$out" && tar -czf junit.tgz junit && rm -rf junit) ;;
    bench)
      $java $flags -Xmx16g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.StepBench val2b val2b:separate small small:separate 2>&1 \
          | tee "$out/bench.log" || status=1 ;;
    attention)
      $java $flags -Xmx16g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.AttentionBench val2b small 2>&1 | tee "$out/attention.log" \
          | grep -v -E "^(INFO|WARNING): |^[A-Z][a-z]{2} [0-9]+, 20" || status=1
      $java $flags -Xmx16g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.StepBench val2b val2b:flash small small:flash 2>&1 \
          | tee "$out/attention-step.log" | grep -v -E "^(INFO|WARNING): |^[A-Z][a-z]{2} [0-9]+, 20" || status=1 ;;
    grouped)
      $java $flags -Xmx16g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.GroupedGemmBench val-2b small cmp-deepseekmoe cmp-gshard 2>&1 \
          | tee "$out/grouped.log" | grep -v -E "^(INFO|WARNING): |^[A-Z][a-z]{2} [0-9]+, 20" || status=1
      $java $flags -Xmx16g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.StepBench val2b:flash val2b:flash:own small:flash small:flash:own 2>&1 \
          | tee "$out/grouped-step.log" | grep -v -E "^(INFO|WARNING): |^[A-Z][a-z]{2} [0-9]+, 20" || status=1 ;;
    engine)
      $java $flags -Xmx24g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.EngineOnCuda curve small:16 val-2b:8 2>&1 | tee "$out/engine.log" \
          | grep -v -E "^(INFO|WARNING): (Engine|Using|CUDA)|^[A-Z][a-z]{2} [0-9]+, 20" || status=1 ;;
    anchor)
      PYTHONUNBUFFERED=1 python3 "$stage/anchor_subset.py" "$stage" 2>&1 | tee "$out/anchor.log" || status=1 ;;
    compiled)
      PYTHONUNBUFFERED=1 python3 "$stage/anchor_subset.py" "$stage" --compiled 2>&1 | tee "$out/anchor.log" || status=1 ;;
    shards)
      $java $flags -Xmx24g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.EngineOnCuda "shards:tiny:$stage/shards/batches-64-8-300.i32" \
          "shards:small:$stage/shards/batches-128-4-200.i32" 2>&1 | tee "$out/shards.log" \
          | grep -v -E "^(INFO|WARNING): (Engine|Using|CUDA)|^[A-Z][a-z]{2} [0-9]+, 20" || status=1 ;;
    profile)
      $java $flags -Xmx24g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.CudaProbe val2b small 2>&1 | tee "$out/probe.log" || status=1
      $java $flags -Xmx24g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.EngineOnCuda profile small:16 val-2b:8 small:16 2>&1 | tee "$out/profile.log" \
          | grep -v -E "^(INFO|WARNING): (Engine|Using|CUDA)|^[A-Z][a-z]{2} [0-9]+, 20" || status=1 ;;
    shared)
      read -ra presets <<< "${PRESETS:-small:16:200}"
      passes=(1); [[ "${COPIES:-2}" -gt 1 ]] && passes+=("${COPIES:-2}")
      for copies in "${passes[@]}"; do
        for i in $(seq 1 "$copies"); do
          $java $flags -Xmx8g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
              org.sparkmoe.model.backend.cuda.bench.EngineOnCuda "${presets[@]}" > "$out/shared-$copies-$i.log" 2>&1 &
        done
        wait
        grep -h '^{' "$out"/shared-"$copies"-*.log | python3 -c '
import json, sys
rates = {}
for line in sys.stdin:
    r = json.loads(line)
    if "tokens_per_s" in r: rates.setdefault(r["config"], []).append(r["tokens_per_s"])
for config, r in rates.items():
    print("shared: %-40s %d process(es): %s tokens/s each, %.0f together" % (config, len(r), ", ".join("%.0f" % x for x in r), sum(r)))
' || status=1
      done ;;
    kernels)
      for preset in ${PRESETS:-small:16}; do
        name="${preset%%:*}"; name="${name//[,=]/-}"
        ncu --clock-control none --profile-from-start off --csv --print-units base \
            --metrics gpu__time_duration.sum,dram__bytes.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed \
            --log-file "$out/kernels-$name.csv" \
            $java $flags -Xmx24g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
            org.sparkmoe.model.backend.cuda.bench.EngineOnCuda profile "$preset" 2>&1 | grep "^profile" || status=1
        python3 "$stage/kernel_table.py" "$out/kernels-$name.csv" "$preset" || status=1
      done ;;
    16b-infer)
      $java $flags -Xmx8g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.SixteenB "$stage/shards/batches-128-4-200.i32" /tmp/sparkmoe-16b fit infer \
          2>&1 | tee "$out/16b-infer.log" | grep -v -E "^(INFO|WARNING): |^[A-Z][a-z]{2} [0-9]+, 20" || status=1 ;;
    16b-train)
      rm -rf /tmp/sparkmoe-16b
      $java $flags -Xmx8g -Dsparkmoe.cuda.cacheDir="$cache" -cp "$stage/test-classes:$cp_main" \
          org.sparkmoe.model.backend.cuda.bench.SixteenB "$stage/shards/batches-128-4-200.i32" /tmp/sparkmoe-16b train \
          2>&1 | tee "$out/16b-train.log" | grep -v -E "^(INFO|WARNING): |^[A-Z][a-z]{2} [0-9]+, 20" || status=1
      PYTHONUNBUFFERED=1 python3 "$stage/reference_from_checkpoint.py" /tmp/sparkmoe-16b \
          "$stage/shards/batches-128-4-200.i32" --batch 4 --seq 128 2>&1 | tee -a "$out/16b-train.log" || status=1
      rm -rf /tmp/sparkmoe-16b ;;
    *) echo "unknown step $step (use tests, bench, attention, grouped, engine, anchor, compiled, profile, shards, shared, kernels, 16b-infer, 16b-train)"; status=2 ;;
  esac
done
if [[ -f "$out/bench.log" || -f "$out/attention-step.log" || -f "$out/grouped-step.log" || -f "$out/engine.log" \
      || -f "$out/anchor.log" ]]; then
  python3 - "$out" <<'PY'
import json, sys, os
rows = []
for name in ("bench.log", "attention-step.log", "grouped-step.log", "engine.log", "anchor.log"):
    p = os.path.join(sys.argv[1], name)
    if os.path.exists(p):
        for line in open(p):
            if line.startswith("{") and '"config"' in line and '"tokens_per_s"' in line:
                rows.append(json.loads(line))
print("\n%-7s %-30s %12s %10s %9s %8s" % ("config", "implementation", "tokens/s", "TFLOP/s", "step ms", "peak GB"))
for r in sorted(rows, key=lambda r: (r["config"], -r["tokens_per_s"])):
    impl = r["impl"] + (" compiled" if r.get("compiled") else "")
    peak = "%8.1f" % r["peak_mem_GB"] if r.get("peak_mem_GB") is not None else "%8s" % "-"
    print("%-7s %-30s %12.0f %10.1f %9.1f %s" % (r["config"], impl, r["tokens_per_s"], r["model_TFLOPs"], r["step_ms"],
                                               peak))
PY
fi
exit $status
