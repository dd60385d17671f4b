#!/usr/bin/env bash
# Packs a self-contained runtime for a GPU host that has no Java and no Spark (an air-gapped node, a bare cloud
# image): a jlink'd Java 25 with the JDK modules the jobs load, the Spark jars they load (both measured by
# scripts/gpu/measure-runtime.sh: runtime-modules.txt, runtime-jars.txt) and conf/log4j2.properties as a SPARK_HOME,
# fontconfig with its libraries and one font family (DejaVu Sans) for hosts without them (evaluate's plots need a
# font), and optionally a token dataset. The jars are rewritten uncompressed inside, so xz compresses the class files
# themselves (about half the size of xz over deflated jars). The archive is split into parts of at most PART_MB MiB
# for hosts reached through a size-limited copy; scripts/gpu/install-runtime.sh puts them back together there.
#   scripts/gpu/runtime.sh OUT_DIR [PART_MB] [DATA_DIR...]
# writes OUT_DIR/runtime.tar.xz.part-NN and OUT_DIR/runtime.sha256 (one line per part, then the whole archive).
# DATA_DIRs are copied under data/<name>/ (token datasets, tokenizers, model .properties files).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$here/bin/java-env.sh"
out="$(mkdir -p "$1" && cd "$1" && pwd)"; part_mb="${2:-60}"; shift $(( $# >= 2 ? 2 : 1 ))
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$here"
[[ -f pipeline-jobs/target/classpath.txt ]] || mvn -B -q -DskipTests package >&2
root="$work/sparkmoe-runtime"
mkdir -p "$root/spark/jars" "$root/spark/conf" "$root/data"
"$JAVA_HOME/bin/jlink" --add-modules "$(paste -sd, scripts/gpu/runtime-modules.txt)" --include-locales=en,zh \
    --strip-debug --no-header-files --no-man-pages --compress=zip-0 --output "$root/jre"
declare -A wanted=()
while read -r jar; do wanted["$jar"]=1; done < scripts/gpu/runtime-jars.txt
tr ':' '\n' < pipeline-jobs/target/classpath.txt | grep '\.jar$' | while read -r jar; do
  name="$(basename "$jar")"
  if [[ -n "${wanted[$name]:-}" ]]; then
    python3 "$here/scripts/gpu/store_jar.py" "$jar" "$root/spark/jars/$name"
  fi
done
missing="$(comm -23 <(sort scripts/gpu/runtime-jars.txt) <(ls "$root/spark/jars" | sort))"
if [[ -n "$missing" ]]; then
  echo "runtime.sh: jars in runtime-jars.txt that the build's classpath lacks (rerun measure-runtime.sh):" >&2
  echo "$missing" >&2
  exit 1
fi
cp pipeline-jobs/src/main/resources/log4j2.properties "$root/spark/conf/"
# fontconfig (which the JDK loads to find fonts) and the libraries it needs beyond the C library, from this host.
mkdir -p "$root/fonts/lib" "$root/fonts/ttf"
fc="$(ldconfig -p | sed -n 's/.*libfontconfig\.so\.1 .*=> //p' | head -1)"
for lib in "$fc" $(ldd "$fc" | awk '/=>/ {print $3}' | grep -v -E '/(libc|libm|ld-linux[^/]*)\.so'); do
  cp -L "$lib" "$root/fonts/lib/$(basename "$lib")"
done
cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$root/fonts/ttf/"
cat > "$root/fonts/fonts.conf" <<'CONF'
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir prefix="relative">ttf</dir>
  <cachedir>/tmp/sparkmoe-fontconfig</cachedir>
</fontconfig>
CONF
for dir in "$@"; do cp -r "$dir" "$root/data/$(basename "$dir")"; done
rm -f "$out"/runtime.tar.xz.part-* "$out/runtime.sha256"
# The JRE first: the first part alone then yields a working java (install-runtime.sh --java-from-first-part).
tar -C "$work" -cf - sparkmoe-runtime/jre sparkmoe-runtime/fonts sparkmoe-runtime/data sparkmoe-runtime/spark | xz -T0 -9 \
    | split -b "${part_mb}M" -d - "$out/runtime.tar.xz.part-"
(cd "$out" && sha256sum runtime.tar.xz.part-* > runtime.sha256 && cat runtime.tar.xz.part-* | sha256sum \
    | sed 's/-$/runtime.tar.xz/' >> runtime.sha256)
du -sh "$root/jre" "$root/fonts" "$root/spark/jars" "$root/data" "$out"/runtime.tar.xz.part-* >&2
