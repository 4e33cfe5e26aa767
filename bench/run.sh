#!/usr/bin/env bash
# Province-scale benchmark: the built-in simulator on loopback as the source,
# seeded, and tthc-watch (release build) syncing, checking and serving.
#
#   bash bench/run.sh 10000            # smoke (CI runs this as a check that it still works)
#   bash bench/run.sh 200000 1000000   # the real scales
#
# For each scale it measures, in the same run:
#   1. initial sync into SQLite and into PostgreSQL (dossiers/s);
#   2. the transport limit: every page fetched with curl, nothing parsed;
#   3. the storage limit: the same rows loaded by sqlite3 .import and PostgreSQL COPY;
#   4. incremental sync with ~1% of dossiers changed, and with none changed;
#   5. check over all dossiers; the digest; the API's overdue query p50/p99;
#   6. peak RSS of each tthc-watch process (GNU time).
# Results are appended to bench/results-SCALE.txt and printed; bench/RESULTS.md
# holds the figures written down with their context.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES=("${@:-10000}")
PG_ADMIN=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
NOW=2026-11-25T08:00:00+07:00
NEXT=2026-11-26T08:00:00+07:00 # the next working day
# BENCH_BIN=target/debug/tthc-watch runs the smoke scale without a release build (CI).
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$PWD/$BENCH_BIN
else
  cargo build --release --quiet
  BIN=$PWD/target/release/tthc-watch
