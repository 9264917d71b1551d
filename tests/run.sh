#!/usr/bin/env bash
# `make test`: start a throwaway PostgreSQL (tests/pg_server.sh), run pytest against it, always stop it.
# The print tests need LibreOffice and poppler: tests/office.sh installs them when missing (as root, apt-get); the
# Spark linkage test needs a Java runtime (17+): tests/java.sh installs one when missing, the same way.
# Arguments are passed to pytest, e.g. `bash tests/run.sh tests/adapters/ledger -k migrate`.
set -uo pipefail
cd "$(dirname "$0")/.."

STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/songmaytinh-pgstate.XXXXXX")
cleanup() {
  bash tests/pg_server.sh stop "$STATE_DIR" || true
  rm -rf "$STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash tests/office.sh || { echo "run.sh: LibreOffice / poppler missing (see tests/office.sh)" >&2; exit 1; }
bash tests/java.sh || { echo "run.sh: no Java runtime for Spark (see tests/java.sh)" >&2; exit 1; }

exports=$(bash tests/pg_server.sh start "$STATE_DIR") || { echo "run.sh: PostgreSQL did not start" >&2; exit 1; }
eval "$exports"
export SONGMAYTINH_TEST_PG_URL

# loadgroup: tests marked xdist_group (the Prefect server tests) share one worker and so one server
python -m pytest -n 2 --dist loadgroup "$@"  # the project venv: make runs this through `uv run`
status=$?
exit $status
