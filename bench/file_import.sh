#!/usr/bin/env bash
# File sources at scale: `simulate --export` writes the simulator's dossiers
# as a centre's XLSX export (title lines, merged header, totals row), then
# `import` loads it into a fresh SQLite database (and PostgreSQL when
# BENCH_PG_URL names a server, e.g. postgres://postgres@127.0.0.1:5432/postgres),
# each under GNU time for its peak RSS; then the same file again (recognised
# by its SHA-256, nothing read) and a second export of the same dossiers
# (other bytes: every row read, hashed and found unchanged).
#
#   bash bench/file_import.sh 252000    # ~200,000 rows (about 79% of the
#                                       # simulated dossiers are visible)
#
# Appends to bench/results-file-import-N.txt. BENCH_BIN picks the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-252000}
NOW=2026-11-25T08:00:00+07:00
if [ -n "${BENCH_BIN:-}" ]; then
  case $BENCH_BIN in /*) BIN=$BENCH_BIN ;; *) BIN=$PWD/$BENCH_BIN ;; esac
else
  cargo build --release --quiet; BIN=$PWD/target/release/tthc-watch
fi
WORK=$(mktemp -d /tmp/tthc-file-import.XXXX)
trap 'rm -rf "$WORK"' EXIT
RES=${BENCH_OUT:-bench}/results-file-import-$N.txt
log() { echo "$*" | tee -a "$RES"; }
timed() { # NAME CMD…: runs CMD under GNU time; prints "secs KB"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1
  cat "$WORK/$name.time"
}
read -r S KB < <(timed export "$BIN" simulate --export "$WORK/so.xlsx" --dossiers "$N" --seed 1 --now $NOW)
ROWS=$(grep -o '^[0-9]*' "$WORK/export.log")
SIZE=$(du -m "$WORK/so.xlsx" | cut -f1)
log "== file import of $ROWS rows ($N simulated) — $(date -u +%F) — $(nproc) cores =="
log "export (simulate --export): $S s, peak RSS $((KB / 1024)) MB, $SIZE MiB"
import() { # LABEL DB FILE
  read -r S KB < <(timed "$1" "$BIN" import "$3" --database-url "$2" --now $NOW)
  local rate; rate=$(python3 -c "print(f'{$ROWS / max($S, 0.01):,.0f}')")
  log "$1: $S s, $rate rows/s, peak RSS $((KB / 1024)) MB | $(grep -E 'dòng hồ sơ|đã nhập' "$WORK/$1.log" | sed 's/^ *//')"
}
DB=sqlite://$WORK/bench.db
"$BIN" migrate --database-url "$DB" >/dev/null
import "import SQLite" "$DB" "$WORK/so.xlsx"
import "same file again SQLite" "$DB" "$WORK/so.xlsx"
sleep 1
"$BIN" simulate --export "$WORK/so-2.xlsx" --dossiers "$N" --seed 1 --now $NOW >/dev/null
cmp -s "$WORK/so.xlsx" "$WORK/so-2.xlsx" && log "(the second export has the same bytes)"
import "second export SQLite (all unchanged)" "$DB" "$WORK/so-2.xlsx"
if [ -n "${BENCH_PG_URL:-}" ]; then
  NAME=tthc_file_bench_$$
  psql "$BENCH_PG_URL" -qc "CREATE DATABASE $NAME" >/dev/null
  PG=${BENCH_PG_URL%/*}/$NAME
  "$BIN" migrate --database-url "$PG" >/dev/null
  import "import PostgreSQL" "$PG" "$WORK/so.xlsx"
  import "second export PostgreSQL (all unchanged)" "$PG" "$WORK/so-2.xlsx"
  psql "$BENCH_PG_URL" -qc "DROP DATABASE $NAME WITH (FORCE)" >/dev/null
fi
