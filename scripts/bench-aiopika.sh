#!/usr/bin/env bash
# The Python stack side by side with the broker load benchmark: an aio-pika consume ->
# publish-with-confirm -> ack passthrough that mirrors the lapin ceiling run of
# benches/worker_load/ (same broker, queues, message, persistence, prefetch). Prints one row of
# the docs/performance.md table. Run it right after `cargo bench --bench worker_load` (or
# scripts/bench.sh) with the same BENCH_* settings to compare within one session.
# Environment: BENCH_CASES (20000), BENCH_PREFETCH (128), BENCH_AMQP_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { rabbitmq-server -detached; sleep 10; }

venv=target/aiopika-venv
if ! "$venv/bin/python" -c 'import aio_pika, sys; sys.exit(aio_pika.__version__ != "10.2.1")' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet aio-pika==10.2.1
fi
# BENCH_* pass through the environment as they are.
exec "$venv/bin/python" scripts/aiopika_passthrough.py
