#!/usr/bin/env bash
# Runs the external validators over the deployment files under deploy/, installing what is
# missing (Debian packages with apt-get when run as root, PyPI packages in a virtualenv under
# ${XDG_CACHE_HOME:-/tmp}/preauth-check-deploy): kubernetes-validate, docker compose, BuildKit's
# Dockerfile parser, systemd-analyze, promtool, RabbitMQ's configuration schemas, and an import of
# the broker definitions into a scratch vhost that the worker then runs on. What the files say
# about the worker and about each other is checked by the Rust tests in tests/deploy.rs
# (`cargo test --test deploy`). Prints one line per check (details indented below a failure) and
# ends with "N passed, M failed, K skipped"; exits 1 if any check failed.
#
# Environment:
#   PREAUTH_WORKER   a preauth-worker binary to check against; otherwise `cargo build` makes one
#                    (debug profile, honouring CARGO_TARGET_DIR)
#   K8S_VERSIONS     Kubernetes versions for kubernetes-validate (default "1.31.0 1.37.0")
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$ROOT/deploy
CACHE=${XDG_CACHE_HOME:-/tmp}/preauth-check-deploy
K8S_VERSIONS=${K8S_VERSIONS:-"1.31.0 1.37.0"}
WORK=$(mktemp -d)
SCRATCH_VHOST=""
SCRATCH_USER=""

cleanup() {
  # Something else (a broker test stopping the app) may have the node down for a moment.
  if [ -n "$SCRATCH_USER$SCRATCH_VHOST" ]; then
    rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 || true
  fi
  if [ -n "$SCRATCH_USER" ]; then
    rabbitmqctl -q delete_user "$SCRATCH_USER" >/dev/null 2>&1 || true
  fi
  if [ -n "$SCRATCH_VHOST" ]; then
    rabbitmqctl -q delete_vhost "$SCRATCH_VHOST" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# A scratch deployment key (32 random bytes) for the checks that need one.
head -c 32 /dev/urandom >"$WORK/deployment.key"

passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP  %s: %s\n' "$1" "$2"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL  %s\n' "$1"
  if [ -s "$2" ]; then sed 's/^/      /' "$2" | head -n 40; fi
}
note() { printf '      %s\n' "$*"; }

# --- installing what is missing ------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then return 1; fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || return 1
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

PY=""
ensure_venv() {
  local venv=$CACHE/venv
  local want="kubernetes-validate==1.37.0 PyYAML==6.0.3 dockerfile==3.4.0"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.installed" 2>/dev/null)" = "$want" ]; then
    PY=$venv/bin/python
    return 0
  fi
  mkdir -p "$CACHE"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    apt_install python3-venv python3-pip || true
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >/dev/null 2>&1 || return 1
  fi
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $want >/dev/null 2>&1 || return 1
  echo "$want" >"$venv/.installed"
  PY=$venv/bin/python
}

COMPOSE=()
ensure_compose() {
  if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); return 0; fi
  if command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose; then
    COMPOSE=(docker-compose)
    return 0
  fi
  return 1
}

PROMTOOL=""
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then PROMTOOL=$(command -v promtool); return 0; fi
  local root=$CACHE/prometheus-deb
  if [ -x "$root/usr/bin/promtool" ]; then PROMTOOL=$root/usr/bin/promtool; return 0; fi
  # Only promtool is needed: unpack it from Debian's prometheus package instead of installing
  # the package, which would also install (and try to start) a Prometheus server.
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$APT_UPDATED" -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1 && APT_UPDATED=1
  fi
  local debs=$CACHE/debs
  mkdir -p "$debs"
  (cd "$debs" && apt-get download prometheus >/dev/null 2>&1) || return 1
  rm -rf "$root"
  dpkg-deb -x "$(ls -t "$debs"/prometheus_*.deb | head -n 1)" "$root" || return 1
  [ -x "$root/usr/bin/promtool" ] && PROMTOOL=$root/usr/bin/promtool
}

WORKER_BIN=""
WORKER_BIN_PROBLEM=""
ensure_worker_binary() {
  if [ -n "${PREAUTH_WORKER:-}" ]; then
    if [ -x "$PREAUTH_WORKER" ]; then WORKER_BIN=$PREAUTH_WORKER; return 0; fi
    WORKER_BIN_PROBLEM="PREAUTH_WORKER=$PREAUTH_WORKER is not an executable"
    return 1
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    WORKER_BIN_PROBLEM="no cargo to build preauth-worker (set PREAUTH_WORKER to a binary)"
    return 1
  fi
  if ! (cd "$ROOT" && cargo build --quiet --locked --bin preauth-worker \
    --message-format=json-render-diagnostics >"$WORK/cargo.json" 2>"$WORK/cargo.err"); then
    WORKER_BIN_PROBLEM="cargo build failed: $(tail -n 3 "$WORK/cargo.err" | tr '\n' ' ')"
    return 1
  fi
  WORKER_BIN=$(python3 - "$WORK/cargo.json" <<'EOF'
import json, sys
exe = ""
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "preauth-worker" and m.get("executable"):
        exe = m["executable"]
print(exe)
EOF
)
  [ -n "$WORKER_BIN" ] && [ -x "$WORKER_BIN" ]
}

