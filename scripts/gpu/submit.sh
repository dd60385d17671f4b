#!/usr/bin/env bash
# spark-submit of a SparkMoE job from a runtime without a Spark distribution: SPARK_HOME holds jars/ (and conf/
# with log4j2.properties), the job comes from the cluster jar. Equivalent to
#   spark-submit --master URL --class org.sparkmoe.jobs.cli.SparkMoeMain [--conf k=v ...] CLUSTER_JAR JOB ARGS...
#   scripts/gpu/submit.sh SPARK_HOME MASTER_URL [--conf k=v]... -- JOB [ARGS...]
# The driver and executors get the flags of conf/jvm.properties; SPARKMOE_DRIVER_MEMORY sets the driver heap
# (default 8g); SPARKMOE_DRIVER_OPTS and SPARKMOE_EXECUTOR_OPTS add JVM options (e.g. class-loading logs);
# SPARKMOE_APP_JAR overrides the cluster jar (default: the one the build wrote).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
home="$(cd "$1" && pwd)"; master="$2"; shift 2
confs=()
while [[ $# -gt 0 && "$1" != "--" ]]; do confs+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
flags="$(sed -n 's/^sparkmoe\.jvm\.flags=//p' "$here/conf/jvm.properties")"
app="${SPARKMOE_APP_JAR:-$(ls "$here"/pipeline-jobs/target/sparkmoe-pipeline-jobs-*-cluster.jar | head -1)}"
exec "${JAVA_HOME:?JAVA_HOME must point to a Java 25 runtime}/bin/java" $flags ${SPARKMOE_DRIVER_OPTS:-} \
    -Xmx"${SPARKMOE_DRIVER_MEMORY:-8g}" -cp "$home/conf:$home/jars/*" org.apache.spark.deploy.SparkSubmit \
    --master "$master" --class org.sparkmoe.jobs.cli.SparkMoeMain \
    --conf "spark.driver.extraJavaOptions=$flags" --conf "spark.executor.extraJavaOptions=$flags ${SPARKMOE_EXECUTOR_OPTS:-}" \
    --conf spark.driver.host=127.0.0.1 "${confs[@]}" "$app" "$@"
