#!/usr/bin/env bash
# Validates the deployment files under deploy/ with real validators, installing what is missing
# (Debian packages with apt-get when run as root, PyPI packages in a virtualenv under
# ${XDG_CACHE_HOME:-/tmp}/preauth-check-deploy). Prints one line per check (details indented below
# a failure) and ends with "N passed, M failed, K skipped"; exits 1 if any check failed.
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
  local want="kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3 dockerfile==3.4.0"
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

# Runs the worker binary with a clean environment (no PREAUTH__* overrides from the caller), plus
# WORKER_ENV (a scratch deployment key, once the build knows security.key_file).
WORKER_ENV=()
worker() { env -i PATH="$PATH" ACME_CLIENT_SECRET=check-deploy-placeholder "${WORKER_ENV[@]}" "$WORKER_BIN" "$@"; }

echo "Checking deployment files in $DEPLOY"
ensure_venv || PY=""
[ -n "$PY" ] || note "(could not set up the Python virtualenv: the checks that need it fail)"

# --- Dockerfile ----------------------------------------------------------------------------------
# Parsed with BuildKit's own Dockerfile parser (PyPI "dockerfile" wraps it); there is no Docker
# daemon to build with, so the checks are on what the parser returns.
out=$WORK/dockerfile.out
if [ -n "$PY" ] && "$PY" - "$DEPLOY/Dockerfile" "$ROOT" >"$out" 2>&1 <<'EOF'; then
import os, sys, dockerfile
path, root = sys.argv[1], sys.argv[2]
cmds = dockerfile.parse_file(path)
problems = []
froms = [c for c in cmds if c.cmd == "FROM"]
if len(froms) < 2:
    problems.append("expected a multi-stage build (two FROM)")
if froms and froms[0].value[0] != "rust:1.95-bookworm":
    problems.append(f"builder image is {froms[0].value[0]}, expected rust:1.95-bookworm")
if froms and froms[-1].value[0] != "debian:bookworm-slim":
    problems.append(f"runtime image is {froms[-1].value[0]}, expected debian:bookworm-slim")
last = max(i for i, c in enumerate(cmds) if c.cmd == "FROM")
final = cmds[last:]
def one(name):
    found = [c for c in final if c.cmd == name]
    return found[-1] if found else None
user = one("USER")
if not user or user.value[0].split(":")[0] != "10001":
    problems.append("the runtime stage must run as USER 10001")
ep = one("ENTRYPOINT")
if not ep or not ep.json or list(ep.value) != ["preauth-worker"]:
    problems.append('ENTRYPOINT must be ["preauth-worker"] (exec form)')
cmd = one("CMD")
if not cmd or not cmd.json or list(cmd.value) != ["run"]:
    problems.append('CMD must be ["run"] (exec form)')
if not any(c.cmd == "EXPOSE" and "9464" in c.value for c in final):
    problems.append("EXPOSE 9464 missing")
if not any(c.cmd == "ENV" and "PREAUTH__OPS__LISTEN" in c.value for c in final):
    problems.append("ENV PREAUTH__OPS__LISTEN missing")
if not any(c.cmd == "COPY" and "/usr/local/bin/preauth-worker" in c.value for c in final):
    problems.append("the binary is not copied to /usr/local/bin/preauth-worker")
if not any(c.cmd == "RUN" and "--locked" in c.value[0] and "--release" in c.value[0] for c in cmds[:last]):
    problems.append("the builder must run cargo build --release --locked")
# Every COPY source of the builder stage (context = repository root) must exist.
for c in cmds[:last]:
    if c.cmd == "COPY" and not any(f.startswith("--from") for f in c.flags):
        for src in c.value[:-1]:
            if not os.path.exists(os.path.join(root, src)):
                problems.append(f"COPY source {src} does not exist in the repository")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
  pass "Dockerfile: parses (BuildKit parser); multi-stage, non-root, entrypoint, COPY sources exist"
else
  fail "Dockerfile" "$out"
fi

