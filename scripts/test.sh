#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests (the broker tests need RabbitMQ,
# which this script starts, or installs and starts, when it is missing).
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

broker_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

ensure_rabbitmq() {
  if broker_up; then return 0; fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "RabbitMQ is not installed: installing it from Debian's packages"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  # A node left with its app stopped (an interrupted broker-restart test) only needs start_app.
  if rabbitmqctl -q ping >/dev/null 2>&1; then
    log "RabbitMQ's node runs with its app stopped: starting the app"
    rabbitmqctl -q start_app >/dev/null 2>&1 || true
  else
    log "Starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 90); do
    if broker_up && rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "RabbitMQ did not come up on 127.0.0.1:5672 within 90 s" >&2
  return 1
}

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

# PostgreSQL for the ledger tests (tests/ledger.rs): each test makes a database of its own
# (preauth_test_<random>) on PREAUTH_TEST_PG, as user postgres with trust auth on loopback.
ensure_postgres() {
  export PREAUTH_TEST_PG="${PREAUTH_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
  if pg_up; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "PostgreSQL is not installed: installing it from Debian's packages"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
  log "Starting PostgreSQL"
  local started=
  if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r version cluster _; do
      $SUDO pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 && started=1
    done < <(pg_lsclusters -h 2>/dev/null)
  fi
  if [ -z "$started" ]; then
    $SUDO service postgresql start >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 60); do
    if pg_up; then
      # Loopback connections as postgres without a password (the tests' default URL).
      if ! psql "$PREAUTH_TEST_PG/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1; then
        local hba
        hba="$(as_postgres psql -qAtc 'SHOW hba_file' 2>/dev/null || true)"
        if [ -n "$hba" ] && ! grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
          log "Allowing loopback connections as postgres without a password (test machine only)"
          $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
          as_postgres psql -qAtc 'SELECT pg_reload_conf()' >/dev/null 2>&1 || true
        fi
      fi
      return 0
    fi
    sleep 1
  done
  echo "PostgreSQL did not come up on 127.0.0.1:5432 within 60 s" >&2
  return 1
}

ensure_chromium() {
  # The console's browser tests drive Debian's Chromium through chromedriver (WebDriver).
  if command -v chromedriver >/dev/null 2>&1 && [ -x /usr/bin/chromium ]; then return 0; fi
  log "Chromium or chromedriver is missing: installing Debian's chromium and chromium-driver"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
}

python_venv() {
  # A Python virtual environment at $1 (Debian's python3-venv installed first when missing).
  python3 -m venv "$1" 2>/dev/null || {
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$1"
  }
}

ensure_fhir_validator() {
  # The FHIR R4 structure validator (fhir.resources, R4B models) checks every outgoing PAS bundle.
  local venv=target/fhir-venv
  # pika runs examples/integration/publish_case.py, the publisher the README shows.
  if ! "$venv/bin/python" -c 'import fhir.resources.R4B, pika' >/dev/null 2>&1; then
    log "Installing the FHIR validator (fhir.resources) and pika into $venv"
    python_venv "$venv"
    "$venv/bin/pip" install -q 'fhir.resources==8.3.0' 'pika==1.4.4'
  fi
  export PREAUTH_FHIR_PYTHON="$PWD/$venv/bin/python"
  export PREAUTH_PYTHON="$PWD/$venv/bin/python"
}

MOTO_VERSION=5.2.5

ensure_moto() {
  # moto's S3-compatible server (moto_server) for the S3 document store tests
  # (tests/it/attachments_s3.rs), in a virtual environment of its own, pinned.
  local venv=target/moto-venv
  if ! { [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c \
    "import importlib.metadata as m, flask, flask_cors; assert m.version('moto') == '$MOTO_VERSION'" \
    >/dev/null 2>&1; }; then
    log "Installing moto[server]==$MOTO_VERSION (an S3-compatible server) into $venv"
    python_venv "$venv"
    if ! "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"; then
      echo "pip could not install moto[server]==$MOTO_VERSION into $venv" >&2
      return 1
    fi
  fi
  export PREAUTH_MOTO_SERVER="$PWD/$venv/bin/moto_server"
}

ensure_rabbitmq
ensure_postgres
ensure_chromium
ensure_fhir_validator
ensure_moto

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

# Every test target, one after the other (the broker-restart test stops the shared broker, so
# its target must not run beside the others: cargo test keeps that order, a parallel runner
# would not). cargo test exits non-zero when any test fails and the script stops there
# (set -e); its own "test result:" lines are the count.
log "cargo test"
cargo test --lib --bins --tests
log "deployment files (scripts/check-deploy.sh)"
PREAUTH_WORKER="${CARGO_TARGET_DIR:-$PWD/target}/debug/preauth-worker" bash scripts/check-deploy.sh

log "fuzzing: every target for a bounded time (scripts/fuzz.sh N for longer)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"

log "cargo deny: licences, bans, sources"
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked --quiet cargo-deny
cargo deny --log-level error check licenses bans sources

log "cargo deny: advisories, offline, against the snapshot in shared/rustsec-advisory-db"
# Fails on any advisory deny.toml does not explain, and when the snapshot is missing.
bash scripts/deny-advisories.sh
