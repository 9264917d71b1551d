#!/usr/bin/env bash
# A Java runtime for the Spark linkage tests (tests/linkage/test_spark_backend.py: Splink's Spark backend in
# local mode, against DuckDB). PySpark 4 needs Java 17 or later. Installed with apt-get when missing (Debian's
# default-jre-headless: OpenJDK 17 on Debian 12), as root, like LibreOffice in tests/office.sh; elsewhere install a
# Java 17+ runtime yourself (or point JAVA_HOME at one). Messages go to stderr.
set -euo pipefail

log() { echo "java: $*" >&2; }

java_major() {  # the major version of the java that Spark would start (JAVA_HOME first, as pyspark does)
  "${JAVA_HOME:+$JAVA_HOME/bin/}java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n 1
}

major=$(java_major 2>/dev/null || true)
if [ -n "$major" ] && [ "$major" -ge 17 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no Java 17+ runtime (found: ${major:-none}) and it cannot be installed here (needs root and apt-get):"
  log "install a Java runtime, 17 or later (e.g. default-jre-headless), then run the tests again"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log "installing a Java runtime (default-jre-headless) with apt-get"
apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already here"
# the JRE's post-install step expects the man page folder, which slim images leave out
mkdir -p /usr/share/man/man1
apt-get install -y -qq --no-install-recommends default-jre-headless >&2
major=$(java_major 2>/dev/null || true)
if [ -z "$major" ] || [ "$major" -lt 17 ]; then
  log "Java ${major:-none} after apt-get: Spark needs 17 or later${JAVA_HOME:+ (JAVA_HOME=$JAVA_HOME is used first)}"
  exit 1
fi
