#!/usr/bin/env bash
# Fails when a committed notebook carries outputs or execution counts: executed results are never committed.
# Fix with: jupyter-nbconvert --clear-output --inplace notebooks/*.ipynb
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
python3 - *.ipynb <<'PY'
import json, sys
dirty = []
for path in sys.argv[1:]:
    with open(path) as f:
        nb = json.load(f)
    for i, cell in enumerate(nb["cells"]):
        if cell.get("outputs") or cell.get("execution_count") is not None:
            dirty.append(f"{path} cell {i}")
if dirty:
    print("notebooks with outputs (strip them: jupyter-nbconvert --clear-output --inplace notebooks/*.ipynb):",
          *dirty, sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY
