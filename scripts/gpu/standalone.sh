#!/usr/bin/env bash
# A Spark standalone master and one worker on this host, configured as on a GPU cluster: the worker finds its GPUs
# with conf/gpu-discovery.sh (spark.worker.resource.gpu.*), executors and tasks ask for them through
# spark.executor.resource.gpu.amount and spark.task.resource.gpu.amount (given at submit time).
#   scripts/gpu/standalone.sh start SPARK_HOME [WORKER_CORES] [WORKER_MEMORY]   prints the master URL
#   scripts/gpu/standalone.sh stop SPARK_HOME
# SPARK_HOME needs only jars/ (Spark and its dependencies; scripts/gpu/runtime.sh builds one) and is where the
# daemons keep logs/ and work/. JAVA_HOME must be a Java 25 runtime; the JVM flags come from conf/jvm.properties.
# SPARKMOE_DAEMON_OPTS adds JVM options to the master and worker (e.g. class-loading logs); SPARKMOE_GPU_DISCOVERY
# replaces conf/gpu-discovery.sh (a script printing Spark's {"name":"gpu","addresses":[...]}); SPARKMOE_MASTER_PORT
# (default 7077) is the master's port: a start fails when another master holds it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
action="$1"; home="$(cd "$2" && pwd)"
cores="${3:-$(nproc)}"; memory="${4:-16g}"
flags="$(sed -n 's/^sparkmoe\.jvm\.flags=//p' "$here/conf/jvm.properties")"
java="${JAVA_HOME:?JAVA_HOME must point to a Java 25 runtime}/bin/java"
host=127.0.0.1
port="${SPARKMOE_MASTER_PORT:-7077}"
mkdir -p "$home/logs" "$home/work"
export SPARK_HOME="$home" SPARK_SCALA_VERSION=2.13 SPARK_LOCAL_IP="$host"

daemon() {  # NAME CLASS ARGS...: starts a Spark daemon in its own session, logging to logs/NAME.log
  local name="$1"; shift
  setsid nohup "$java" $flags ${SPARKMOE_DAEMON_OPTS:-} -Xmx1g -cp "$home/jars/*" "$@" \
      >"$home/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$home/logs/$name.pid"
}

wait_for() {  # FILE PATTERN SECONDS
  for _ in $(seq 1 "$3"); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 1
  done
  echo "standalone.sh: '$2' did not appear in $1 within $3 s:" >&2
  tail -20 "$1" >&2
  return 1
}

case "$action" in
  start)
    daemon master org.apache.spark.deploy.master.Master --host "$host" --port "$port" --webui-port 8080
    wait_for "$home/logs/master.log" "I have been elected leader" 60
    # Spark moves to the next free port when one is taken; a worker and jobs sent to $port would reach the other master.
    if ! grep -q "Successfully started service 'sparkMaster' on port $port\." "$home/logs/master.log"; then
      echo "standalone.sh: port $port is taken (another Spark master?): $(grep -o "started service 'sparkMaster' on port [0-9]*" \
          "$home/logs/master.log"); stop that master or set SPARKMOE_MASTER_PORT" >&2
      kill "$(cat "$home/logs/master.pid")" 2>/dev/null; rm -f "$home/logs/master.pid"
      exit 1
    fi
    # The worker offers every GPU the discovery script prints; Spark then hands each task its share.
    discovery="${SPARKMOE_GPU_DISCOVERY:-$here/conf/gpu-discovery.sh}"
    cat > "$home/worker.properties" <<EOF
spark.worker.resource.gpu.amount=$( "$discovery" | grep -o '"[0-9]*"' | wc -l )
spark.worker.resource.gpu.discoveryScript=$discovery
spark.worker.cleanup.enabled=false
EOF
    daemon worker org.apache.spark.deploy.worker.Worker --host "$host" --cores "$cores" --memory "$memory" \
        --work-dir "$home/work" --properties-file "$home/worker.properties" "spark://$host:$port"
    wait_for "$home/logs/worker.log" "Successfully registered with master" 60
    echo "spark://$host:$port"
    ;;
  stop)
    for name in worker master; do
      if [[ -f "$home/logs/$name.pid" ]]; then
        kill "$(cat "$home/logs/$name.pid")" 2>/dev/null || true
        rm -f "$home/logs/$name.pid"
      fi
    done
    ;;
  *) echo "usage: standalone.sh start|stop SPARK_HOME [WORKER_CORES] [WORKER_MEMORY]" >&2; exit 2 ;;
esac