# The worker runs with a clean environment (no PREAUTH__* overrides from the caller) and a
# scratch deployment key.
WORKER_ENV=("PREAUTH__SECURITY__KEY_FILE=$WORK/deployment.key")

echo "Checking deployment files in $DEPLOY"
ensure_venv || PY=""
[ -n "$PY" ] || note "(could not set up the Python virtualenv: the checks that need it fail)"

# --- Dockerfile ----------------------------------------------------------------------------------
# BuildKit's own Dockerfile parser (PyPI "dockerfile" wraps it); there is no Docker daemon to build
# with. What the stages hold is checked by tests/deploy.rs.
out=$WORK/dockerfile.out
if [ -n "$PY" ] && "$PY" -c 'import sys, dockerfile; dockerfile.parse_file(sys.argv[1])' \
  "$DEPLOY/Dockerfile" >"$out" 2>&1; then
  pass "Dockerfile: parses (BuildKit parser)"
else
  fail "Dockerfile: BuildKit parser" "$out"
fi

# --- compose -------------------------------------------------------------------------------------
# `config -q` with the three variables compose.yaml requires (placeholder values), then without each
# of them, which must fail: the file holds no password and no key. The hardening of each service
# is checked by tests/deploy.rs.
out=$WORK/compose.out
compose_env=(RABBITMQ_PASSWORD=check-deploy-placeholder POSTGRES_PASSWORD=check-deploy-placeholder "PREAUTH_KEY_FILE=$WORK/deployment.key")
if ensure_compose; then
  if (cd "$DEPLOY" && env "${compose_env[@]}" "${COMPOSE[@]}" -f compose.yaml config -q) >"$out" 2>&1 \
    && [ -f "$DEPLOY/config/worker.toml" ]; then
    pass "compose.yaml: ${COMPOSE[*]} config -q"
  else
    fail "compose.yaml: ${COMPOSE[*]} config -q" "$out"
  fi
  out=$WORK/compose-required.out
  : >"$out"
  for required in RABBITMQ_PASSWORD POSTGRES_PASSWORD PREAUTH_KEY_FILE; do
    without=()
    for kv in "${compose_env[@]}"; do [ "${kv%%=*}" = "$required" ] || without+=("$kv"); done
    if (cd "$DEPLOY" && env -u "$required" "${without[@]}" "${COMPOSE[@]}" -f compose.yaml config -q) \
      >/dev/null 2>&1; then
      echo "compose.yaml resolves without $required: it must be required (\${$required:?...})" >>"$out"
    fi
  done
  if [ ! -s "$out" ]; then
    pass "compose.yaml: does not resolve without RABBITMQ_PASSWORD, POSTGRES_PASSWORD or PREAUTH_KEY_FILE"
  else
    fail "compose.yaml: required variables" "$out"
  fi
else
  echo "neither 'docker compose' nor docker-compose is available, and apt-get could not install it" >"$out"
  fail "compose.yaml" "$out"
fi

ensure_worker_binary || true

# --- Kubernetes: core manifests ------------------------------------------------------------------
for f in namespace configmap secret-example deployment pdb service networkpolicy ingress-notifications ledger; do
  out=$WORK/k8s-$f.out
  ok=1
  for v in $K8S_VERSIONS; do
    if [ -z "$PY" ] || ! "$(dirname "$PY")/kubernetes-validate" --strict --quiet -k "$v" \
      "$DEPLOY/kubernetes/$f.yaml" >>"$out" 2>&1; then
      ok=0
    fi
  done
  if [ "$ok" -eq 1 ]; then
    pass "kubernetes/$f.yaml: kubernetes-validate --strict (k8s $K8S_VERSIONS)"
  else
    fail "kubernetes/$f.yaml: kubernetes-validate --strict (k8s $K8S_VERSIONS)" "$out"
  fi
done