# --- compose -------------------------------------------------------------------------------------
# `config -q` with the two variables compose.yaml requires (placeholder values), then without each
# of them, which must fail: the file holds no password and no key. The resolved configuration is
# then held to the hardening every service must have.
out=$WORK/compose.out
compose_env=(RABBITMQ_PASSWORD=check-deploy-placeholder "PREAUTH_KEY_FILE=$WORK/deployment.key")
if ensure_compose; then
  if (cd "$DEPLOY" && env "${compose_env[@]}" "${COMPOSE[@]}" -f compose.yaml config -q) >"$out" 2>&1 \
    && [ -f "$DEPLOY/config/worker.toml" ]; then
    pass "compose.yaml: ${COMPOSE[*]} config -q"
  else
    fail "compose.yaml: ${COMPOSE[*]} config -q" "$out"
  fi
  out=$WORK/compose-hardening.out
  : >"$out"
  for required in RABBITMQ_PASSWORD PREAUTH_KEY_FILE; do
    without=()
    for kv in "${compose_env[@]}"; do [ "${kv%%=*}" = "$required" ] || without+=("$kv"); done
    if (cd "$DEPLOY" && env -u "$required" "${without[@]}" "${COMPOSE[@]}" -f compose.yaml config -q) \
      >/dev/null 2>&1; then
      echo "compose.yaml resolves without $required: it must be required (\${$required:?...})" >>"$out"
    fi
  done
  if [ -n "$PY" ] && (cd "$DEPLOY" && env "${compose_env[@]}" "${COMPOSE[@]}" -f compose.yaml config) \
    >"$WORK/compose-resolved.yaml" 2>>"$out" \
    && "$PY" - "$WORK/compose-resolved.yaml" "$DEPLOY/compose.yaml" "$DEPLOY/config/worker.toml" \
      >>"$out" 2>&1 <<'EOF' && [ ! -s "$out" ]; then
import re, sys, tomllib, yaml
resolved = yaml.safe_load(open(sys.argv[1]))
raw = open(sys.argv[2]).read()
problems = []
if re.search(r"\bguest\b", raw):
    problems.append("compose.yaml mentions the guest user")
for m in re.finditer(r"://([^:/@\s\"']+):([^@\s\"']+)@", raw):
    if not m.group(2).startswith("${"):
        problems.append(f"a URL with a literal password: {m.group(0)}")
for m in re.finditer(r"RABBITMQ_DEFAULT_PASS:\s*(\S.*)", raw):
    if not m.group(1).strip("\"'").startswith("${"):
        problems.append("RABBITMQ_DEFAULT_PASS is a literal, not taken from the environment")
for name, svc in resolved["services"].items():
    if svc.get("read_only") is not True:
        problems.append(f"{name}: read_only is not true")
    if "ALL" not in (svc.get("cap_drop") or []):
        problems.append(f"{name}: cap_drop does not contain ALL")
    if "no-new-privileges:true" not in (svc.get("security_opt") or []):
        problems.append(f"{name}: security_opt lacks no-new-privileges:true")
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    if not svc.get("mem_limit") and not limits.get("memory"):
        problems.append(f"{name}: no memory limit (mem_limit or deploy.resources.limits.memory)")
    if not svc.get("tmpfs"):
        problems.append(f"{name}: no tmpfs for what it writes (its root file system is read-only)")
    for port in svc.get("ports") or []:
        if isinstance(port, dict):  # Compose v2: long syntax
            host_ip = port.get("host_ip")
        else:  # Compose v1: HOST_IP:PUBLISHED:TARGET[/PROTOCOL]
            host_ip = str(port).split(":")[0] if str(port).count(":") == 2 else None
        if host_ip != "127.0.0.1":
            problems.append(f"{name}: port {port} is not published on 127.0.0.1 only")
worker = resolved["services"]["worker"]
targets = [str(p.get("target")) if isinstance(p, dict) else str(p).split(":")[-1].split("/")[0]
           for p in worker.get("ports") or []]
if "9464" not in targets:
    problems.append("worker: the ops port 9464 is not published")
key_file = tomllib.load(open(sys.argv[3], "rb")).get("security", {}).get("key_file")
mounted = {"/run/secrets/" + (s.get("target") or s["source"]) if isinstance(s, dict) else "/run/secrets/" + s
           for s in worker.get("secrets") or []}
if key_file not in mounted:
    problems.append(f"config/worker.toml: security.key_file {key_file} is not a secret compose mounts {sorted(mounted)}")
if problems:
    print("\n".join(problems))
EOF
    pass "compose.yaml: read-only, cap_drop ALL, no-new-privileges, memory limit, tmpfs (every service); ports on 127.0.0.1; password and key from the environment"
  else
    fail "compose.yaml: hardening" "$out"
  fi
else
  echo "neither 'docker compose' nor docker-compose is available, and apt-get could not install it" >"$out"
  fail "compose.yaml" "$out"
fi

# --- worker configuration files (the binary's own loader) ---------------------------------------
# The notification listener ([notifications]) and the deployment key ([security]) are being added
# to the worker; a build without them refuses a file that declares them. A section the build does
# not know is found by asking it to load a file declaring only that section; a configuration file
# that declares one is then loaded without it, and the check is a SKIP that says so, not a PASS.
# Once the build knows both, the whole file is loaded, with security.key_file pointed at a scratch
# key (the configured path is one on the machine the worker runs on).
PENDING_SECTIONS=()
knows_section() { # section
  printf '[%s]\n' "$1" >"$WORK/probe.toml"
  worker --config "$WORK/probe.toml" topology >/dev/null 2>"$WORK/probe.out" || true
  ! grep -q "unknown field: found \`$1\`" "$WORK/probe.out"
}
check_config() { # label file
  local label=$1 file=$2 out=$WORK/config.out section
  local pending=()
  if [ -z "$WORKER_BIN" ]; then skip "$label" "$WORKER_BIN_PROBLEM"; return; fi
  for section in "${PENDING_SECTIONS[@]}"; do
    if grep -Eq "^[[:space:]]*\[$section[].]" "$file"; then pending+=("$section"); fi
  done
  if [ "${#pending[@]}" -gt 0 ]; then
    python3 - "$file" "$WORK/config-rest.toml" "${pending[@]}" <<'EOF'
import re, sys
src, dst, drop = sys.argv[1], sys.argv[2], set(sys.argv[3:])
kept, dropping = [], False
for line in open(src):
    m = re.match(r"\s*\[\[?\s*([A-Za-z0-9_-]+)", line)
    if m:
        dropping = m.group(1) in drop
    if not dropping:
        kept.append(line)
open(dst, "w").write("".join(kept))
EOF
    if worker --config "$WORK/config-rest.toml" topology >/dev/null 2>"$out"; then
      skip "$label" "this build does not know [${pending[*]}] yet; without those sections the file loads with preauth-worker --config"
    else
      fail "$label: preauth-worker --config (without [${pending[*]}], which this build does not know)" "$out"
    fi
    return
  fi
  if worker --config "$file" topology >/dev/null 2>"$out"; then
    pass "$label: loads with preauth-worker --config"
  elif grep -q "is not part of this build yet" "$out"; then
    # Settings::load accepted every key and value; App::build then refused the adapter.
    skip "$label" "keys and values accepted, but this build refuses the adapter: $(head -n 1 "$out")"
  else
    fail "$label: preauth-worker --config" "$out"
  fi
}
ensure_worker_binary || true
if [ -n "$WORKER_BIN" ]; then
  for section in notifications security; do
    knows_section "$section" || PENDING_SECTIONS+=("$section")
  done
  if knows_section security; then WORKER_ENV+=("PREAUTH__SECURITY__KEY_FILE=$WORK/deployment.key"); fi
fi
check_config "config/worker.toml" "$DEPLOY/config/worker.toml"
if [ -n "$PY" ] && "$PY" -c '
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(doc["data"]["worker.toml"])' \
  "$DEPLOY/kubernetes/configmap.yaml" "$WORK/configmap-worker.toml" 2>"$WORK/cm.out"; then
  check_config "kubernetes/configmap.yaml worker.toml" "$WORK/configmap-worker.toml"
else
  fail "kubernetes/configmap.yaml worker.toml: cannot extract data.worker.toml" "$WORK/cm.out"
fi

# --- Kubernetes: core manifests ------------------------------------------------------------------
for f in namespace configmap secret-example deployment pdb service networkpolicy ingress-notifications; do
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

# --- Kubernetes: ports, Secrets and network policy agree -----------------------------------------
# kubernetes-validate checks each object alone. This checks what they say about each other: the
# Deployment's two ports (ops for probes and metrics only, notifications separate) against the
# ConfigMap's listen addresses, the Service, the Ingress and the NetworkPolicies (ops from the
# monitoring namespace only, notifications from the ingress controller's only, egress DNS, 5671
# and 443 only, default deny); every Secret and key the Deployment uses against
# secret-example.yaml; security.key_file against the Secret mounted there; amqps:// for the broker.
out=$WORK/k8s-refs.out
if [ -n "$PY" ] && "$PY" - "$DEPLOY/kubernetes" >"$out" 2>&1 <<'EOF'; then
import sys, tomllib, yaml
d = sys.argv[1]
def docs(name):
    return [x for x in yaml.safe_load_all(open(f"{d}/{name}")) if x]
deployment = docs("deployment.yaml")[0]
pod = deployment["spec"]["template"]
labels = pod["metadata"]["labels"]
container = pod["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
worker_toml = tomllib.loads(docs("configmap.yaml")[0]["data"]["worker.toml"])
secrets = {s["metadata"]["name"]: set((s.get("stringData") or {}) | (s.get("data") or {}))
           for s in docs("secret-example.yaml")}
problems = []
def selects(selector):
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
def port_number(p):
    return ports.get(p) if isinstance(p, str) else p

# The two ports.
if ports.get("ops") != 9464:
    problems.append(f"the Deployment's port `ops` is {ports.get('ops')}, expected 9464")
if "notifications" not in ports:
    problems.append("the Deployment has no port named `notifications`")
elif ports["notifications"] == ports.get("ops"):
    problems.append("notifications and ops share a port")
listen = (worker_toml.get("notifications") or {}).get("listen")
if listen is None or int(listen.rsplit(":", 1)[1]) != ports.get("notifications"):
    problems.append(f"ConfigMap notifications.listen {listen!r} is not the container port `notifications` ({ports.get('notifications')})")
ops_listen = (worker_toml.get("ops") or {}).get("listen")
if ops_listen is not None and int(ops_listen.rsplit(":", 1)[1]) != ports.get("ops"):
    problems.append(f"ConfigMap ops.listen {ops_listen!r} is not the container port `ops`")
for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
    get = (container.get(probe) or {}).get("httpGet") or {}
    if port_number(get.get("port")) != ports.get("ops") or get.get("path") not in ("/livez", "/readyz"):
        problems.append(f"{probe} is not /livez or /readyz on the ops port")
annotations = pod["metadata"].get("annotations") or {}
if annotations.get("prometheus.io/port") not in (None, str(ports.get("ops"))):
    problems.append("prometheus.io/port is not the ops port")

# Secrets: every reference names a Secret and key of secret-example.yaml.
for env in container.get("env", []):
    ref = (env.get("valueFrom") or {}).get("secretKeyRef")
    if ref and ref.get("key") not in secrets.get(ref["name"], set()):
        problems.append(f"env {env['name']} reads {ref['name']}/{ref['key']}, which secret-example.yaml does not define")
volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
mounts = {}
for m in container.get("volumeMounts", []):
    v = volumes.get(m["name"])
    if v is None:
        problems.append(f"volumeMount {m['name']} names no volume")
        continue
    if "secret" in v:
        name = v["secret"]["secretName"]
        if name not in secrets:
            problems.append(f"volume {m['name']} mounts Secret {name}, which secret-example.yaml does not define")
        items = v["secret"].get("items")
        files = {i["path"]: i["key"] for i in items} if items else {k: k for k in secrets.get(name, ())}
        for path, key in files.items():
            if key not in secrets.get(name, set()):
                problems.append(f"volume {m['name']} maps key {key}, which Secret {name} does not have")
            mounts[f"{m['mountPath'].rstrip('/')}/{path}"] = (name, v["secret"].get("defaultMode"))
        if not m.get("readOnly"):
            problems.append(f"Secret volume {m['name']} is not mounted read-only")
key_file = (worker_toml.get("security") or {}).get("key_file")
if key_file not in mounts:
    problems.append(f"security.key_file {key_file!r} is not a file of a mounted Secret ({sorted(mounts)})")
else:
    name, mode = mounts[key_file]
    fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
    if mode is None or mode & 0o007 or not fs_group:
        problems.append(f"the key file's Secret {name} is readable beyond the worker (defaultMode {mode!r}, fsGroup {fs_group!r})")

# The broker over TLS.
url = next(iter((s.get("stringData") or {}).get("url", "") for s in docs("secret-example.yaml")
                if s["metadata"]["name"] == "preauth-amqp"), "")
if not url.startswith("amqps://") or ":5671/" not in url:
    problems.append(f"the example broker URL is not amqps:// on 5671: {url}")

# Service and Ingress: the notifications port only.
service = docs("service.yaml")[0]
if not selects({"matchLabels": service["spec"]["selector"]}):
    problems.append("the Service does not select the worker's pods")
svc_ports = {p["name"]: p for p in service["spec"]["ports"]}
for p in service["spec"]["ports"]:
    if port_number(p.get("targetPort", p["port"])) != ports.get("notifications"):
        problems.append(f"Service port {p['name']} targets {p.get('targetPort')}, not the notifications port")
for ing in docs("ingress-notifications.yaml"):
    for rule in ing["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            b = path["backend"]["service"]
            if b["name"] != service["metadata"]["name"]:
                problems.append(f"Ingress backend {b['name']} is not the Service {service['metadata']['name']}")
            port = b["port"].get("name") or b["port"].get("number")
            if port not in svc_ports and port not in {p["port"] for p in svc_ports.values()}:
                problems.append(f"Ingress backend port {port} is not a port of the Service")
    if not ing["spec"].get("tls"):
        problems.append("the Ingress has no TLS")

# Network policies.
policies = docs("networkpolicy.yaml")
if not any(p["spec"]["podSelector"] == {} and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
           and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies):
    problems.append("no default-deny policy (podSelector {}, Ingress and Egress, no rules)")
allowed_in, allowed_out = {}, set()
for p in policies:
    spec = p["spec"]
    if spec["podSelector"] != {} and not selects(spec["podSelector"]):
        problems.append(f"NetworkPolicy {p['metadata']['name']} selects no worker pod")
    for rule in spec.get("ingress") or []:
        sources = []
        for f in rule.get("from") or [{}]:
            if set(f) - {"namespaceSelector", "podSelector"} or "namespaceSelector" not in f:
                problems.append(f"{p['metadata']['name']}: an ingress source other than a namespace: {f}")
            sources.append(((f.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name"))
        if not rule.get("ports"):
            problems.append(f"{p['metadata']['name']}: an ingress rule without ports")
        for port in rule.get("ports") or []:
            n = port_number(port.get("port"))
            if n is None:
                problems.append(f"{p['metadata']['name']}: port {port.get('port')} is not a port of the Deployment")
            allowed_in.setdefault(n, set()).update(sources)
    for rule in spec.get("egress") or []:
        for port in rule.get("ports") or [{"port": "any"}]:
            allowed_out.add((port.get("port"), port.get("protocol", "TCP")))
if allowed_in.get(ports.get("ops")) != {"monitoring"}:
    problems.append(f"the ops port is open to {allowed_in.get(ports.get('ops'))}, expected the monitoring namespace only")
if allowed_in.get(ports.get("notifications")) != {"ingress-nginx"}:
    problems.append(f"the notifications port is open to {allowed_in.get(ports.get('notifications'))}, expected the ingress-nginx namespace only")
if set(allowed_in) - {ports.get("ops"), ports.get("notifications")}:
    problems.append(f"other ports are open: {set(allowed_in) - {ports.get('ops'), ports.get('notifications')}}")
if allowed_out != {(53, "UDP"), (53, "TCP"), (5671, "TCP"), (443, "TCP")}:
    problems.append(f"egress allows {sorted(map(str, allowed_out))}, expected DNS (53 UDP/TCP), 5671/TCP and 443/TCP only")
print("\n".join(problems) if problems else
      f"ops {ports['ops']} from monitoring, notifications {ports['notifications']} from ingress-nginx, "
      f"egress {len(allowed_out)} ports, key file {key_file}")
sys.exit(1 if problems else 0)
EOF
  pass "kubernetes: ports, Secrets, key file and network policies agree ($(tail -n 1 "$out"))"
else
  fail "kubernetes: ports, Secrets, key file and network policies agree" "$out"
fi

# --- Kubernetes: KEDA ----------------------------------------------------------------------------
# kubernetes-validate knows only the built-in kinds, not KEDA's CRDs. ScaledObject and
# TriggerAuthentication are checked against a JSON Schema written here from KEDA's documented
# fields (unknown fields rejected), the HPA behavior they embed is validated as a real
# autoscaling/v2 HorizontalPodAutoscaler with kubernetes-validate, and the names they reference
# (Deployment, TriggerAuthentication, Secret and key, queue) are cross-checked against the other
# files.
out=$WORK/keda.out
if [ -n "$PY" ] && "$PY" - "$DEPLOY" "$WORK/hpa.yaml" >"$out" 2>&1 <<'EOF'; then
import json, sys, yaml, jsonschema
deploy, hpa_path = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(f"{deploy}/kubernetes/keda-scaledobject.yaml")) if d]
name = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
meta = {"type": "object", "required": ["name", "namespace"],
        "properties": {"name": name, "namespace": name, "labels": {"type": "object"},
                       "annotations": {"type": "object"}}}
str_map = {"type": "object", "additionalProperties": {"type": "string"}}
scaled_object = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"},
        "metadata": meta,
        "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "additionalProperties": False, "required": ["name"],
                                   "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                                  "name": name, "envSourceContainerName": {"type": "string"}}},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {"type": "object", "additionalProperties": False, "properties": {
                    "restoreToOriginalReplicaCount": {"type": "boolean"},
                    "scalingModifiers": {"type": "object"},
                    "horizontalPodAutoscalerConfig": {"type": "object", "additionalProperties": False,
                                                      "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}}}}},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["type", "metadata"],
                    "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                                   "metadata": str_map, "useCachedMetrics": {"type": "boolean"},
                                   "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                                   "authenticationRef": {"type": "object", "additionalProperties": False, "required": ["name"],
                                                         "properties": {"name": name, "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]}}}}}},
            },
        },
    },
}
# The rabbitmq trigger's metadata (KEDA docs, "RabbitMQ Queue" scaler).
rabbitmq_metadata = {
    "type": "object", "additionalProperties": False, "required": ["queueName", "mode", "value"],
    "properties": {
        "host": {"type": "string"}, "hostFromEnv": {"type": "string"},
        "usernameFromEnv": {"type": "string"}, "passwordFromEnv": {"type": "string"},
        "protocol": {"enum": ["auto", "http", "amqp"]},
        "mode": {"enum": ["QueueLength", "MessageRate", "DeliverGetRate",
                          "PublishedToDeliveredRatio", "ExpectedQueueConsumptionTime"]},
        "value": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "activationValue": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "queueName": {"type": "string", "minLength": 1}, "vhostName": {"type": "string"},
        "useRegex": {"enum": ["true", "false"]}, "excludeUnacknowledged": {"enum": ["true", "false"]},
        "operation": {"enum": ["sum", "avg", "max"]}, "pageSize": {"type": "string"},
        "timeout": {"type": "string"}, "unsafeSsl": {"enum": ["true", "false"]},
    },
}
trigger_auth = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
        "metadata": meta,
        "spec": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
            "podIdentity": {"type": "object"},
            "secretTargetRef": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                "required": ["parameter", "name", "key"],
                                "properties": {"parameter": {"type": "string"}, "name": name, "key": {"type": "string"}}}},
            "env": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                    "required": ["parameter", "name"],
                    "properties": {"parameter": {"type": "string"}, "name": {"type": "string"}, "containerName": {"type": "string"}}}},
            "configMapTargetRef": {"type": "array"}, "hashiCorpVault": {"type": "object"},
            "azureKeyVault": {"type": "object"}, "awsSecretManager": {"type": "object"},
            "gcpSecretManager": {"type": "object"}, "boundServiceAccountToken": {"type": "array"}}}},
}
problems = []
by_kind = {}
for d in docs:
    schema = {"ScaledObject": scaled_object, "TriggerAuthentication": trigger_auth}.get(d.get("kind"))
    if schema is None:
        problems.append(f"unexpected kind {d.get('kind')}")
        continue
    for e in jsonschema.Draft202012Validator(schema).iter_errors(d):
        problems.append(f"{d['kind']} {'/'.join(map(str, e.absolute_path))}: {e.message}")
    by_kind.setdefault(d["kind"], []).append(d)
