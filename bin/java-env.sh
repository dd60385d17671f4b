# Sourced by bin/sparkmoe, .ci/run and scripts/: finds a Java 25 JDK and reads the JVM flags from conf/jvm.properties.
# Sets JAVA_HOME and SPARKMOE_JVM_FLAGS.
_sparkmoe_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
if [[ -z "${JAVA_HOME:-}" || ! -x "$JAVA_HOME/bin/java" || "$(_java_major "$JAVA_HOME")" -lt 25 ]]; then
  for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/java-25* /opt/java/openjdk; do
    if [[ -x "$candidate/bin/java" && "$(_java_major "$candidate")" -ge 25 ]]; then
      export JAVA_HOME="$candidate"
      break
    fi
  done
fi
if [[ -z "${JAVA_HOME:-}" || ! -x "$JAVA_HOME/bin/java" || "$(_java_major "$JAVA_HOME")" -lt 25 ]]; then
  echo "sparkmoe: no Java 25 found. Install Temurin 25 (for example under /usr/lib/jvm/temurin-25-jdk-amd64) or set JAVA_HOME to a Java 25 JDK." >&2
  exit 2
fi
export PATH="$JAVA_HOME/bin:$PATH"
SPARKMOE_JVM_FLAGS="$(sed -n 's/^sparkmoe\.jvm\.flags=//p' "$_sparkmoe_root/conf/jvm.properties")"
export SPARKMOE_JVM_FLAGS
