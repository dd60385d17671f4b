#!/usr/bin/env bash
# The product's jobs on a GPU host as a user runs them on a GPU cluster: a Spark standalone master and worker whose
# GPUs are found by conf/gpu-discovery.sh, jobs sent with spark-submit (scripts/gpu/submit.sh), executors and tasks
# asking for the GPU with spark.executor.resource.gpu.amount / spark.task.resource.gpu.amount. Each STEP is one
# measured scenario; the figures docs/benchmarks.md quotes come out of them.
#   scripts/gpu/train-on-gpu.sh STEP...
# Environment: SPARKMOE_RUNTIME (default $HOME/sparkmoe-runtime; scripts/gpu/install-runtime.sh puts the JRE, the
# Spark jars and data/ there), OUT (default /tmp/sparkmoe-gpu-out: console.log, the steps' one-line summaries, and
# results.tgz with every job's log and each run's metrics and evaluation files), SMALL and LARGE (model presets, default small and val-2b), VOCAB (default 32000: the
# 32K tokenizer in data/), WORK (run directories and Spark's files; default $HOME/sparkmoe-work), BACKEND (default
# cuda; auto to rehearse the steps on a host without a GPU, with SPARKMOE_GPU_DISCOVERY naming a discovery script
# that hands out a GPU address anyway).
# Steps:
#   small      W = 1 task holding the GPU, --sync barrier: `train` on SMALL, then `evaluate` on the GPU
#   large      W = 1 on LARGE with --sync barrier (the driver path cannot carry it; the step 'limit' shows why), evaluate
#   engine     the bare engine (EngineOnCuda, from STAGE: scripts/gpu/stage.sh's folder) on SMALL and LARGE at the train steps' shapes, for the ratio measured in the same run
#   shared     W = 2 tasks sharing the GPU (spark.task.resource.gpu.amount=0.5) on SMALL, driver path
#   limit      W = 2 on LARGE sharing the GPU: the driver path and the barrier path, each refused with its reason
#   failure    on SMALL, an executor JVM killed mid-round (the round is retried), then the application stopped after a
#              checkpoint and the run continued with `train --resume true` on the GPU
#   badinput   --backend cuda on a device that does not exist; an executor asking for more GPUs than the worker has
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runtime="${SPARKMOE_RUNTIME:-$HOME/sparkmoe-runtime}"
out="${OUT:-/tmp/sparkmoe-gpu-out}"
work="${WORK:-$HOME/sparkmoe-work}"
small="${SMALL:-small}"; large="${LARGE:-val-2b}"; vocab="${VOCAB:-32000}"; backend="${BACKEND:-cuda}"
# The shapes of the PyTorch comparison: small 16 x 1024, val-2b 8 x 2048 (micro-batch = batch).
sseq="${SMALL_SEQ:-1024}"; sbatch="${SMALL_BATCH:-16}"; lseq="${LARGE_SEQ:-2048}"; lbatch="${LARGE_BATCH:-8}"
stage="${STAGE:-$here/.stage/cuda}"  # scripts/gpu/stage.sh's folder: the engine's classes for the bare-engine step
source "$here/scripts/gpu/spark-steps.sh"
data="$runtime/data"
manifest="$data/tokens/v1"
tokenizer="$data/tok32k/tokenizer.json"
model_args() {  # PRESET: the preset with the 32K tokenizer's vocabulary
  echo "--model $1 --vocab_size $vocab"
}