# --- Kubernetes: KEDA ----------------------------------------------------------------------------
# KEDA's own fields and what they name are checked by tests/deploy.rs. The HPA behavior the
# ScaledObject embeds is validated here as a real autoscaling/v2 HorizontalPodAutoscaler.
out=$WORK/keda.out
if [ -n "$PY" ] && "$PY" - "$DEPLOY/kubernetes/keda-scaledobject.yaml" "$WORK/hpa.yaml" >"$out" 2>&1 <<'EOF'; then
import sys, yaml
so = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "ScaledObject")
spec = so["spec"]
behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior")
if behavior is not None:
    yaml.safe_dump({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "keda-hpa-check", "namespace": so["metadata"]["namespace"]},
                    "spec": {"scaleTargetRef": spec["scaleTargetRef"],
                             "minReplicas": max(1, spec.get("minReplicaCount", 1)),
                             "maxReplicas": spec.get("maxReplicaCount", 100), "behavior": behavior}},
                   open(sys.argv[2], "w"))
EOF
  hpa_ok=1
  if [ -f "$WORK/hpa.yaml" ]; then
    for v in $K8S_VERSIONS; do
      "$(dirname "$PY")/kubernetes-validate" --strict --quiet -k "$v" "$WORK/hpa.yaml" >>"$out" 2>&1 || hpa_ok=0
    done
  fi
  if [ "$hpa_ok" -eq 1 ]; then
    pass "kubernetes/keda-scaledobject.yaml: HPA behavior, kubernetes-validate --strict (k8s $K8S_VERSIONS)"
  else
    fail "kubernetes/keda-scaledobject.yaml: HPA behavior (kubernetes-validate)" "$out"
  fi
else
  fail "kubernetes/keda-scaledobject.yaml: HPA behavior" "$out"
fi

# --- systemd -------------------------------------------------------------------------------------
# systemd-analyze verify refuses a unit whose ExecStart binary does not exist, and the worker is
# not installed at /usr/local/bin here. So a copy of the unit (same file name) points ExecStart
# at a stub executable under the scratch directory, with the same arguments; everything else is
# verified as written.
out=$WORK/systemd.out
if command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd; then
  mkdir -p "$WORK/unit" "$WORK/bin"
  printf '#!/bin/sh\nexit 0\n' >"$WORK/bin/preauth-worker"
  chmod +x "$WORK/bin/preauth-worker"
  sed "s#^ExecStart=/usr/local/bin/preauth-worker #ExecStart=$WORK/bin/preauth-worker #" \
    "$DEPLOY/systemd/preauth-worker.service" >"$WORK/unit/preauth-worker.service"
  if ! grep -q "^ExecStart=$WORK/bin/preauth-worker run " "$WORK/unit/preauth-worker.service"; then
    echo "ExecStart is not '/usr/local/bin/preauth-worker run ...'" >"$out"
    fail "systemd/preauth-worker.service" "$out"
  elif SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$WORK/unit/preauth-worker.service" >"$out" 2>&1 \
    && ! grep -Eqi 'unknown|invalid|failed|ignoring' "$out"; then
    pass "systemd/preauth-worker.service: systemd-analyze verify"
  else
    fail "systemd/preauth-worker.service: systemd-analyze verify" "$out"
  fi
else
  echo "systemd-analyze is not available" >"$out"
  fail "systemd/preauth-worker.service" "$out"
fi

# --- Prometheus rules and the Grafana dashboard's queries ----------------------------------------
# promtool parses every rule and every panel query (Grafana's $__rate_interval, $__range and $job
# replaced by plain values). The structure of both files is checked by tests/deploy.rs.
out=$WORK/promtool.out
if ensure_promtool; then
  if "$PROMTOOL" check rules "$DEPLOY/prometheus/alerts.yaml" >"$out" 2>&1; then
    pass "prometheus/alerts.yaml: promtool check rules ($(grep -o 'SUCCESS: [0-9]* rules found' "$out" || true))"
  else
    fail "prometheus/alerts.yaml: promtool check rules" "$out"
  fi
  out=$WORK/grafana.out
  if python3 - "$DEPLOY/grafana/preauth-worker.json" "$WORK/dashboard-rules.yaml" >"$out" 2>&1 <<'EOF' \
    && "$PROMTOOL" check rules "$WORK/dashboard-rules.yaml" >>"$out" 2>&1; then
import json, sys
exprs = [t["expr"] for p in json.load(open(sys.argv[1])).get("panels", [])
         for t in p.get("targets", []) if t.get("expr")]
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard-queries\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$__range", "6h").replace("$job", ".*")
        f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
EOF
    pass "grafana/preauth-worker.json: every panel query parses (promtool)"
  else
    fail "grafana/preauth-worker.json: panel queries (promtool)" "$out"
  fi
