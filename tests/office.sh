#!/usr/bin/env bash
# LibreOffice Calc (headless) and poppler for the print tests (tests/publishing/test_print.py), which print the
# sample's workbooks to PDF and read them back. Installed with apt-get when missing, as root (like PostgreSQL
# in tests/pg_server.sh); elsewhere install `libreoffice-calc-nogui poppler-utils` (or your system's
# LibreOffice and poppler) yourself. Messages go to stderr.
set -euo pipefail

log() { echo "office: $*" >&2; }

if command -v soffice >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "LibreOffice or poppler is missing and cannot be installed here (needs root and apt-get):"
  log "install libreoffice-calc (headless) and poppler-utils, then run the tests again"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log "installing LibreOffice Calc and poppler with apt-get"
apt-get update -qq >&2 || log "apt-get update failed; trying the package lists already here"
# libreoffice-calc-nogui is the headless build (Debian 11+); older releases only have libreoffice-calc.
pkgs="poppler-utils fonts-liberation"
if apt-cache show libreoffice-calc-nogui >/dev/null 2>&1; then
  pkgs="$pkgs libreoffice-calc-nogui"
else
  pkgs="$pkgs libreoffice-calc"
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >&2
command -v soffice >/dev/null 2>&1 || { log "soffice still missing after apt-get"; exit 1; }
