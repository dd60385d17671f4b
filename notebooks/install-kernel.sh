#!/usr/bin/env bash
# Registers the "SparkMoE (Java 25)" Jupyter kernel for the current user: the rapaio Java kernel (from Maven
# Central, copied by notebooks/pom.xml), run by the project's Java 25 with the JVM flags of conf/jvm.properties,
# with the project's classes and every dependency jar on the notebook's classpath.
#   notebooks/install-kernel.sh            build the project, then register the kernel
#   JUPYTER_DATA_DIR=DIR install-kernel.sh  register under DIR/kernels instead of ~/.local/share/jupyter/kernels
# Rerun it after changing a pom (the classpath is written into the kernelspec).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/bin/java-env.sh"
cd "$here"
echo "install-kernel: building the project (mvn -DskipTests package) ..." >&2
mvn -B -q -pl notebooks -am -DskipTests package >&2

kernel_jar="$here/notebooks/target/kernel/rapaio-jupyter-kernel.jar"
classpath="$here/tokenizer/target/classes;$here/moe-model/target/classes;$here/pipeline-jobs/target/classes;$here/notebooks/target/classes"
classpath="$classpath;$(tr ':' ';' < "$here/notebooks/target/classpath.txt")"
kernels_dir="${JUPYTER_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/jupyter}/kernels/sparkmoe-java"
mkdir -p "$kernels_dir"

# Headless AWT so charts render without a display; the heap is the notebook's whole local Spark.
KERNEL_JSON="$kernels_dir/kernel.json" JAVA_BIN="$JAVA_HOME/bin/java" KERNEL_JAR="$kernel_jar" \
RJK_CP="$classpath" JVM_FLAGS="$SPARKMOE_JVM_FLAGS -Djava.awt.headless=true ${SPARKMOE_NOTEBOOK_HEAP:--Xmx4g}" \
python3 - <<'PY'
import json, os
spec = {
    "argv": [os.environ["JAVA_BIN"], *os.environ["JVM_FLAGS"].split(), "-jar", os.environ["KERNEL_JAR"],
             "{connection_file}"],
    "display_name": "SparkMoE (Java 25)",
    "language": "java",
    "interrupt_mode": "message",
    "env": {
        "RJK_CLASSPATH": os.environ["RJK_CP"],
        "RJK_COMPILER_OPTIONS": "",
        "RJK_INIT_SCRIPT": "",
        "RJK_TIMEOUT_MILLIS": "-1",
    },
}
with open(os.environ["KERNEL_JSON"], "w") as f:
    json.dump(spec, f, indent=1)
PY
echo "install-kernel: registered kernel 'sparkmoe-java' in $kernels_dir" >&2