fi
TIME=/usr/bin/time
[ -x "$TIME" ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secs() { python3 -c "import time; print(time.time())"; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
rate() { python3 -c "print(f'{$1 / max($2, 1e-9):,.0f}')"; }
# Runs a command under GNU time; prints "SECONDS RSS_MB" on the last line of $OUT.
measure() {
  local out=$1; shift
  $TIME -f "%e %M" -o "$out.time" "$@" >"$out" 2>&1
  read -r s k <"$out.time"
  echo "$s $((k / 1024))"
}

# Runs `check` until it has printed its summary (the evaluation and its writes,
# committed), then stops it before the apology drafts.
check_only() {
  local out=$1 db=$2 now=$3
  shift 3
  "$BIN" check --database-url "$db" --now "$now" "$@" >"$out" 2>&1 &
  local pid=$!
  until grep -q 'check: evaluated' "$out" || ! kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

for N in "${SCALES[@]}"; do
  WORK=$(mktemp -d /tmp/tthc-bench.XXXX)
  # check drafts apology letters: into the scratch folder, not the working tree.
  export TTHC_WATCH__LETTERS__DIR=$WORK/letters
  RES=${BENCH_OUT:-bench}/results-$N.txt
  : >"$RES"
  log() { echo "$*" | tee -a "$RES"; }
  log "== $N dossiers — $(date -u +%F) — $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB =="
  SP=$(port)
  # --prerender: every record is rendered before the clock starts, so what is
  # measured is serving pages, not the simulator generating its world.
  "$BIN" simulate --listen 127.0.0.1:$SP --dossiers "$N" --seed 1 --token bench --speed 0 --now $NOW --prerender >"$WORK/sim.log" 2>&1 &
  SIM=$!
  trap 'kill $SIM 2>/dev/null || true; kill $API 2>/dev/null || true' EXIT
  API=
  until curl -sf "http://127.0.0.1:$SP/admin/clock" >/dev/null; do sleep 0.5; done
  SRC="--source-url http://127.0.0.1:$SP --source-token bench"

  # 2. Transport limit: every page over one keep-alive connection, as the sync
  # fetches them, nothing parsed but the cursor (curl started per page would
  # measure process starts). Then the same with a curl process per page.
  read -r TRANSPORT pages bytes N < <(python3 - "$SP" <<'PY'
import http.client, re, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
rev = pages = size = live = 0
t = time.perf_counter()
while True:
    c.request("GET", f"/api/v1/dossiers?since_rev={rev}&limit=1000", headers={"Authorization": "Bearer bench"})
    body = c.getresponse().read()
    pages += 1; size += len(body)
    # Dossiers visible now: records minus tombstones (a byte count, not a parse).
    live += body.count(b'"code":') - body.count(b'"deleted":true')
    # Keys come sorted: has_more first, next_rev last; nothing else is parsed.
    rev = int(re.search(rb'"next_rev":(\d+)', body[-40:]).group(1))
    if not body.startswith(b'{"has_more":true'):
        break
print(f"{time.perf_counter() - t:.3f} {pages} {size} {live}")
PY
)
  t0=$(secs); rev=0
  while :; do
    curl -s -H "Authorization: Bearer bench" "http://127.0.0.1:$SP/api/v1/dossiers?since_rev=$rev&limit=1000" -o "$WORK/page.json"
    rev=$(tail -c 40 "$WORK/page.json" | grep -o '"next_rev":[0-9]*' | cut -d: -f2)
    head -c 20 "$WORK/page.json" | grep -q '"has_more":true' || break
  done
  t1=$(secs); CURL=$(elapsed "$t0" "$t1")
  log "transport limit: $N dossiers in $pages pages, $((bytes / 1048576)) MiB in ${TRANSPORT} s ($(rate "$N" "$TRANSPORT") dossiers/s); a curl process per page: ${CURL} s ($(rate "$N" "$CURL") dossiers/s)"

  # 1. Initial sync into SQLite.
  DB=sqlite://$WORK/bench.db
  read -r S RSS < <(measure "$WORK/sync-sqlite" "$BIN" sync $SRC --database-url "$DB" --now $NOW)
  SYNC_SQLITE=$S
  log "initial sync SQLite: ${S} s, $(rate "$N" "$S") dossiers/s, $(python3 -c "print(f'{$S / $TRANSPORT:.2f}')")× transport, peak RSS ${RSS} MB, database $(( $(stat -c %s "$WORK/bench.db") / 1048576 )) MiB | $(grep -o 'fetched.*' "$WORK/sync-sqlite" | head -1)"

  # 1. Initial sync into PostgreSQL (a fresh database).
  PGDB=tthc_bench_$$
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PGDB" -qc "CREATE DATABASE $PGDB" >/dev/null
  PGURL=${PG_ADMIN%/*}/$PGDB
  read -r S RSS < <(measure "$WORK/sync-pg" "$BIN" sync $SRC --database-url "$PGURL" --now $NOW)
  SYNC_PG=$S
  log "initial sync PostgreSQL: ${S} s, $(rate "$N" "$S") dossiers/s, $(python3 -c "print(f'{$S / $TRANSPORT:.2f}')")× transport, peak RSS ${RSS} MB"

  # 3. Storage limit: the same rows by sqlite3 .import and COPY.
  sqlite3 -csv "$WORK/bench.db" "SELECT * FROM dossiers" >"$WORK/dossiers.csv"
  # The table alone (its indexes span several lines: not a grep of .schema).
  sqlite3 "$WORK/bench.db" "SELECT sql || ';' FROM sqlite_master WHERE type = 'table' AND name = 'dossiers'" \
    | sed 's/CREATE TABLE dossiers/CREATE TABLE raw/' >"$WORK/raw.sql"
  t0=$(secs)
  sqlite3 "$WORK/raw.db" ".read $WORK/raw.sql" ".mode csv" ".import $WORK/dossiers.csv raw"
  t1=$(secs); log "storage limit SQLite (.import of the dossiers table): $(elapsed "$t0" "$t1") s, $(rate "$N" "$(elapsed "$t0" "$t1")") rows/s"
  IMPORT_S=$(elapsed "$t0" "$t1")
  psql "$PGURL" -qc "CREATE TABLE raw (LIKE dossiers INCLUDING DEFAULTS)" >/dev/null
  t0=$(secs)
  psql "$PGURL" -qc "\\copy raw FROM '$WORK/dossiers.csv' WITH (FORMAT csv)" >/dev/null
  t1=$(secs); log "storage limit PostgreSQL (COPY of the dossiers table): $(elapsed "$t0" "$t1") s, $(rate "$N" "$(elapsed "$t0" "$t1")") rows/s"
  COPY_S=$(elapsed "$t0" "$t1")
  # The engines' own floor: the synced rows copied inside each engine into an
  # empty table with the same schema and indexes, one statement, no client and
  # nothing parsed (SQLite: same page size, WAL and page cache as the sync's
  # connection, its checkpoint included). No sync can store the rows faster
  # than its engine copies them.
  sqlite3 "$WORK/bench.db" ".schema dossiers" >"$WORK/floor.sql"
  sqlite3 "$WORK/floor.db" "PRAGMA page_size = 16384" "PRAGMA journal_mode = WAL" ".read $WORK/floor.sql" >/dev/null
  t0=$(secs)
  sqlite3 "$WORK/floor.db" "PRAGMA synchronous = NORMAL" "PRAGMA cache_size = -40000" "ATTACH '$WORK/bench.db' AS src" \
    "BEGIN" "INSERT INTO dossiers SELECT * FROM src.dossiers" "COMMIT" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  t1=$(secs); FLOOR_SQLITE=$(elapsed "$t0" "$t1")
  rm -f "$WORK/floor.db"*
  psql "$PGURL" -qc "CREATE TABLE floor (LIKE dossiers INCLUDING ALL)" -qc "CHECKPOINT" >/dev/null
  t0=$(secs)
  psql "$PGURL" -qc "INSERT INTO floor SELECT * FROM dossiers" >/dev/null
  t1=$(secs); FLOOR_PG=$(elapsed "$t0" "$t1")
  psql "$PGURL" -qc "DROP TABLE floor" >/dev/null
  log "engine floor (the rows copied inside the engine, same schema and indexes, no client, nothing parsed): SQLite ${FLOOR_SQLITE} s ($(python3 -c "print(f'{$FLOOR_SQLITE / $TRANSPORT:.2f}')")× transport), PostgreSQL ${FLOOR_PG} s ($(python3 -c "print(f'{$FLOOR_PG / $TRANSPORT:.2f}')")× transport); the sync is $(python3 -c "print(f'{$SYNC_SQLITE / $FLOOR_SQLITE:.2f}')")× and $(python3 -c "print(f'{$SYNC_PG / $FLOOR_PG:.2f}')")× its engine's floor"

  # Against the storage limit of the same run (steadier than absolute rates on
  # a shared machine), and the limit itself against the transport.
  log "sync / storage limit: SQLite $(python3 -c "print(f'{$SYNC_SQLITE / $IMPORT_S:.2f}')")× the .import, PostgreSQL $(python3 -c "print(f'{$SYNC_PG / $COPY_S:.2f}')")× the COPY; the limits themselves $(python3 -c "print(f'{$IMPORT_S / $TRANSPORT:.2f}')")× and $(python3 -c "print(f'{$COPY_S / $TRANSPORT:.2f}')")× the transport"

  # 5. check over every dossier (first evaluation), then again (only verdicts
  # whose moment to move came: none at the same time).
  read -r S RSS < <(measure "$WORK/check1" "$BIN" check --database-url "$DB" --now $NOW)
  log "check, first (every dossier): ${S} s, peak RSS ${RSS} MB | $(grep -o 'check: evaluated.*' "$WORK/check1")"
  read -r S RSS < <(measure "$WORK/check2" "$BIN" check --database-url "$DB" --now $NOW)
  log "check, again (nothing can have changed): ${S} s, peak RSS ${RSS} MB | $(grep -o 'check: evaluated.*' "$WORK/check2")"
  # Every stored dossier re-evaluated (what a calendar or rules correction
  # asks for); the simulator's province has ~8% of them open.
  read -r S RSS < <(measure "$WORK/check3" "$BIN" check --all --database-url "$DB" --now $NOW)
  log "check --all (every dossier re-evaluated): ${S} s, peak RSS ${RSS} MB | $(grep -o 'check: evaluated.*' "$WORK/check3")"

  # The next working morning's check, on a copy: every open dossier has a
  # working day less (counted when shown, not stored); the verdicts whose class
  # moves or whose running step's lateness grows are evaluated and written; the
  # new overdue ones get apology drafts (in the process time, not the check's).
  cp "$WORK/bench.db" "$WORK/next.db"
  read -r S RSS < <(measure "$WORK/check4" "$BIN" check --database-url "sqlite://$WORK/next.db" --now $NEXT)
  log "check, next working morning (verdicts whose moment came): ${S} s, peak RSS ${RSS} MB | $(grep -o 'check: evaluated.*' "$WORK/check4")"
  rm -f "$WORK/next.db"

  # The target's own case: every stored dossier open. On a copy, every dossier
  # is reopened as if still being handled (most of them then overdue) just
  # after NOW's checks, and checked a few minutes later (every verdict
  # changes); checked the next working morning (open verdicts' days move but
  # are not stored: what is written is what changed class, reached a rung or
  # had its running step's lateness grow, ~5%); again (nothing can have
  # changed); and with --all (every verdict evaluated again, as after a
  # calendar correction). The apology drafts that would follow (hundreds of
  # thousands) are not part of it: each check is stopped once its summary is
  # out, and the WAL folded into the copy.
  cp "$WORK/bench.db" "$WORK/open.db"
  # Changed just after NOW's checks, and queued for the next check as the sync
  # queues what it changes.
  sqlite3 "$WORK/open.db" "UPDATE dossiers SET status = 'processing', finished_at = NULL, returned_at = NULL, \
    last_changed_at = '2026-11-25 08:00:01' WHERE deleted = 0; \
    INSERT INTO check_queue (dossier_id) SELECT id FROM dossiers WHERE deleted = 0"
  REOPENED=2026-11-25T08:05:00+07:00
  for step in "reopened|$REOPENED|" "next working morning|$NEXT|" "again|$NEXT|" "every verdict again (--all)|$NEXT|--all"; do
    IFS='|' read -r label at args <<<"$step"
    check_only "$WORK/open-check" "sqlite://$WORK/open.db" "$at" $args
    sqlite3 "$WORK/open.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    log "check, all open, $label: $(grep -o 'check: evaluated.*' "$WORK/open-check")"
  done
  rm -f "$WORK/open.db"*

  # The same on PostgreSQL (production's store): its synced dossiers checked,
  # all reopened and checked, the dead row versions vacuumed as autovacuum
  # would overnight, then the next working morning and again.
  check_only "$WORK/pg-check" "$PGURL" "$NOW"
  # (PostgreSQL keeps instants and flags: the time is given in Vietnam's offset.)
  psql "$PGURL" -qc "UPDATE dossiers SET status = 'processing', finished_at = NULL, returned_at = NULL, \
    last_changed_at = '2026-11-25 08:00:01+07' WHERE NOT deleted" \
    -qc "INSERT INTO check_queue (dossier_id) SELECT id FROM dossiers WHERE NOT deleted" -qc "VACUUM ANALYZE" >/dev/null
  check_only "$WORK/pg-check" "$PGURL" "$REOPENED"
  psql "$PGURL" -qc "VACUUM ANALYZE" >/dev/null
  for step in "next working morning" "again"; do
    check_only "$WORK/pg-check" "$PGURL" "$NEXT"
    log "check, all open, $step (PostgreSQL): $(grep -o 'check: evaluated.*' "$WORK/pg-check")"
  done

  # 4. Incremental syncs: nothing changed; then about 1% changed.
  read -r S RSS < <(measure "$WORK/inc0" "$BIN" sync $SRC --database-url "$DB" --now $NOW)
  log "incremental sync, nothing changed: ${S} s (process start included), peak RSS ${RSS} MB | $(grep -o 'fetched.*' "$WORK/inc0")"
  # About 1% of the stored dossiers change in 100 simulated minutes (and ~0.2%
  # arrive), whatever the scale. The poll's own time is the figure after
  # "quarantined N,"; the process's also counts start-up and closing the store.
  MIN=100
  curl -s -X POST -H 'content-type: application/json' -d "{\"minutes\": $MIN}" "http://127.0.0.1:$SP/admin/advance" >/dev/null
  read -r S RSS < <(measure "$WORK/inc1" "$BIN" sync $SRC --database-url "$DB" --now $NOW)
  log "incremental sync after $MIN simulated minutes: ${S} s, peak RSS ${RSS} MB | $(grep -o 'fetched.*' "$WORK/inc1")"

  # 5. Digest.
  read -r S RSS < <(measure "$WORK/digest" env TTHC_WATCH__MAIL__TRANSPORT=file TTHC_WATCH__MAIL__FILE_DIR="$WORK/mail" \
    "$BIN" digest --force --database-url "$DB" --now $NOW)
  log "digest: ${S} s, peak RSS ${RSS} MB"

  # 5. The API's overdue query under load.
  AP=$(port)
  TOKEN=$(TTHC_WATCH__DATABASE__URL="$DB" "$BIN" token create --role auditor --name bench 2>/dev/null)
  TTHC_WATCH__DATABASE__URL="$DB" TTHC_WATCH__SERVER__LISTEN=127.0.0.1:$AP $TIME -f "%M" -o "$WORK/serve.time" "$BIN" serve >"$WORK/serve.log" 2>&1 &
  API=$!
  until curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null; do sleep 0.2; done
  python3 - "$AP" "$TOKEN" <<'PY' | tee -a "$RES"
import http.client, statistics, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": f"Bearer {token}"}
lat = []
for i in range(300):
    t = time.perf_counter()
    c.request("GET", "/api/v1/dossiers?class=overdue&limit=100", headers=h)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print(f"API overdue query (300 requests, first 100 rows): p50 {lat[149]:.1f} ms, p99 {lat[296]:.1f} ms, max {lat[-1]:.1f} ms")
PY
  # GNU time ignores SIGINT: stop the server itself.
  pkill -INT -P $API || true; wait $API 2>/dev/null || true
  log "serve peak RSS: $(( $(cat "$WORK/serve.time" | tail -1) / 1024 )) MB"
  kill $SIM; wait $SIM 2>/dev/null || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null
  rm -rf "$WORK"
done
