#!/usr/bin/env bash
# On the GPU host: collects the parts of a runtime packed by scripts/gpu/runtime.sh as they arrive (each copy may
# bring some of them), and once every part listed in runtime.sha256 is there and checks out, unpacks the runtime.
#   scripts/gpu/install-runtime.sh PARTS_DIR [RUNTIME_HOME]     (default RUNTIME_HOME: $HOME/sparkmoe-runtime)
# Prints "runtime ready: RUNTIME_HOME" when complete, else which parts are still missing. Parts are moved out of
# PARTS_DIR into RUNTIME_HOME/.parts/, so they survive PARTS_DIR being emptied between copies.
set -euo pipefail
parts="$(cd "$1" && pwd)"; home="${2:-$HOME/sparkmoe-runtime}"
mkdir -p "$home/.parts"
[[ -f "$parts/runtime.sha256" ]] && cp "$parts/runtime.sha256" "$home/.parts/"
for p in "$parts"/runtime.tar.xz.part-*; do
  [[ -f "$p" ]] && cp "$p" "$home/.parts/"
done
cd "$home/.parts"
[[ -f runtime.sha256 ]] || { echo "install-runtime.sh: no runtime.sha256 yet (it comes with the parts)" >&2; exit 1; }
missing="$(grep 'part-' runtime.sha256 | awk '{print $2}' | while read -r p; do [[ -f "$p" ]] || echo "$p"; done)"
if [[ -n "$missing" ]]; then
  echo "runtime parts still missing: $(echo $missing)"
  # The archive starts with the JRE (scripts/gpu/runtime.sh), so the first part alone yields a working java for
  # what needs no Spark (the engine's GPU tests and benches); the rest is unpacked once every part is here.
  if [[ -f runtime.tar.xz.part-00 && ! -x "$home/jre/bin/java" ]]; then
    # A cut archive: xz and tar end with an error after the last whole file.
    xz -dc runtime.tar.xz.part-00 2>/dev/null | tar -C "$home" --strip-components=1 -xf - sparkmoe-runtime/jre 2>/dev/null \
        || true
    "$home/jre/bin/java" -version 2>&1 | head -1 && echo "java ready from the first part: $home/jre"
  fi
  exit 0
fi
grep 'part-' runtime.sha256 | sha256sum -c --quiet
cat runtime.tar.xz.part-* | sha256sum | grep -q "$(grep ' runtime.tar.xz$' runtime.sha256 | cut -d' ' -f1)"
rm -rf "$home/jre" "$home/spark" "$home/data"
cat runtime.tar.xz.part-* | xz -dc | tar -C "$home" --strip-components=1 -xf -
rm -f runtime.tar.xz.part-*
"$home/jre/bin/java" -version 2>&1 | head -1
echo "runtime ready: $home"
