#!/usr/bin/env bash
# Peak RSS of the worker sending three 5 MiB photos a case inline, prefetch 64, through a real
# broker to payer-sim over HTTP; with the shipped byte budget and with it lifted.
# Usage: scripts/bench-attachments.sh [CASES] [PREFETCH] [PHOTO_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_CASES="${1:-128}" BENCH_PREFETCH="${2:-64}" BENCH_PHOTO_MIB="${3:-5}"
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { rabbitmq-server -detached; sleep 10; }
cargo bench --bench attachments_rss
