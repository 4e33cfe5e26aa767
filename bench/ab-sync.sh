#!/usr/bin/env bash
# A/B of the PostgreSQL initial sync alone, for two builds: one prerendered
# simulator, each build syncing a fresh, migrated database in turn (A, B, A,
# B, …), so that both meet the same machine state. Prints seconds and rows.
#
#   bash bench/ab-sync.sh OLD_BINARY NEW_BINARY        # N=200000 RUNS=3 by default
set -euo pipefail
N=${N:-200000}
A=$1; B=$2; RUNS=${RUNS:-3}
PG=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
DB=${PG%/*}/tthc_ab
NOW=2026-11-25T08:00:00+07:00
SP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$A" simulate --listen 127.0.0.1:$SP --dossiers "$N" --seed 1 --token bench --speed 0 --now $NOW --prerender >/tmp/ab-sim.log 2>&1 &
SIM=$!; trap 'kill $SIM' EXIT
until curl -sf "http://127.0.0.1:$SP/admin/clock" >/dev/null; do sleep 0.5; done
for _ in $(seq "$RUNS"); do
  for bin in "$A" "$B"; do
    psql "$PG" -qc "DROP DATABASE IF EXISTS tthc_ab" -qc "CREATE DATABASE tthc_ab" >/dev/null 2>&1
    # Migrated first: only the sync is timed.
    "$bin" migrate --database-url "$DB" >/dev/null 2>&1
    t0=$(date +%s.%N)
    "$bin" sync --source-url "http://127.0.0.1:$SP" --source-token bench --database-url "$DB" --now $NOW >/tmp/ab-sync.log 2>&1
    t1=$(date +%s.%N)
    echo "$bin $(python3 -c "print(f'{$t1-$t0:.2f}')") s, $(psql "$DB" -tAc 'SELECT count(*) FROM dossiers') dossiers"
  done
done
