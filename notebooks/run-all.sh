#!/usr/bin/env bash
# Executes every notebook under notebooks/ headless on the sparkmoe-java kernel and fails if any cell fails.
# Executed copies go to runs/notebooks/executed/ (git-ignored); the committed notebooks stay without outputs.
#   notebooks/run-all.sh               install Jupyter and the kernel if missing, check, execute all
#   notebooks/run-all.sh NAME.ipynb    execute one
# Environment: SPARKMOE_NOTEBOOK_DATA (a Hadoop URI for the notebooks' data, local runs/notebooks by default).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
notebooks/install-jupyter.sh
notebooks/check-clean.sh
spec_dir="${JUPYTER_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/jupyter}/kernels/sparkmoe-java"
if [[ ! -f "$spec_dir/kernel.json" || -n "$(find pom.xml ./*/pom.xml -newer "$spec_dir/kernel.json" -print -quit)" ]]; then
  notebooks/install-kernel.sh
else
  source bin/java-env.sh
  mvn -B -q -pl notebooks -am -DskipTests package >&2
fi

out="$here/runs/notebooks/executed"
mkdir -p "$out"
if [[ $# -gt 0 ]]; then books=("$@"); else books=(notebooks/*.ipynb); fi
failed=0
execute() {  # NOTEBOOK LOG
  jupyter-nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=sparkmoe-java \
      --ExecutePreprocessor.timeout=900 --ExecutePreprocessor.startup_timeout=60 --output-dir "$out" "$1" >"$2" 2>&1
}
for nb in "${books[@]}"; do
  nb="notebooks/$(basename "$nb")"
  log="$out/$(basename "$nb" .ipynb).log"
  start=$(date +%s)
  ok=0
  # rapaio 3.0.1 can lose its shell thread when a request arrives while it is still starting: the kernel binds its
  # ports and never answers (seen on a loaded and on an idle machine). A healthy start answers within seconds, so a
  # kernel silent for 60 s is started again, up to five starts in all; a cell that fails is never retried.
  for attempt in 1 2 3 4 5; do
    if execute "$nb" "$log"; then
      ok=1
      break
    fi
    grep -q "Kernel didn't respond" "$log" || break
    echo "notebook $nb: the kernel did not answer within 60 s (start $attempt of 5)" >&2
  done
  if [[ $ok -eq 1 ]]; then
    echo "notebook $nb: ok ($(( $(date +%s) - start )) s)"
  else
    echo "notebook $nb: FAILED ($(( $(date +%s) - start )) s); the end of its log ($log):" >&2
    tail -40 "$log" >&2
    failed=$((failed + 1))
  fi
done
echo "notebooks: $(( ${#books[@]} - failed )) passed, $failed failed"
[[ $failed -eq 0 ]]
