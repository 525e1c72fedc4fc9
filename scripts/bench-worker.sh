#!/usr/bin/env bash
# Pushes N case events through a real broker and the release worker; prints cases/s, latency,
# peak RSS and CPU per 1,000 cases. Usage: scripts/bench-worker.sh [CASES] [PREFETCH] [LATENCY_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_CASES="${1:-20000}" BENCH_PREFETCH="${2:-64}" BENCH_LATENCY_MS="${3:-0}"
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { rabbitmq-server -detached; sleep 10; }
cargo bench --bench worker_load
