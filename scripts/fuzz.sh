#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS_PER_TARGET seconds each (default 60).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# One line per target (`target: OK (N runs)` or `target: CRASH <artifact>`), then
# `N passed, M failed`; exits 1 when any target crashed (or could not be run).
#
# The toolchain is the stable one of rust-toolchain.toml: RUSTC_BOOTSTRAP=1 lets it take the
# nightly flags cargo-fuzz passes (-Zsanitizer=address, sancov). FUZZ_SANITIZER=none (or
# leak, ...) picks another sanitizer; when the address sanitizer cannot be built the script
# falls back to none by itself. Each target runs on a scratch copy of its seed corpus, so the
# repository's fuzz/corpus is never written. Crash inputs and full logs go to fuzz/artifacts/
# (ignored by git). Build output goes to fuzz/target/ (ignored by git). A target's libFuzzer
# dictionary, fuzz/dicts/<target>.dict, is used when there is one.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET]   (a whole number of seconds, default 60)" >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export RUSTC_BOOTSTRAP=1
# The fuzz crate is its own workspace with its own target dir; never share the main one.
unset CARGO_TARGET_DIR
target_dir="$root/fuzz/target"
sanitizer="${FUZZ_SANITIZER:-address}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "Installing cargo-fuzz ..." >&2
    cargo install cargo-fuzz --locked >&2
fi

targets=()
for f in fuzz/fuzz_targets/*.rs; do
    targets+=("$(basename "$f" .rs)")
done

artifacts="$root/fuzz/artifacts"
mkdir -p "$artifacts/logs"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/preauth-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "Building ${#targets[@]} fuzz targets (sanitizer: $sanitizer) ..." >&2
if ! cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir" >"$artifacts/logs/build.log" 2>&1; then
    if [ "$sanitizer" = "address" ]; then
        echo "The address-sanitizer build failed (see fuzz/artifacts/logs/build.log); building with --sanitizer none." >&2
        sanitizer=none
        if ! cargo fuzz build --sanitizer none --target-dir "$target_dir" >"$artifacts/logs/build.log" 2>&1; then
            tail -n 30 "$artifacts/logs/build.log" >&2
            echo "0 passed, ${#targets[@]} failed"
            exit 1
        fi
    else
        tail -n 30 "$artifacts/logs/build.log" >&2
        echo "0 passed, ${#targets[@]} failed"
        exit 1
    fi
fi

passed=0
failed=0
for t in "${targets[@]}"; do
    corpus="$scratch/corpus/$t"
    mkdir -p "$corpus" "$artifacts/$t"
    if [ -d "fuzz/corpus/$t" ]; then
        cp -R "fuzz/corpus/$t/." "$corpus/"
    fi
    log="$artifacts/logs/$t.log"
    dict=()
    if [ -f "fuzz/dicts/$t.dict" ]; then
        dict=(-dict="$root/fuzz/dicts/$t.dict")
    fi
    echo "Fuzzing $t for ${seconds}s ..." >&2
    status=0
    # config_load writes its input to a file under the temp dir; keep those in the scratch dir
    # (a crash aborts the process before the harness can remove its file).
    mkdir -p "$scratch/tmp"
    TMPDIR="$scratch/tmp" cargo fuzz run --sanitizer "$sanitizer" --target-dir "$target_dir" "$t" "$corpus" -- \
        -max_total_time="$seconds" \
        -timeout=25 \
        -print_final_stats=1 \
        "${dict[@]}" \
        -artifact_prefix="$artifacts/$t/" \
        >"$log" 2>&1 || status=$?
    runs="$(grep -a -o '^stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)"
    if [ -z "$runs" ]; then
        runs="$(grep -a -o '^Done [0-9]* runs' "$log" | grep -o '[0-9]\+' | tail -n 1 || true)"
    fi
    artifact="$(grep -a -o 'Test unit written to .*' "$log" | sed 's/^Test unit written to //' | tail -n 1 || true)"
    if [ "$status" -eq 0 ] && [ -z "$artifact" ]; then
        echo "$t: OK (${runs:-0} runs)"
        passed=$((passed + 1))
    else
        echo "$t: CRASH ${artifact:-"(no artifact; exit $status, see $log)"}"
        grep -a -m 1 -A 1 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" "$log" >&2 || true
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
