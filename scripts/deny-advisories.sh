#!/usr/bin/env bash
# `cargo deny check advisories`, offline, against the RustSec advisory database snapshot kept in
# shared/rustsec-advisory-db beside the project (the database cannot be fetched from here).
#
# Fails (exit 1) when:
#   - the snapshot is missing (it is never skipped silently);
#   - an [advisories] ignore entry of deny.toml has no reason;
#   - cargo-deny reports any advisory (vulnerability, unmaintained, unsound, notice), yanked
#     crate or unused ignore entry for Cargo.lock that deny.toml does not ignore.
#
# The snapshot is read-only and is not a git checkout, while cargo-deny opens its databases as
# git checkouts under [advisories] db-path, in a folder named after the database URL. So the
# snapshot is copied to $TARGET/advisory-dbs/advisory-db-<hash> and committed there, dated with
# the snapshot's upstream date (SNAPSHOT.txt): cargo-deny's staleness check
# (maximum-db-staleness in deny.toml) then measures the real age of the data, not of the copy.
# `cargo deny --offline` opens that copy and fetches nothing; `cargo fetch --locked` runs first so
# that `cargo metadata` finds every locked crate (crates.io, not the advisory database).
#
# Environment:
#   PREAUTH_ADVISORY_DB  the snapshot folder. Default: ../shared/rustsec-advisory-db from the
#                        repository root; in a git worktree whose own ../shared is missing, the
#                        one beside the main checkout.
#   CARGO_TARGET_DIR     where the copy goes (default target/ of the repository)
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac

die() { printf 'deny-advisories: %s\n' "$*" >&2; exit 1; }

# --- the snapshot ----------------------------------------------------------------------------------
if [ -n "${PREAUTH_ADVISORY_DB:-}" ]; then
  SRC=$PREAUTH_ADVISORY_DB
  how="PREAUTH_ADVISORY_DB"
else
  SRC=$ROOT/../shared/rustsec-advisory-db
  how="../shared beside the repository"
  if [ ! -d "$SRC/crates" ]; then
    # A linked worktree (git worktree add) lives elsewhere; shared/ is beside the main checkout.
    common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    if [ -n "$common" ] && [ -d "$(dirname "$common")/../shared/rustsec-advisory-db/crates" ]; then
      SRC=$(dirname "$common")/../shared/rustsec-advisory-db
      how="../shared beside the main checkout of this worktree"
    fi
  fi
fi
if [ ! -d "$SRC/crates" ]; then
  die "no RustSec advisory database snapshot at $SRC (expected shared/rustsec-advisory-db beside the repository, with a crates/ folder; or set PREAUTH_ADVISORY_DB). Advisories are NOT checked: failing."
fi
SRC=$(cd "$SRC" && pwd)

command -v git >/dev/null 2>&1 || die "git is needed to make the checkout cargo-deny opens"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to read deny.toml and SNAPSHOT.txt"
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked --quiet cargo-deny

# deny.toml: every ignore entry must carry a reason; the folder name cargo-deny uses for the
# database (url_to_db_path in cargo-deny: last path segment of the lowercased URL, "-", XxHash64
# of it with seed 0xca80de71, 16 hex digits); the snapshot's commit and date.
info=$(python3 - "$ROOT/deny.toml" "$SRC" <<'EOF'
import os, re, sys, tomllib
cfg = tomllib.load(open(sys.argv[1], "rb")).get("advisories", {})
problems = []
for i, entry in enumerate(cfg.get("ignore", [])):
    if not isinstance(entry, dict) or not str(entry.get("reason", "")).strip():
        problems.append(f"deny.toml [advisories] ignore entry {i + 1} ({entry!r}) has no reason: "
                        "write it as { id = \"RUSTSEC-...\", reason = \"why it does not affect us\" }")
urls = cfg.get("db-urls", ["https://github.com/RustSec/advisory-db"])
if len(urls) != 1:
    problems.append(f"deny.toml names {len(urls)} advisory databases; the offline check has one snapshot")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)

M = (1 << 64) - 1
P1, P2, P3, P4, P5 = (11400714785074694791, 14029467366897019727, 1609587929392839161,
                      9650029242287828579, 2870177450012600261)
