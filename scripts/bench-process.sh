#!/usr/bin/env bash
# `preauth-worker process` at scale: N case events as JSON lines (the example
# examples/01-eyelid-margin-cornea-approved.json with fresh event and case ids, written under the
# target folder and kept for the next run) through the simulated payer, output to /dev/null,
# under /usr/bin/time -v: cases/s and peak RSS, round by round, then the best and the spread.
# Then the wall time of `process examples/`.
#
# Usage: scripts/bench-process.sh [CASES] [ROUNDS]   (defaults: 1000000, 3)
# Targets: >= 30,000 cases/s and peak RSS <= 64 MiB on 1,000,000 cases; `process examples/`
# under 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-1000000}"
rounds="${2:-3}"
target="${CARGO_TARGET_DIR:-target}"

if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (/usr/bin/time)" >&2
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi

cargo build --release --quiet --bin preauth-worker
bin="$target/release/preauth-worker"

input="$target/bench-process-$cases.jsonl"
if [ ! -s "$input" ]; then
    echo "writing $cases case events to $input" >&2
    python3 - "$cases" "$input" <<'EOF'
import json, sys, uuid
cases, path = int(sys.argv[1]), sys.argv[2]
with open("examples/01-eyelid-margin-cornea-approved.json") as f:
    event = json.load(f)
event["event_id"], event["case_id"] = "@EVENT@", "@CASE@"
line = json.dumps(event, separators=(",", ":")) + "\n"
head, rest = line.split('"@EVENT@"')
middle, tail = rest.split('"@CASE@"')
with open(path + ".part", "w") as out:
    for i in range(cases):
        out.write(f'{head}"{uuid.uuid4()}"{middle}"C-BENCH-{i:09d}"{tail}')
import os
os.replace(path + ".part", path)
EOF
fi
bytes=$(stat -c %s "$input")
echo "input: $cases case events, $((bytes / 1024 / 1024)) MiB of JSON lines"

# One run: wall seconds, peak RSS in KiB, and the summary's first line.
measure() {
    local log
    log=$(mktemp)
    /usr/bin/time -v "$bin" process "$@" -o /dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; return 1; }
    local wall rss summary
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" \
        | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    summary=$(grep -m1 'case event' "$log" || true)
    rm -f "$log"
    echo "$wall $rss $summary"
}

rates=()
peaks=()
for round in $(seq 1 "$rounds"); do
    read -r wall rss summary < <(measure "$input")
    rate=$(awk -v n="$cases" -v s="$wall" 'BEGIN { printf "%.0f", n / s }')
    mib=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "round $round: ${wall} s, ${rate} cases/s, peak RSS ${mib} MiB ($summary)"
    rates+=("$rate")
    peaks+=("$mib")
done
printf '%s\n' "${rates[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    printf "cases/s: best %d, worst %d, spread %.1f%%\n", v[NR], v[1], (v[NR] - v[1]) * 100 / v[NR] }'
printf '%s\n' "${peaks[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    printf "peak RSS: lowest %.1f MiB, highest %.1f MiB\n", v[1], v[NR] }'

walls=()
for round in $(seq 1 "$rounds"); do
    read -r wall _ < <(measure examples/)
    echo "process examples/, round $round: ${wall} s"
    walls+=("$wall")
done
printf '%s\n' "${walls[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    printf "process examples/: best %.2f s, worst %.2f s\n", v[1], v[NR] }'
