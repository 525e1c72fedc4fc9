#!/usr/bin/env bash
# Performance, in one command: criterion micro-benchmarks (validation, PAS bundle building and
# parsing), the broker load benchmark (bare and two-connection passthroughs, the worker at 0 ms
# and a slow payer, open-loop latency at 25/50/80% of the bare rate, a 100,000-case
# backlog, the aio-pika passthrough for comparison), and `process` on 100,000 cases. Figures go to
# stdout; docs/performance.md explains them.
# Environment: BENCH_CASES, BENCH_PREFETCH, BENCH_LATENCY_MS, BENCH_BACKLOG, BENCH_AIOPIKA,
# BENCH_ROUNDS, BENCH_OPEN_SECONDS, BENCH_OPEN_BARE (see
# benches/worker_load/main.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { rabbitmq-server -detached; sleep 10; }

echo "== criterion: per-case costs"
cargo bench --bench validation 2>/dev/null | grep -E '^[a-zA-Z].*|time:' | grep -B1 'time:'

echo "== broker load"
cargo bench --bench worker_load 2>/dev/null | sed -n '/^run /,$p'

echo "== process: 100,000 cases, simulated payer"
cargo build --release --quiet
input=$(mktemp --suffix=.jsonl)
trap 'rm -f "$input"' EXIT
python3 - "$input" <<'PY'
import json, sys
case = json.load(open("examples/01-eyelid-margin-cornea-approved.json"))
with open(sys.argv[1], "w") as out:
    for i in range(100_000):
        case["event_id"] = f"bench-{i:07d}"
        case["case_id"] = f"C-bench-{i:07d}"
        out.write(json.dumps(case) + "\n")
PY
/usr/bin/time -f "process peak RSS %M KiB, %e s wall, %U s user" \
  target/release/preauth-worker process "$input" --output /dev/null