for step in "$@"; do
  cluster || break
  case "$step" in
    small)
      submit small-train -- train --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id small \
          $(model_args "$small") --workers 1 --sync barrier --local-steps "${SMALL_H:-250}" --rounds "${SMALL_ROUNDS:-4}" \
          --batch-size $sbatch --engine.micro-batch $sbatch --seq-len $sseq --checkpoint-every 2 --outer-optimizer average \
          --backend "$backend" || status=1
      summary small
      submit small-evaluate -- evaluate --run "$runs/small" --tokenizer "$tokenizer" --backend "$backend" --sequences 128 \
          --batch-size $sbatch || status=1
      pack small; prune small ;;
    large)
      submit large-train -- train --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id large \
          $(model_args "$large") --workers 1 --sync barrier --local-steps "${LARGE_H:-60}" --rounds "${LARGE_ROUNDS:-4}" \
          --batch-size $lbatch --engine.micro-batch $lbatch --seq-len $lseq --checkpoint-every 100 --outer-optimizer average \
          --backend "$backend" || status=1
      summary large
      submit large-evaluate -- evaluate --run "$runs/large" --tokenizer "$tokenizer" --backend "$backend" --sequences 32 \
          --batch-size $lbatch || status=1
      pack large; prune large ;;
    engine)
      say "bare engine"
      "$JAVA_HOME/bin/java" $(sed -n 's/^sparkmoe\.jvm\.flags=//p' "$here/conf/jvm.properties") -Xmx48g -Dsparkmoe.cuda.cacheDir=$cache/sparkmoe/nvrtc \
          -cp "$stage/test-classes:$stage/classes:$(ls "$stage"/lib/*.jar | tr '\n' ':')" \
          org.sparkmoe.model.backend.cuda.bench.EngineOnCuda "$small,vocab_size=$vocab:$sbatch" "$large,vocab_size=$vocab:$lbatch" \
          > "$res/engine.log" 2>&1 || status=1
      grep -E '^\{|tokens/s' "$res/engine.log" | tee -a "$log" ;;
    shared)
      submit shared-train --conf spark.task.resource.gpu.amount=0.5 --conf spark.executor.cores=$((2 * cores)) -- train \
          --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id shared $(model_args "$small") \
          --workers 2 --local-steps "${SHARED_H:-100}" --rounds 3 --batch-size $sbatch --engine.micro-batch $sbatch --seq-len $sseq \
          --checkpoint-every 100 --outer-optimizer average --backend "$backend" || status=1
      summary shared
      pack shared; prune shared ;;
    limit)
      # Both refusals come from the driver before any engine is built: the driver path's arrays cannot hold LARGE's
      # optimiser state, and barrier ranks cannot share a GPU (one NCCL rank per device).
      submit limit-driver --conf spark.task.resource.gpu.amount=0.5 --conf spark.executor.cores=$((2 * cores)) -- train \
          --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id limit-driver $(model_args "$large") \
          --workers 2 --local-steps 10 --rounds 2 --batch-size $lbatch --engine.micro-batch $lbatch --seq-len $lseq \
          --outer-optimizer average --backend "$backend"
      submit limit-barrier --conf spark.task.resource.gpu.amount=0.5 --conf spark.executor.cores=$((2 * cores)) -- train \
          --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id limit-barrier $(model_args "$large") \
          --workers 2 --sync barrier --local-steps 10 --rounds 2 --batch-size $lbatch --engine.micro-batch $lbatch --seq-len $lseq \
          --outer-optimizer average --backend "$backend"
      ;;
    failure)
      # One run, two failures: an executor JVM killed during round 2 (Spark retries the round's task), then the whole
      # application stopped after round 3's checkpoint and the run continued with --resume.
      fail_args=(--manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id failure $(model_args "$small")
          --workers 1 --local-steps "${FAIL_H:-60}" --rounds 4 --batch-size $sbatch --engine.micro-batch $sbatch
          --seq-len $sseq --checkpoint-every 1 --outer-optimizer average --backend "$backend")
      submit failure-first -- train "${fail_args[@]}" &
      train=$!
      for _ in $(seq 1 300); do [[ -d "$runs/failure/checkpoints/round-000001" ]] && break; sleep 1; done
      sleep 4
      pkill -9 -f CoarseGrainedExecutorBackend && say "killed the executor JVM during round 2"
      for _ in $(seq 1 300); do [[ -d "$runs/failure/checkpoints/round-000003" ]] && break; sleep 1; done
      pkill -9 -f 'deploy.SparkSubmit' && say "stopped the application after round 3's checkpoint"
      wait "$train"
      sleep 3
      submit failure-resumed -- train "${fail_args[@]}" --resume true || status=1
      summary failure
      submit failure-evaluate -- evaluate --run "$runs/failure" --tokenizer "$tokenizer" --backend "$backend" \
          --sequences 128 --batch-size $sbatch || status=1
      pack failure; prune failure ;;
    badinput)
      submit bad-device --conf spark.executor.resource.gpu.amount=0 --conf spark.task.resource.gpu.amount=0 -- train \
          --manifest "$manifest" --tokenizer "$tokenizer" --runs "$runs" --run-id bad-device $(model_args "$small") \
          --workers 1 --local-steps 2 --rounds 1 --batch-size $sbatch --engine.micro-batch $sbatch --seq-len $sseq \
          --backend cuda --device 7 --gpu-wait-seconds 20
      submit bad-amount --conf spark.executor.resource.gpu.amount=2 -- train --manifest "$manifest" \
          --tokenizer "$tokenizer" --runs "$runs" --run-id bad-amount $(model_args "$small") --workers 1 \
          --local-steps 2 --rounds 1 --backend cuda --gpu-wait-seconds 20
      ;;
    *) say "unknown step $step"; status=2 ;;
  esac
done
cluster_stop
archive
exit $status