def rotl(x, r): return ((x << r) | (x >> (64 - r))) & M
def rnd(acc, v): return (rotl((acc + v * P2) & M, 31) * P1) & M
def merge(acc, v): return ((acc ^ rnd(0, v)) * P1 + P4) & M
def word(b, i, n): return int.from_bytes(b[i:i + n], "little")
def xxh64(b, seed):
    n, i = len(b), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M]
        while i + 32 <= n:
            v = [rnd(v[k], word(b, i + 8 * k, 8)) for k in range(4)]
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for x in v:
            h = merge(h, x)
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, word(b, i, 8)), 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ ((word(b, i, 4) * P1) & M), 23) * P2 + P3) & M
        i += 4
    while i < n:
        h = (rotl(h ^ ((b[i] * P5) & M), 11) * P1) & M
        i += 1
    h ^= h >> 33; h = (h * P2) & M; h ^= h >> 29; h = (h * P3) & M; h ^= h >> 32
    return h
assert f"{xxh64(b'abc', 0):016x}" == "44bc2cf5ad770999"
url = urls[0].lower()
name = url.rstrip("/").rsplit("/", 1)[-1] or "empty_"
dbdir = f"{name}-{xxh64(url.encode(), 0xca80de71):016x}"

src = sys.argv[2]
snap = open(os.path.join(src, "SNAPSHOT.txt")).read() if os.path.exists(os.path.join(src, "SNAPSHOT.txt")) else ""
commit = (re.search(r"\b[0-9a-f]{40}\b", snap) or [None])[0] or "unknown"
date = (re.search(r"\b(\d{4}-\d{2}-\d{2})\b", snap) or [None])[0]
count = 0
newest = ""
for d, _, files in os.walk(os.path.join(src, "crates")):
    for f in files:
        if f.endswith(".md"):
            count += 1
            m = re.search(r'^date = "(\d{4}-\d{2}-\d{2})"', open(os.path.join(d, f)).read(), re.M)
            if m and m.group(1) > newest:
                newest = m.group(1)
# Without a date in SNAPSHOT.txt, the newest advisory's date is the best lower bound.
print(dbdir, commit, date or newest or "1970-01-01", count, newest or "none")
EOF
) || die "deny.toml or the snapshot is not usable (see above)"
read -r dbdir snap_commit snap_date snap_count snap_newest <<<"$info"

# --- the checkout cargo-deny opens -----------------------------------------------------------------
dbs=$TARGET/advisory-dbs
db=$dbs/$dbdir
mkdir -p "$dbs"
[ -d "$db" ] && chmod -R u+w "$db"
rm -rf "$db"
mkdir -p "$db"
cp -R "$SRC/." "$db/"
chmod -R u+w "$db"
(
  cd "$db"
  git init -q -b main
  git add -A
  export GIT_AUTHOR_DATE="${snap_date}T00:00:00Z" GIT_COMMITTER_DATE="${snap_date}T00:00:00Z"
  git -c user.name=preauth-worker -c user.email=preauth-worker@localhost -c commit.gpgsign=false \
    commit -q --no-verify -m "RustSec advisory-db snapshot $snap_commit ($snap_date), copied from $SRC"
  # cargo-deny takes the newer of the HEAD commit's date and .git/HEAD's modification time.
  touch -d "${snap_date}T00:00:00Z" .git/HEAD
) || die "could not make the git checkout $db"

age_days=$(( ($(date -u +%s) - $(date -u -d "${snap_date}T00:00:00Z" +%s)) / 86400 ))
echo "advisory database: RustSec snapshot $snap_commit of $snap_date ($age_days days old;" \
  "$snap_count advisories, newest dated $snap_newest), from $SRC ($how)"
if [ "$age_days" -gt 90 ]; then
  echo "advisory database: the snapshot is more than 90 days old; advisories published since" \
    "$snap_date are not known to this check (refresh shared/rustsec-advisory-db)"
fi

# --- the check -------------------------------------------------------------------------------------
# crates.io only (never the advisory database): every locked crate's manifest, for cargo metadata.
if ! cargo fetch --locked --quiet; then
  echo "deny-advisories: cargo fetch --locked failed; cargo deny --offline uses what is cached" >&2
fi
echo "+ PREAUTH_ADVISORY_DBS=$dbs cargo deny --offline check advisories"
rc=0
PREAUTH_ADVISORY_DBS=$dbs cargo deny --offline --color never check --show-stats advisories || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "deny-advisories: FAILED against snapshot $snap_commit ($snap_date): upgrade the crate" \
    "(cargo update -p NAME) or add { id = ..., reason = ... } to [advisories] ignore in deny.toml" >&2
  exit 1
fi
echo "deny-advisories: no unexplained advisory in Cargo.lock (snapshot $snap_commit, $snap_date)"
