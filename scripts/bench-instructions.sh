#!/usr/bin/env bash
# The worker's user-space instructions per case, which the machine's load does not move (timed
# figures on two shared cores vary by 30% from run to run). The release worker runs under
# valgrind's callgrind on the worker_load rig (`BENCH_WORKER_ONLY=1`, payer at 0 ms), draining a
# small and a larger batch; the slope between them is the cost of a case, start-up cancelled
# out. A profile of the larger run is left in target/bench-instructions/ for callgrind_annotate.
#
# Usage: scripts/bench-instructions.sh [SMALL] [LARGE] [WORKER_BIN]   (defaults: 500, 4000, this build)
# Needs RabbitMQ (as the worker_load bench) and valgrind (installed when missing, on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
small="${1:-500}"
large="${2:-4000}"
target="${CARGO_TARGET_DIR:-target}"
out="$target/bench-instructions"

if ! command -v valgrind >/dev/null; then
    echo "installing valgrind" >&2
    apt-get install -y valgrind >/dev/null || { apt-get update >/dev/null && apt-get install -y valgrind >/dev/null; }
fi
cargo build --release --bin preauth-worker --bench worker_load >&2
bin="${3:-$PWD/$target/release/preauth-worker}"
rm -rf "$out" && mkdir -p "$out"
wrapper="$out/worker-under-callgrind.sh"
cat > "$wrapper" <<WRAP
#!/usr/bin/env bash
exec valgrind --tool=callgrind --callgrind-out-file="$PWD/$out/callgrind.\$BENCH_INSTR_CASES" "$bin" "\$@" 2>/dev/null
WRAP
chmod +x "$wrapper"
for n in "$small" "$large"; do
    BENCH_INSTR_CASES="$n" BENCH_WORKER_BIN="$PWD/$wrapper" BENCH_WORKER_ONLY=1 BENCH_ROUNDS=1 \
        BENCH_CASES="$n" cargo bench --bench worker_load 2>/dev/null | grep '^worker' >&2
done
# aws-lc seeds its random generator from CPU jitter the first time a process draws random bytes
# (the worker does when it creates its deployment key): hundreds of millions of instructions whose
# number depends on timing. That one-off is left out of the totals.
entropy() {
    callgrind_annotate --inclusive=yes "$out/callgrind.$1" 2>/dev/null |
        awk '/tree_jitter_initialize_once/ { gsub(",", "", $1); print $1; found = 1; exit }
             END { if (!found) print 0 }'
}
total() { echo $(( $(grep -h '^totals:' "$out/callgrind.$1" | awk '{print $2}') - $(entropy "$1") )); }
a=$(total "$small")
b=$(total "$large")
echo "instructions: $a for $small cases, $b for $large cases"
echo "per case: $(( (b - a) / (large - small) ))"
