#!/usr/bin/env bash
# Spark GPU discovery script (spark.{executor,driver,worker}.resource.gpu.discoveryScript): prints the GPUs this
# executor may use as {"name":"gpu","addresses":["0","1",...]}. Honours CUDA_VISIBLE_DEVICES (YARN and Kubernetes
# isolate GPUs with it), else lists every GPU nvidia-smi sees. Prints no addresses when there is no GPU, so the
# trainer falls back to the CPU backend and says so.
set -euo pipefail
if [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then
  IFS=',' read -r -a ids <<< "${CUDA_VISIBLE_DEVICES}"
  # Inside the container the visible devices are renumbered 0..n-1: those are the ordinals CUDA accepts.
  addresses=$(seq 0 $(( ${#ids[@]} - 1 )) | sed 's/.*/"&"/' | paste -sd, -)
elif command -v nvidia-smi >/dev/null 2>&1; then
  addresses=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | sed 's/ //g; s/.*/"&"/' | paste -sd, -)
else
  addresses=""
fi
echo "{\"name\":\"gpu\",\"addresses\":[${addresses}]}"