else
  skip "prometheus/alerts.yaml, grafana/preauth-worker.json: promtool" "promtool is not available and could not be unpacked from Debian's prometheus package"
fi

# --- RabbitMQ configuration ---------------------------------------------------------------------
# rabbitmq.conf (a production broker) and compose.conf (the local stack) are translated by
# cuttlefish with the schemas of the installed RabbitMQ, as the broker does at boot: an unknown key
# or a bad value fails. The certificate paths are pointed at empty scratch files first, since the
# schema requires them to exist. What they set (max_message_size above the worker's limit, AMQP
# on TLS only) is checked by tests/deploy.rs.
out=$WORK/rabbitmq-conf.out
RMQ_PLUGINS=$(ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins 2>/dev/null | tail -n 1 || true)
if [ -z "$RMQ_PLUGINS" ] || ! command -v erl >/dev/null 2>&1; then
  skip "rabbitmq/rabbitmq.conf, rabbitmq/compose.conf" "RabbitMQ (its schemas and erl) is not installed (scripts/test.sh installs it)"
else
  mkdir -p "$WORK/rmq"
  : >"$out"
  rmq_ok=1
  for conf in rabbitmq.conf compose.conf; do
    sed -E "s#(= *)/etc/rabbitmq/tls/([A-Za-z0-9._-]+)#\1$WORK/rmq/\2#" "$DEPLOY/rabbitmq/$conf" >"$WORK/rmq/$conf"
    { grep -Eo "$WORK/rmq/[A-Za-z0-9._-]+" "$WORK/rmq/$conf" || true; } | sort -u | xargs -r touch
    if ! (cd "$WORK/rmq" && erl -noshell -pa "$RMQ_PLUGINS"/*/ebin -eval '
      [Plugins, Conf] = init:get_plain_arguments(),
      Schema = cuttlefish_schema:files(filelib:wildcard(Plugins ++ "/*/priv/schema/*.schema")),
      case cuttlefish_generator:map(Schema, cuttlefish_conf:files([Conf])) of
        {error, Phase, Errors} -> io:format("~s: ~p~n~p~n", [Conf, Phase, Errors]), halt(1);
        _ -> halt(0)
      end.' -extra "$RMQ_PLUGINS" "$conf") >>"$out" 2>&1; then
      rmq_ok=0
    fi
  done
  if [ "$rmq_ok" -eq 1 ]; then
    pass "rabbitmq/rabbitmq.conf, compose.conf: RabbitMQ's schema (cuttlefish, $(basename "$(dirname "$RMQ_PLUGINS")"))"
  else
    fail "rabbitmq/rabbitmq.conf, compose.conf: RabbitMQ's schema (cuttlefish)" "$out"
  fi
fi

# --- RabbitMQ definitions ------------------------------------------------------------------------
# That the file is what the worker declares is checked by tests/deploy.rs; here RabbitMQ imports
# it into a scratch vhost, and the worker runs on what was imported.
out=$WORK/import.out
if ! command -v rabbitmqctl >/dev/null 2>&1; then
  skip "rabbitmq/definitions.json import" "rabbitmqctl is not installed (scripts/test.sh installs RabbitMQ)"
  skip "worker run on the imported topology" "rabbitmqctl is not installed"
elif ! rabbitmqctl -q await_startup --timeout 10 >"$out" 2>&1; then
  echo "RabbitMQ is installed but not running (start it: rabbitmq-server -detached, or scripts/test.sh)" >>"$out"
  fail "rabbitmq/definitions.json import" "$out"
  skip "worker run on the imported topology" "RabbitMQ is not running"
else
  # A scratch vhost (and, for the worker run, a scratch user), removed on exit whatever happens.
  SCRATCH_VHOST="preauth-check-$$"
  SCRATCH_PASS=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  python3 - "$DEPLOY/rabbitmq/definitions.json" "$SCRATCH_VHOST" "$WORK/defs-scratch.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for section in ("exchanges", "queues", "bindings"):
    for item in d.get(section, []):
        item["vhost"] = sys.argv[2]
json.dump(d, open(sys.argv[3], "w"))
EOF
  # The definitions go in on standard input: Debian's rabbitmqctl runs as user rabbitmq, which
  # cannot read this script's private scratch directory. The import is asynchronous, so the
  # queues are polled for (up to 30 s) before they are compared.
  imported=0
  if rabbitmqctl -q add_vhost "$SCRATCH_VHOST" >"$out" 2>&1 \
    && rabbitmqctl -q import_definitions <"$WORK/defs-scratch.json" >>"$out" 2>&1; then
    for _ in $(seq 1 30); do
      if rabbitmqctl -q list_queues -p "$SCRATCH_VHOST" --formatter json name type arguments \
        >"$WORK/queues.json" 2>>"$out" \
        && rabbitmqctl -q list_bindings -p "$SCRATCH_VHOST" --formatter json source_name \
          destination_name routing_key >"$WORK/bindings.json" 2>>"$out" \
        && python3 - "$DEPLOY/rabbitmq/definitions.json" "$WORK/queues.json" "$WORK/bindings.json" \
          >"$WORK/compare.out" 2>&1 <<'EOF'
import json, sys
want = json.load(open(sys.argv[1]))
have = {q["name"]: q for q in json.load(open(sys.argv[2]))}
bindings = json.load(open(sys.argv[3]))
problems = []
for q in want["queues"]:
    got = have.get(q["name"])
    if got is None:
        problems.append(f"queue {q['name']} was not created")
        continue
    if got.get("type") != q["arguments"].get("x-queue-type", "classic"):
        problems.append(f"queue {q['name']} is {got.get('type')}, expected {q['arguments'].get('x-queue-type')}")
    args = {a[0]: a[2] for a in got.get("arguments") or []}
    if args != q["arguments"]:
        problems.append(f"queue {q['name']} has arguments {args}, expected {q['arguments']}")
for b in want["bindings"]:
    if not any(x["source_name"] == b["source"] and x["destination_name"] == b["destination"]
               and x["routing_key"] == b["routing_key"] for x in bindings):
        problems.append(f"binding {b['source']} -> {b['destination']} ({b['routing_key']}) missing")
print("\n".join(problems) if problems else f"{len(want['queues'])} quorum queues with their arguments, {len(want['bindings'])} binding")
sys.exit(1 if problems else 0)
EOF
      then
        imported=1
        break
      fi
      sleep 1
    done
  fi
  cat "$WORK/compare.out" >>"$out" 2>/dev/null || true
  if [ "$imported" -eq 1 ]; then
    pass "rabbitmq/definitions.json: import_definitions into vhost $SCRATCH_VHOST ($(tail -n 1 "$out"))"
  else
    fail "rabbitmq/definitions.json: import_definitions into vhost $SCRATCH_VHOST" "$out"
  fi

  # The worker declares its topology at start and stops if a queue exists with other arguments:
  # run it on the imported vhost, as a user with only the permissions deploy/README.md documents,
  # until it consumes; then SIGTERM must drain it and exit 0.
  out=$WORK/run.out
  if [ "$imported" -ne 1 ]; then
    skip "worker run on the imported topology" "the import failed"
  elif [ -z "$WORKER_BIN" ]; then
    skip "worker run on the imported topology" "$WORKER_BIN_PROBLEM"
  elif ! { SCRATCH_USER="preauth-check-$$" \
    && rabbitmqctl -q add_user "$SCRATCH_USER" "$SCRATCH_PASS" \
    && rabbitmqctl -q set_permissions -p "$SCRATCH_VHOST" "$SCRATCH_USER" \
      '^preauth\.' '^(preauth\..*|amq\.default)$' '^preauth\.'; } >"$out" 2>&1; then
    fail "worker run on the imported topology: cannot create a scratch user" "$out"
  else
    env -i PATH="$PATH" "${WORKER_ENV[@]}" \
      PREAUTH__AMQP__URL="amqp://$SCRATCH_USER:$SCRATCH_PASS@127.0.0.1:5672/$SCRATCH_VHOST" \
      PREAUTH__OPS__LISTEN=127.0.0.1:0 PREAUTH__LOG__FORMAT=json \
      "$WORKER_BIN" run >"$out" 2>&1 &
    pid=$!
    consumed=0
    for _ in $(seq 1 40); do
      if grep -q '"Consuming case events\."' "$out"; then consumed=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -TERM "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" || rc=$?
    if [ "$consumed" -eq 1 ] && [ "$rc" -eq 0 ]; then
      pass "worker run on the imported topology: declared over it, consumed, SIGTERM exit 0"
    else
      echo "consuming: $consumed, exit code: $rc" >>"$out"
      fail "worker run on the imported topology" "$out"
    fi
  fi
  if [ -n "$SCRATCH_USER" ]; then
    rabbitmqctl -q delete_user "$SCRATCH_USER" >/dev/null 2>&1 && SCRATCH_USER=""
  fi
  rabbitmqctl -q delete_vhost "$SCRATCH_VHOST" >/dev/null 2>&1 && SCRATCH_VHOST=""
fi

echo "check-deploy: ${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
