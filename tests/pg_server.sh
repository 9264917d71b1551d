#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
#   tests/pg_server.sh start [STATE_DIR]   start a server on 127.0.0.1 (free port, data in a temp dir);
#                                          prints `export SONGMAYTINH_TEST_PG_URL=...` and writes the URL
#                                          to STATE_DIR/url
#   tests/pg_server.sh stop  [STATE_DIR]   stop it and delete its data
#
# STATE_DIR defaults to .pgdata (git-ignored); tests/run.sh passes its own so parallel runs do not collide.
# Binaries, first that works: (a) the `pgserver` pip package's bundled PostgreSQL (a dev dependency, so
# `uv sync` installs it), (b) Debian's postgresql package in /usr/lib/postgresql/*/bin — installed with
# apt-get when running as root and missing. PostgreSQL refuses to run as root, so as root the server runs as
# an unprivileged system user (`postgres` if it exists, else `pgserver`, created on demand).
# Messages go to stderr; stdout carries only the export line.
set -euo pipefail

ACTION=${1:-}
STATE_DIR=${2:-${SONGMAYTINH_PG_STATE_DIR:-.pgdata}}
PYTHON=$(command -v python || command -v python3)

log() { echo "pg_server: $*" >&2; }
die() { log "$*"; exit 1; }

as_user() {  # run a command as the server's user
  local user=$1; shift
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u "$user" -- "$@"
    else
      su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

server_user() {
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  if ! id pgserver >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin pgserver >&2 || die "cannot create user pgserver"
  fi
  echo pgserver
}

pgserver_bin() {  # the pgserver wheel's bundled binaries (without importing pgserver: it starts nothing then)
  "$PYTHON" - <<'EOF' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("pgserver")
if spec and spec.origin:
    print(os.path.join(os.path.dirname(spec.origin), "pginstall", "bin"))
EOF
}

debian_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/postgres" ] && echo "$d"
}

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Try one set of binaries: initdb + start. Prints the URL on success; returns non-zero on failure.
try_start() {
  local bin=$1 user=$2 root=$3 tries port
  rm -rf "$root/data" "$root/sock" "$root/install"
  mkdir -p "$root/sock"
  if [ "$(id -u)" -eq 0 ] && ! as_user "$user" test -x "$bin/postgres"; then
    # The unprivileged user cannot reach the binaries (e.g. a venv under /root): use a private copy.
    # Keep the wheel's layout: the binaries find their libraries at $ORIGIN/../../../pgserver.libs.
    local pginstall site
    pginstall=$(dirname "$bin"); site=$(dirname "$(dirname "$pginstall")")
    mkdir -p "$root/install/pgserver"
    cp -a "$pginstall" "$root/install/pgserver/pginstall"
    if [ -d "$site/pgserver.libs" ]; then cp -a "$site/pgserver.libs" "$root/install/pgserver.libs"; fi
    chmod -R a+rX "$root/install"
    bin="$root/install/pgserver/pginstall/bin"
  fi
  chown -R "$user" "$root" 2>/dev/null || true
  as_user "$user" "$bin/initdb" -D "$root/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
    --no-sync >"$root/initdb.log" 2>&1 || { log "initdb failed with $bin:"; tail -n 5 "$root/initdb.log" >&2; return 1; }
  for tries in 1 2 3 4 5; do
    port=$(free_port)
    if as_user "$user" "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 \
        -o "-p $port -k $root/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      echo "$bin" >"$root/bin"
      echo "$user" >"$root/user"
      echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    log "start on port $port failed (try $tries):"; tail -n 3 "$root/server.log" >&2 || true
  done
  return 1
}

start() {
  mkdir -p "$STATE_DIR"
  if [ -f "$STATE_DIR/root" ]; then stop_server quietly; fi
  local user root url="" bin tmp
  user=$(server_user)
  # as root the data lives in /tmp: the server's user must be able to reach it ($TMPDIR may be private)
  if [ "$(id -u)" -eq 0 ]; then tmp=/tmp; else tmp=${TMPDIR:-/tmp}; fi
  root=$(mktemp -d "$tmp/songmaytinh-pg.XXXXXX")
  chmod 755 "$root"
  echo "$root" >"$STATE_DIR/root"

  bin=$(pgserver_bin || true)
  if [ -n "$bin" ] && [ -x "$bin/postgres" ]; then
    log "trying pgserver binaries ($bin)"
    url=$(try_start "$bin" "$user" "$root") || url=""
  fi
  if [ -z "$url" ]; then
    bin=$(debian_bin || true)
    if [ -z "$bin" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing Debian's postgresql package"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 \
        || die "apt-get install postgresql failed"
      bin=$(debian_bin || true)
      user=$(server_user)
    fi
    [ -n "$bin" ] || die "no PostgreSQL binaries: install the dev dependencies (uv sync) or the postgresql package"
    log "trying $bin"
    url=$(try_start "$bin" "$user" "$root") || die "could not start PostgreSQL (log: $root/server.log)"
  fi
  echo "$url" >"$STATE_DIR/url"
  log "PostgreSQL $("$(cat "$root/bin")/postgres" --version | awk '{print $3}') running as $user at $url (data $root)"
  echo "export SONGMAYTINH_TEST_PG_URL=$url"
}

stop_server() {
  local root bin user
  [ -f "$STATE_DIR/root" ] || { [ "${1:-}" = quietly ] || log "nothing to stop in $STATE_DIR"; return 0; }
  root=$(cat "$STATE_DIR/root")
  if [ -f "$root/bin" ] && [ -f "$root/data/postmaster.pid" ]; then
    bin=$(cat "$root/bin"); user=$(cat "$root/user")
    as_user "$user" "$bin/pg_ctl" -D "$root/data" -m immediate -w stop >/dev/null 2>&1 || log "pg_ctl stop failed"
  fi
  case "$root" in
    */songmaytinh-pg.*) rm -rf "$root" ;;
  esac
  rm -f "$STATE_DIR/root" "$STATE_DIR/url"
}

case "$ACTION" in
  start) start ;;
  stop) stop_server ;;
  *) die "usage: $0 start|stop [STATE_DIR]" ;;
esac
