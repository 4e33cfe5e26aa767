#!/usr/bin/env bash
# Disk taken per 100,000 dossiers, for the README's sizing section: a
# simulated system of N dossiers synced into SQLite, checked (verdicts,
# history, alerts, letters drafted with their DOCX in the database), then a
# simulated week of changes synced and checked each working morning. Prints
# the database file, its WAL, the letters folder and what each table holds.
#
#   bash bench/sizing.sh 100000
#
# Results go to bench/results-sizing-N.txt; RESULTS.md holds them with context.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$PWD/$BENCH_BIN
else
  cargo build --release --quiet
  BIN=$PWD/target/release/tthc-watch
fi
WORK=$(mktemp -d /tmp/tthc-sizing.XXXX)
export TTHC_WATCH__LETTERS__DIR=$WORK/letters
RES=bench/results-sizing-$N.txt
: >"$RES"
log() { echo "$*" | tee -a "$RES"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mib() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

SP=$(port)
NOW=2026-11-23T08:00:00+07:00
"$BIN" simulate --listen 127.0.0.1:$SP --dossiers "$N" --seed 1 --token s --speed 0 --now $NOW >"$WORK/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$SP/admin/clock" >/dev/null; do sleep 0.5; done
DB=$WORK/s.db
SRC="--source-url http://127.0.0.1:$SP --source-token s --database-url sqlite://$DB"

report() {
  local what=$1
  local stored letters
  stored=$(sqlite3 "$DB" "SELECT COUNT(*) FROM dossiers")
  letters=$(sqlite3 "$DB" "SELECT COUNT(*) || ' versions, ' || COALESCE(SUM(length(content)), 0) || ' bytes' FROM letters")
  log "$what: $stored dossiers; file $(mib "$(size "$DB")") MiB, WAL $(mib "$(size "$DB-wal")") MiB, letters.dir $(du -sm "$WORK/letters" 2>/dev/null | cut -f1 || echo 0) MiB; letters $letters"
}

log "== sizing, $N simulated dossiers — $(date -u +%F) =="
"$BIN" sync $SRC --now $NOW >"$WORK/sync.log" 2>&1
report "initial sync"
"$BIN" check --database-url "sqlite://$DB" --now $NOW >"$WORK/check.log" 2>&1
report "first check"
# A working week: the source moves a day, then sync and check the next morning.
for day in 24 25 26 27 30; do
  T=2026-11-${day}T08:00:00+07:00
  curl -sf -X POST -H 'Content-Type: application/json' -d "{\"to\":\"$T\"}" "http://127.0.0.1:$SP/admin/advance" >/dev/null
  "$BIN" sync $SRC --now "$T" >>"$WORK/sync.log" 2>&1
  "$BIN" check --database-url "sqlite://$DB" --now "$T" >>"$WORK/check.log" 2>&1
done
report "after a week of changes"
log "by table (dbstat, MiB):"
sqlite3 "$DB" "SELECT name, ROUND(SUM(pgsize) / 1048576.0, 1) FROM dbstat GROUP BY name ORDER BY SUM(pgsize) DESC LIMIT 12" | tee -a "$RES"
