# The pieces every GPU-host script shares (sourced by scripts/gpu/train-on-gpu.sh and
# scripts/experiments/paper-comparison.sh): the runtime's environment, a Spark standalone cluster on this host, jobs
# sent with spark-submit asking for one GPU per task, run summaries and packing a run's files without checkpoints.
# The sourcing script sets: here (the repository), runtime (scripts/gpu/install-runtime.sh's folder), out (console.log
# and results.tgz), work (run directories and job logs). Environment: TASK_CPUS (default 8), DRIVER_MEMORY (24g),
# EXECUTOR_MEMORY (48g), SPARKMOE_GPU_DISCOVERY (scripts/gpu/standalone.sh), SPARKMOE_SPARK_HOME (the SPARK_HOME whose
# jars/ the jobs use and where the standalone daemons keep logs/ and work/; default the runtime's spark/).
# Defines: res (job logs and packed files: $work/results), runs ($work/runs), log ($out/console.log), status (set to 1
# by a failed step), and the functions say, cluster, cluster_stop, submit, summary, pack, prune, archive.

# A task's CPU threads (data loading, the CPU side of the engine); two tasks sharing the GPU take twice as many.
cores="${TASK_CPUS:-8}"
export JAVA_HOME="$runtime/jre" NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
# One NVRTC kernel cache for every JVM here (run.sh's tests and benches use it too): kernels compile once. Spark
# refuses -Dspark* options (ours start so) in extraJavaOptions, so the executors get it through XDG_CACHE_HOME.
cache=/tmp/sparkmoe-cache
# CUDA libraries missing from /usr/local/cuda (NCCL) come from the image's Python packages.
extra="$(python3 -c 'import glob,os,nvidia; print(":".join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d+"/*/lib/lib*.so*")})))' 2>/dev/null)"
export SPARKMOE_CUDA_LIB_PATH="${SPARKMOE_CUDA_LIB_PATH:+$SPARKMOE_CUDA_LIB_PATH:}/usr/local/cuda/lib64:$extra"
# A host without fontconfig (evaluate's plots need a font) uses the runtime's (scripts/gpu/runtime.sh).
if ! ldconfig -p | grep -q 'libfontconfig\.so\.1 ' && [[ -d "$runtime/fonts" ]]; then
  export LD_LIBRARY_PATH="$runtime/fonts/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" FONTCONFIG_FILE="$runtime/fonts/fonts.conf"
fi
spark_home="${SPARKMOE_SPARK_HOME:-$runtime/spark}"
res="$work/results"
runs="$work/runs"
log="$out/console.log"
mkdir -p "$out" "$work" "$res"
status=0

say() { echo "== $(date +%T)${SPARKMOE_LANE:+ [lane $SPARKMOE_LANE]} $*" | tee -a "$log"; }
master=""
cluster() {  # starts the standalone cluster once; daemons left by a stopped earlier call are stopped first
  [[ -n "$master" ]] && return
  "$here/scripts/gpu/standalone.sh" stop "$spark_home"
  master="$("$here/scripts/gpu/standalone.sh" start "$spark_home" "$(nproc)" 100g)" || { status=1; return 1; }
  say "Spark standalone $master, worker GPUs: $(grep 'gpu.amount' "$spark_home/worker.properties")"
}
cluster_stop() {  # stops the cluster and keeps its daemons' logs with the results
  [[ -n "$master" ]] && "$here/scripts/gpu/standalone.sh" stop "$spark_home"
  local file
  for file in "$spark_home/logs/"*.log; do
    [[ -f "$file" ]] && cp "$file" "$res/${SPARKMOE_LANE:+lane-$SPARKMOE_LANE-}$(basename "$file")"
  done
  master=""
}
# submit NAME [--conf k=v]... -- JOB ARGS...: spark-submit with the GPU settings of one task per GPU (later --conf
# arguments override them); the job's console goes to $res/NAME.log, its progress lines to the console.
submit() {
  local name="$1"; shift
  local confs=()
  while [[ $# -gt 0 && "$1" != "--" ]]; do confs+=("$1"); shift; done
  shift
  say "submit $name: $*"
  SPARKMOE_DRIVER_MEMORY="${DRIVER_MEMORY:-24g}" "$here/scripts/gpu/submit.sh" "$spark_home" "$master" \
      --conf spark.executor.cores=$cores --conf spark.task.cpus=$cores --conf spark.executor.memory=${EXECUTOR_MEMORY:-48g} \
      --conf spark.executor.resource.gpu.amount=1 --conf spark.task.resource.gpu.amount=1 \
      --conf spark.driver.maxResultSize=0 --conf spark.ui.enabled=false --conf spark.executorEnv.XDG_CACHE_HOME=$cache \
      "${confs[@]}" -- "$@" \
      > "$res/$name.log" 2>&1
  local rc=$?
  grep -E "round [0-9]+/|trained|validation loss|Exception|ERROR|refus|backend|CUDA device|checkpoint" "$res/$name.log" \
      | grep -v -E "^\s+at " | cut -c1-300 | tail -25 | tee -a "$log"
  say "$name exit $rc"
  return $rc
}
summary() {  # RUN-ID: the figures docs/benchmarks.md quotes, from the run's metrics
  python3 "$here/scripts/gpu/run_summary.py" "$runs/$1" | tee -a "$log"
}
pack() {  # RUN-ID...: the runs' metrics, evaluation files and run files (no checkpoints, no parameters) into $res/
  for id in "$@"; do
    [[ -d "$runs/$id" ]] || continue
    (cd "$runs" && find "$id" -maxdepth 3 -type f \( -name '*.jsonl' -o -name '*.json' -o -name '*.png' -o -name '*.html' \
        -o -name '*.properties' \) -not -path '*/checkpoints/*' | tar -cf - -T - | tar -C "$res" -xf -)
  done
}
prune() {  # RUN-ID...: removes the runs' checkpoints, final parameters and worker states (a host's disk holds a few of
  # val-2b's checkpoints at most: 24 GB each with the optimiser state)
  for id in "$@"; do rm -rf "$runs/$id/checkpoints" "$runs/$id/final" "$runs/$id/workers"; done
}
archive() {  # $res into $out/results.tgz
  tar -C "$work" -czf "$out/results.tgz" results
}
