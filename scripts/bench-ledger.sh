#!/usr/bin/env bash
# The ledger's ingest benchmark, printed with its method:
#   1. the store's raw write rate: `ledger seed --events N` writes N synthetic events of the real
#      formats (outcome and progress, about four per case event) through the ledger's parse and
#      write path, 1000 per transaction, into a fresh database; the rate counts writing time only;
#   2. through the broker: N synthetic events are published (confirmed) to an outcomes exchange
#      of the benchmark's own while no ledger runs (they wait in the ledger's queue); then one
#      `ledger run` (batch_size 500, prefetch 2000) drains them; the clock runs from "consuming"
#      until the database holds all N.
# Target: at least 5,000 events/s. Usage: scripts/bench-ledger.sh [EVENTS] (default 50000).
# PREAUTH_BENCH_PROFILE=dev measures the debug build (no release build needed); release is the
# default. Needs RabbitMQ on 127.0.0.1:5672 and PostgreSQL at PREAUTH_TEST_PG
# (postgres://postgres@127.0.0.1:5432 by default).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${1:-50000}"
PROFILE="${PREAUTH_BENCH_PROFILE:-release}"
PG="${PREAUTH_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "$PROFILE" = dev ]; then DIR=debug; else DIR="$PROFILE"; fi
cargo build --quiet --profile "$PROFILE" --bin preauth-worker
BIN="$TARGET/$DIR/preauth-worker"

ID="bench$$$RANDOM"
DB_RAW="preauth_bench_${ID}_raw"
DB_BUS="preauth_bench_${ID}_bus"
WORK="$(mktemp -d)"
LEDGER_PID=""
cleanup() {
  if [ -n "$LEDGER_PID" ]; then kill "$LEDGER_PID" 2>/dev/null || true; wait "$LEDGER_PID" 2>/dev/null || true; fi
  for db in "$DB_RAW" "$DB_BUS"; do
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rabbitmqctl -q delete_queue "$ID.ledger" >/dev/null 2>&1 || true
  rabbitmqctl -q delete_queue "$ID.ledger.dead" >/dev/null 2>&1 || true
  rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$ID.outcomes\">>), false, <<\"bench\">>)." >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for var in $(env | grep -o '^PREAUTH__[A-Z_]*' || true); do unset "$var"; done
export PREAUTH__TOPOLOGY__OUTCOMES_EXCHANGE="$ID.outcomes"
export PREAUTH__LEDGER__QUEUE="$ID.ledger"
export PREAUTH__LEDGER__OPS_LISTEN="127.0.0.1:0"
export PREAUTH__CONSOLE__LISTEN="127.0.0.1:0"
export PREAUTH__LOG__FORMAT=json

echo "ledger ingest benchmark: $EVENTS events, $PROFILE build, $(nproc) CPU(s)"

# 1. The store's raw write rate.
psql "$PG/postgres" -qc "CREATE DATABASE $DB_RAW"
PREAUTH__LEDGER__DATABASE_URL="$PG/$DB_RAW" "$BIN" ledger seed --events "$EVENTS" | sed 's/^/  store:  /'

# 2. Through the broker.
psql "$PG/postgres" -qc "CREATE DATABASE $DB_BUS"
export PREAUTH__LEDGER__DATABASE_URL="$PG/$DB_BUS"
wait_log() { # file, text
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}
# A first run declares the queue and its bindings, and stops.
"$BIN" ledger run 2>"$WORK/declare.log" & LEDGER_PID=$!
wait_log "$WORK/declare.log" "Ledger consuming"
kill -TERM "$LEDGER_PID"; wait "$LEDGER_PID" || true; LEDGER_PID=""
"$BIN" ledger seed --publish --events "$EVENTS" | sed 's/^/  broker: /'
SENT="$(rabbitmqctl -q list_queues --no-table-headers name messages | awk -v q="$ID.ledger" '$1 == q {print $2}')"
"$BIN" ledger run 2>"$WORK/ledger.log" & LEDGER_PID=$!
wait_log "$WORK/ledger.log" "Ledger consuming"
START="$(date +%s.%N)"
while :; do
  N="$(psql "$PG/$DB_BUS" -tAc "SELECT count(*) FROM ledger_events")"
  [ "$N" -ge "$SENT" ] && break
  sleep 0.05
done
END="$(date +%s.%N)"
kill -TERM "$LEDGER_PID"; wait "$LEDGER_PID" || true; LEDGER_PID=""
awk -v n="$SENT" -v s="$START" -v e="$END" 'BEGIN {
  printf "  broker: drained %d events from the queue into PostgreSQL in %.2f s: %.0f events/s (target 5000)\n", n, e - s, n / (e - s) }'
