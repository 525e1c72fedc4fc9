#!/usr/bin/env bash
# The chaos suite at full size: every scenario with CASES cases in flight (default 3000), then
# the invariant table (also written to target/chaos-report.txt). Lost and different-id
# duplicates must be 0 in every row. CHAOS_ONLY=kill,restart runs some scenarios only;
# CHAOS_OUTAGE_SECS sets how long the payer is down / the broker paused or blocked (default 12).
# Add --cluster to also run the three-node RabbitMQ cluster scenario (scripts/cluster.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cases=3000
cluster=0
for arg in "$@"; do
  case "$arg" in
    --cluster) cluster=1 ;;
    *) cases="$arg" ;;
  esac
done
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { rabbitmq-server -detached; sleep 10; }
CHAOS_CASES="$cases" cargo test --test chaos -- --nocapture
if [ "$cluster" = 1 ]; then
  scripts/cluster.sh "$cases"
fi
