#!/usr/bin/env bash
# Memory of the auditors' exports at province scale: the simulator's N
# dossiers synced into SQLite and checked, then `serve` answering one XLSX and
# one CSV export of every dossier, under GNU time for its peak RSS.
#
#   bash bench/export.sh 1300000     # ~1.04M dossiers visible: the 1M target
#
# Prints the rows exported, each export's time and size, and serve's peak RSS;
# appends them to bench/results-export-N.txt. BENCH_BIN picks the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
NOW=2026-11-25T08:00:00+07:00
if [ -n "${BENCH_BIN:-}" ]; then BIN=$PWD/$BENCH_BIN; else cargo build --release --quiet; BIN=$PWD/target/release/tthc-watch; fi
WORK=$(mktemp -d /tmp/tthc-export.XXXX)
export TTHC_WATCH__LETTERS__DIR=$WORK/letters
RES=${BENCH_OUT:-bench}/results-export-$N.txt
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log() { echo "$*" | tee -a "$RES"; }
SP=$(port)
"$BIN" simulate --listen 127.0.0.1:$SP --dossiers "$N" --seed 1 --token bench --speed 0 --now $NOW --prerender >"$WORK/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
until curl -sf "http://127.0.0.1:$SP/admin/clock" >/dev/null; do sleep 0.5; done
DB=sqlite://$WORK/bench.db
"$BIN" sync --source-url http://127.0.0.1:$SP --source-token bench --database-url "$DB" --now $NOW >"$WORK/sync.log" 2>&1
kill $SIM; wait $SIM 2>/dev/null || true
# The verdicts, without the apology drafts that follow (stopped at its summary).
"$BIN" check --database-url "$DB" --now $NOW >"$WORK/check.log" 2>&1 &
CHECK=$!
until grep -q 'check: evaluated' "$WORK/check.log" || ! kill -0 $CHECK 2>/dev/null; do sleep 0.2; done
kill $CHECK 2>/dev/null || true; wait $CHECK 2>/dev/null || true
VISIBLE=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM dossiers WHERE deleted = 0")
TOKEN=$(TTHC_WATCH__DATABASE__URL="$DB" "$BIN" token create --role auditor --name bench 2>/dev/null)
AP=$(port)
TTHC_WATCH__DATABASE__URL="$DB" TTHC_WATCH__SERVER__LISTEN=127.0.0.1:$AP /usr/bin/time -f "%M" -o "$WORK/serve.time" "$BIN" serve >"$WORK/serve.log" 2>&1 &
API=$!
until curl -sf "http://127.0.0.1:$AP/healthz" >/dev/null; do sleep 0.2; done
log "== export of $VISIBLE dossiers ($N simulated) — $(date -u +%F) — $(nproc) cores =="
for f in xlsx csv; do
  read -r code secs size < <(curl -s -o "$WORK/export.$f" -w '%{http_code} %{time_total} %{size_download}\n' \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$AP/api/v1/dossiers?format=$f")
  [ "$code" = 200 ] || { echo "export $f answered $code"; exit 1; }
  if [ $f = csv ]; then rows=$(python3 -c "import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding='utf-8-sig'))) - 1)" "$WORK/export.csv"); else rows=$(( $(unzip -p "$WORK/export.xlsx" xl/worksheets/sheet1.xml | grep -o '<row ' | wc -l) - 1 )); fi
  log "$f: HTTP $code in ${secs} s, $((size / 1048576)) MiB, rows $rows"
done
pkill -INT -P $API || true; wait $API 2>/dev/null || true
log "serve peak RSS over both exports: $(( $(tail -1 "$WORK/serve.time") / 1024 )) MB"
