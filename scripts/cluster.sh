#!/usr/bin/env bash
# The distributed engine, proven: starts a three-node RabbitMQ cluster on local ports (its own
# node names and data directories, beside the machine's default broker on 5672), runs the
# cluster chaos scenario (two workers on a quorum work queue; the node leading that queue is
# stopped in the middle of the run; the invariant is checked), then stops the cluster.
# Usage: scripts/cluster.sh [CASES]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-2000}"
base="${CLUSTER_DIR:-/tmp/preauth-cluster}"
nodes=(c1 c2 c3)
ports=(5681 5682 5683)
host=$(hostname -s)

node_env() { # $1 = index
  local n=${nodes[$1]} p=${ports[$1]}
  echo "RABBITMQ_NODENAME=preauth-$n@localhost RABBITMQ_NODE_PORT=$p RABBITMQ_DIST_PORT=$((p + 20000)) \
RABBITMQ_MNESIA_BASE=$base/$n/mnesia RABBITMQ_LOG_BASE=$base/$n/log RABBITMQ_PID_FILE=$base/$n/pid \
RABBITMQ_ENABLED_PLUGINS_FILE=$base/enabled_plugins RABBITMQ_CONFIG_FILE=$base/$n/rabbitmq \
RABBITMQ_ADVANCED_CONFIG_FILE=$base/$n/advanced.config"
}
ctl() { rabbitmqctl -n "preauth-$1@localhost" "${@:2}"; }

stop_cluster() {
  for n in "${nodes[@]}"; do ctl "$n" stop >/dev/null 2>&1 || true; done
}
trap stop_cluster EXIT

stop_cluster
rm -rf "$base"
mkdir -p "$base"
echo '[].' > "$base/enabled_plugins"
# Debian's rabbitmq-server and rabbitmqctl switch to the rabbitmq user: it owns the node dirs.
owner=$(id -u rabbitmq >/dev/null 2>&1 && echo rabbitmq || id -un)
for i in 0 1 2; do
  n=${nodes[$i]}
  mkdir -p "$base/$n/mnesia" "$base/$n/log"
  printf 'listeners.tcp.default = %s\nloopback_users = none\n' "${ports[$i]}" > "$base/$n/rabbitmq.conf"
  echo '[].' > "$base/$n/advanced.config"
  chown -R "$owner" "$base"
  env $(node_env "$i") rabbitmq-server -detached
done
for n in "${nodes[@]}"; do
  # await_startup fails at once while the node has not registered with epmd yet.
  for _ in $(seq 1 120); do ctl "$n" ping >/dev/null 2>&1 && break; sleep 1; done
  ctl "$n" await_startup --timeout 120 >/dev/null
done
for n in c2 c3; do
  ctl "$n" stop_app >/dev/null
  ctl "$n" reset >/dev/null
  ctl "$n" join_cluster preauth-c1@localhost >/dev/null
  ctl "$n" start_app >/dev/null
done
ctl c1 cluster_status | grep -A4 "Running Nodes" || true

urls="amqp://guest:guest@127.0.0.1:5681/%2f,amqp://guest:guest@127.0.0.1:5682/%2f,amqp://guest:guest@127.0.0.1:5683/%2f"
CHAOS_CLUSTER_URLS="$urls" CHAOS_CASES="$cases" CHAOS_ONLY=cluster \
  cargo test --test chaos -- --nocapture