so = (by_kind.get("ScaledObject") or [None])[0]
ta = {t["metadata"]["name"]: t for t in by_kind.get("TriggerAuthentication", [])}
if so is None:
    problems.append("no ScaledObject")
else:
    spec = so["spec"]
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        problems.append("minReplicaCount > maxReplicaCount")
    deployment = yaml.safe_load(open(f"{deploy}/kubernetes/deployment.yaml"))
    if spec["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
        problems.append("scaleTargetRef.name is not the Deployment's name")
    if so["metadata"]["namespace"] != deployment["metadata"]["namespace"]:
        problems.append("ScaledObject and Deployment are in different namespaces")
    definitions = json.load(open(f"{deploy}/rabbitmq/definitions.json"))
    queues = {q["name"] for q in definitions["queues"]}
    secrets = {(s["metadata"]["name"], k) for s in yaml.safe_load_all(open(f"{deploy}/kubernetes/secret-example.yaml"))
               if s for k in (s.get("stringData") or s.get("data") or {})}
    for t in spec["triggers"]:
        if t["type"] != "rabbitmq":
            continue
        for e in jsonschema.Draft202012Validator(rabbitmq_metadata).iter_errors(t["metadata"]):
            problems.append(f"rabbitmq trigger metadata: {e.message}")
        if t["metadata"].get("queueName") not in queues:
            problems.append(f"queueName {t['metadata'].get('queueName')} is not a queue of definitions.json")
        ref = (t.get("authenticationRef") or {}).get("name")
        has_host = any(k in t["metadata"] for k in ("host", "hostFromEnv"))
        if ref is None and not has_host:
            problems.append("the rabbitmq trigger has no host, hostFromEnv or authenticationRef")
        if ref is not None:
            if ref not in ta:
                problems.append(f"authenticationRef {ref} names no TriggerAuthentication in the file")
            else:
                refs = ta[ref]["spec"].get("secretTargetRef", [])
                if not has_host and not any(r["parameter"] == "host" for r in refs):
                    problems.append(f"TriggerAuthentication {ref} gives no host parameter")
                for r in refs:
                    if (r["name"], r["key"]) not in secrets:
                        problems.append(f"TriggerAuthentication {ref} reads {r['name']}/{r['key']}, which secret-example.yaml does not define")
    behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior")
    if behavior is not None:
        hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": "keda-hpa-check", "namespace": so["metadata"]["namespace"]},
               "spec": {"scaleTargetRef": spec["scaleTargetRef"], "minReplicas": max(1, spec.get("minReplicaCount", 1)),
                        "maxReplicas": spec.get("maxReplicaCount", 100), "behavior": behavior}}
        with open(hpa_path, "w") as f:
            yaml.safe_dump(hpa, f)
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
  hpa_ok=1
  if [ -f "$WORK/hpa.yaml" ]; then
    for v in $K8S_VERSIONS; do
      "$(dirname "$PY")/kubernetes-validate" --strict --quiet -k "$v" "$WORK/hpa.yaml" >>"$out" 2>&1 || hpa_ok=0
    done
  fi
  if [ "$hpa_ok" -eq 1 ]; then
    pass "kubernetes/keda-scaledobject.yaml: KEDA schema + references; HPA behavior via kubernetes-validate"
  else
    fail "kubernetes/keda-scaledobject.yaml: HPA behavior (kubernetes-validate)" "$out"
  fi
