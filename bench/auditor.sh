#!/usr/bin/env bash
# The auditors' questions at scale: N dossiers from the simulator synced into
# a fresh SQLite file (and PostgreSQL with PG=1) and checked, then the served
# answers timed over HTTP as an auditor asks them — the filtered list (one
# unit, one month; late at any time in it), its totals, the dashboard's page,
# the whole month's XLSX, and the periodic report.
#
#   bash bench/auditor.sh 1260000     # ~1M visible dossiers (the simulator shows ~79%)
#   HISTORY_DAYS=730 bash bench/auditor.sh 1260000   # spread over two years
#
# Each request runs 7 times on one keep-alive connection; the median and the
# slowest are printed. Results are appended to bench/results-auditor-N.txt;
# bench/RESULTS.md holds them written down.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
NOW=2026-11-25T08:00:00+07:00
HISTORY_DAYS=${HISTORY_DAYS:-}
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$PWD/$BENCH_BIN
else
  cargo build --release --quiet
  BIN=$PWD/target/release/tthc-watch
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d /tmp/tthc-auditor.XXXX)
export TTHC_WATCH__LETTERS__DIR=$WORK/letters
RES=${BENCH_OUT:-bench}/results-auditor-$N.txt
: >"$RES"
log() { echo "$*" | tee -a "$RES"; }
log "== auditors' questions, $N simulated dossiers${HISTORY_DAYS:+, $HISTORY_DAYS days of history} — $(date -u +%F) — $(nproc) cores =="

SP=$(port)
HIST=()
[ -n "$HISTORY_DAYS" ] && HIST=(--history-days "$HISTORY_DAYS")
"$BIN" simulate --listen 127.0.0.1:$SP --dossiers "$N" --seed 1 --token bench --speed 0 --now $NOW "${HIST[@]}" >"$WORK/sim.log" 2>&1 &
SIM=$!
API=
# KEEP=1 keeps the databases (for EXPLAIN QUERY PLAN) and says where.
trap 'kill $SIM 2>/dev/null || true; [ -n "$API" ] && kill $API 2>/dev/null || true; if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi' EXIT
until curl -sf "http://127.0.0.1:$SP/admin/clock" >/dev/null; do sleep 0.5; done

ask() { # DB_URL LABEL: sync, check, serve, time the questions
  local db=$1 label=$2
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" sync --source-url "http://127.0.0.1:$SP" --source-token bench --database-url "$db" --now $NOW >"$WORK/sync.log" 2>&1
  t1=$(date +%s.%N)
  log "$label: synced in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s | $(grep -o 'fetched.*' "$WORK/sync.log" | head -1)"
  # The check's evaluation only: stopped once its summary is out, before the
  # apology drafts (tens of thousands at this scale; not what is measured).
  "$BIN" check --database-url "$db" --now $NOW >"$WORK/check.log" 2>&1 &
  local cpid=$!
  until grep -q 'check: evaluated' "$WORK/check.log" || ! kill -0 "$cpid" 2>/dev/null; do sleep 0.2; done
  kill "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
  log "$label: $(grep -o 'check: evaluated.*' "$WORK/check.log" | head -1)"
  local ap token
  ap=$(port)
  token=$(TTHC_WATCH__DATABASE__URL="$db" "$BIN" token create --role auditor --name bench 2>/dev/null)
  TTHC_WATCH__DATABASE__URL="$db" TTHC_WATCH__SERVER__LISTEN=127.0.0.1:$ap "$BIN" serve --now $NOW >"$WORK/serve.log" 2>&1 &
  API=$!
  until curl -sf "http://127.0.0.1:$ap/healthz" >/dev/null; do sleep 0.2; done
  python3 - "$ap" "$token" <<'PY' | tee -a "$RES"
import http.client, json, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
h = {"Authorization": f"Bearer {token}"}
def get(path):
    t = time.perf_counter()
    c.request("GET", path, headers=h)
    r = c.getresponse(); body = r.read()
    assert r.status == 200, (path, r.status, body[:300])
    return time.perf_counter() - t, body
# The busiest unit of October 2026, from the KPIs by unit... by code: the
# totals of each unit offered on the auditors' page.
_, page = get("/dashboard/dossiers?month=2026-10")
import re
units = re.findall(r'<option value="([^"]+)">[^<]*\(\1\)</option>', page.decode())
best, most = None, -1
for u in units:
    _, b = get(f"/api/v1/dossiers/totals?unit={u}&month=2026-10")
    n = json.loads(b)["dossiers"]
    if n > most:
        best, most = u, n
total = json.loads(get("/api/v1/dossiers/totals")[1])["dossiers"]
print(f"  {total:,} dossiers stored; unit {best}: {most:,} received in October 2026")
q = f"unit={best}&month=2026-10"
for label, path in [
    ("list, one unit, one month (first 100)", f"/api/v1/dossiers?{q}&limit=100"),
    ("list, one unit, one month, late at any time in it", f"/api/v1/dossiers?{q}&late_in_period=true&limit=100"),
    ("list, one unit, one month by due date", f"/api/v1/dossiers?{q}&date=due&limit=100"),
    ("list, one unit, finished in the month", f"/api/v1/dossiers?{q}&date=finished&limit=100"),
    ("totals, one unit, one month, late in it", f"/api/v1/dossiers/totals?{q}&late_in_period=true"),
    ("totals, every unit, one month", "/api/v1/dossiers/totals?month=2026-10"),
    ("totals, every unit, late in the month", "/api/v1/dossiers/totals?month=2026-10&late_in_period=true"),
    ("dashboard page, one unit, late in the month", f"/dashboard/dossiers?{q}&late_in_period=true"),
    ("XLSX, one unit, late in the month (whole list)", f"/api/v1/dossiers?{q}&late_in_period=true&format=xlsx"),
    ("periodic report 2026-Q3 (JSON)", "/api/v1/report?period=2026-Q3"),
    ("periodic report 2026-Q3 (XLSX)", "/api/v1/report?period=2026-Q3&format=xlsx"),
    ("periodic report 2026 (year, JSON)", "/api/v1/report?period=2026"),
]:
    try:
        times = sorted(get(path)[0] for _ in range(7))
    except AssertionError as e:
        print(f"  {label}: not answered ({e.args[0][1]})")
        continue
    print(f"  {label}: median {times[3]*1000:.0f} ms, slowest {times[-1]*1000:.0f} ms")
PY
  kill $API; wait $API 2>/dev/null || true
  API=
}

ask "sqlite://$WORK/bench.db" "SQLite"
if [ "${PG:-0}" = 1 ]; then
  PG_ADMIN=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
  PGDB=tthc_auditor_$$
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PGDB" -qc "CREATE DATABASE $PGDB" >/dev/null
  ask "${PG_ADMIN%/*}/$PGDB" "PostgreSQL"
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null
fi