else
  fail "kubernetes/keda-scaledobject.yaml" "$out"
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

# --- Prometheus rules ----------------------------------------------------------------------------
out=$WORK/promtool.out
if ensure_promtool; then
  if "$PROMTOOL" check rules "$DEPLOY/prometheus/alerts.yaml" >"$out" 2>&1; then
    pass "prometheus/alerts.yaml: promtool check rules ($(grep -o 'SUCCESS: [0-9]* rules found' "$out" || true))"
  else
    fail "prometheus/alerts.yaml: promtool check rules" "$out"
  fi
elif [ -n "$PY" ]; then
  # No promtool: at least the structure Prometheus expects.
  if "$PY" - "$DEPLOY/prometheus/alerts.yaml" >"$out" 2>&1 <<'EOF'; then
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
problems = []
for g in doc.get("groups") or [problems.append("no groups") or {}]:
    for r in g.get("rules") or [problems.append(f"group {g.get('name')} has no rules") or {}]:
        if not r.get("alert") or not isinstance(r.get("expr"), str):
            problems.append(f"rule without alert/expr in {g.get('name')}")
        if "for" in r and not re.fullmatch(r"([0-9]+(ms|s|m|h|d|w|y))+", str(r["for"])):
            problems.append(f"{r.get('alert')}: bad for {r['for']}")
        if set(r) - {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}:
            problems.append(f"{r.get('alert')}: unknown keys {set(r) - {'alert', 'expr', 'for', 'labels', 'annotations'}}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
    pass "prometheus/alerts.yaml: structure (promtool unavailable, PromQL not parsed)"
  else
    fail "prometheus/alerts.yaml: structure" "$out"
  fi
else
  echo "neither promtool nor Python is available" >"$out"
  fail "prometheus/alerts.yaml" "$out"
fi

# --- Grafana dashboard ---------------------------------------------------------------------------
# The JSON and the keys Grafana needs to import it; then every panel query is parsed as PromQL by
# promtool (Grafana's $__rate_interval, $__range and $job replaced by plain values).
out=$WORK/grafana.out
if python3 - "$DEPLOY/grafana/preauth-worker.json" "$WORK/dashboard-rules.yaml" >"$out" 2>&1 <<'EOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
for key in ("panels", "title", "schemaVersion", "uid"):
    if key not in d:
        problems.append(f"missing {key}")
if d.get("schemaVersion") != 39:
    problems.append(f"schemaVersion is {d.get('schemaVersion')}, expected 39")
if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus" for i in d.get("__inputs", [])):
    problems.append("no DS_PROMETHEUS datasource input")
ids, exprs = set(), []
for p in d.get("panels", []):
    for key in ("id", "type", "title", "gridPos"):
        if key not in p:
            problems.append(f"panel {p.get('title')!r} has no {key}")
    if p.get("id") in ids:
        problems.append(f"duplicate panel id {p.get('id')}")
    ids.add(p.get("id"))
    if p.get("type") == "row":
        continue
    if (p.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
        problems.append(f"panel {p.get('title')!r} does not use ${{DS_PROMETHEUS}}")
    if not p.get("targets"):
        problems.append(f"panel {p.get('title')!r} has no queries")
    for t in p.get("targets", []):
        if not t.get("expr") or not t.get("refId"):
            problems.append(f"panel {p.get('title')!r}: a query without expr or refId")
        else:
            exprs.append(t["expr"])
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard-queries\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$__range", "6h").replace("$job", ".*")
        f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF
  if [ -n "$PROMTOOL" ]; then
    if "$PROMTOOL" check rules "$WORK/dashboard-rules.yaml" >"$out" 2>&1; then
      pass "grafana/preauth-worker.json: JSON, import keys, panel queries parse (promtool)"
    else
      fail "grafana/preauth-worker.json: panel queries (promtool)" "$out"
    fi
  else
    pass "grafana/preauth-worker.json: JSON and import keys (promtool unavailable, queries not parsed)"
  fi
else
  fail "grafana/preauth-worker.json" "$out"
fi

# --- RabbitMQ configuration ---------------------------------------------------------------------
# rabbitmq.conf (a production broker: amqps only, max_message_size) and compose.conf (the local
# stack) are translated by cuttlefish with the schemas of the installed RabbitMQ, as the broker does
# at boot: an unknown key or a bad value fails. The certificate paths are pointed at empty scratch
# files first, since the schema requires them to exist. Then: max_message_size is set in both, the
# same, and above the worker's amqp.max_message_bytes (shipped default and the deployments'), and
# rabbitmq.conf listens for AMQP on TLS (5671) only.
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
        Config ->
          Rabbit = proplists:get_value(rabbit, Config, []),
          io:format("~s max_message_size=~p tcp=~w ssl=~w~n",
                    [Conf, proplists:get_value(max_message_size, Rabbit),
                     proplists:get_value(tcp_listeners, Rabbit), proplists:get_value(ssl_listeners, Rabbit)]),
          halt(0)
      end.' -extra "$RMQ_PLUGINS" "$conf") >>"$out" 2>&1; then
      rmq_ok=0
    fi
  done
  if [ "$rmq_ok" -eq 1 ] && python3 - "$out" "$ROOT/config/default.toml" "$DEPLOY/config/worker.toml" \
    "$WORK/configmap-worker.toml" >>"$out" 2>&1 <<'EOF'; then
import re, sys, tomllib
lines = {m.group(1): m for m in re.finditer(r"^(\S+) max_message_size=(\S+) tcp=(\S+) ssl=(\S+)$", open(sys.argv[1]).read(), re.M)}
problems = []
sizes = {}
for conf in ("rabbitmq.conf", "compose.conf"):
    m = lines.get(conf)
    if m is None or m.group(2) == "undefined":
        problems.append(f"{conf} does not set max_message_size")
    else:
        sizes[conf] = int(m.group(2))
if len(set(sizes.values())) > 1:
    problems.append(f"max_message_size differs: {sizes}")
worker_max = {}
for path in sys.argv[2:]:
    try:
        v = tomllib.load(open(path, "rb")).get("amqp", {}).get("max_message_bytes")
    except FileNotFoundError:
        continue
    if v is not None:
        worker_max[path.rsplit("/", 1)[-1]] = v
for conf, size in sizes.items():
    for where, v in worker_max.items():
        if size <= v:
            problems.append(f"{conf} max_message_size {size} is not above amqp.max_message_bytes {v} ({where})")
m = lines.get("rabbitmq.conf")
if m and (m.group(3) != "[]" or "5671" not in m.group(4)):
    problems.append(f"rabbitmq.conf listens on tcp={m.group(3)} ssl={m.group(4)}: expected TLS on 5671 only")
print("\n".join(problems) if problems else
      f"max_message_size {max(sizes.values())} > amqp.max_message_bytes {max(worker_max.values())}; AMQP on TLS 5671 only")
sys.exit(1 if problems else 0)
EOF
    pass "rabbitmq/rabbitmq.conf, compose.conf: RabbitMQ's schema (cuttlefish, $(basename "$(dirname "$RMQ_PLUGINS")")); $(tail -n 1 "$out")"
  else
    fail "rabbitmq/rabbitmq.conf, compose.conf" "$out"
  fi
fi

# --- RabbitMQ definitions ------------------------------------------------------------------------
out=$WORK/defs.out
if [ -z "$WORKER_BIN" ]; then
  skip "rabbitmq/definitions.json matches 'topology --definitions'" "$WORKER_BIN_PROBLEM"
elif worker topology --definitions >"$WORK/defs-now.json" 2>"$out" && python3 - \
  "$DEPLOY/rabbitmq/definitions.json" "$WORK/defs-now.json" >>"$out" 2>&1 <<'EOF'; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
if a != b:
    print("deploy/rabbitmq/definitions.json differs from `preauth-worker topology --definitions`;")
    print("regenerate it: preauth-worker topology --definitions > deploy/rabbitmq/definitions.json")
    sys.exit(1)
EOF
  pass "rabbitmq/definitions.json: identical to 'preauth-worker topology --definitions'"
else
  fail "rabbitmq/definitions.json: identical to 'preauth-worker topology --definitions'" "$out"
fi

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
