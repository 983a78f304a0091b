#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after the other.
#   fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Env: TARGETS="a b" to pick targets; FUZZ_WORK (default /tmp/caveat-fuzz) holds the
# growing corpus and logs, so the committed seed corpus in fuzz/corpus/ stays small;
# FUZZ_BUILD_FLAGS (e.g. --dev: unoptimized, finds stack overflows that optimization
# hides) is passed to cargo fuzz; CARGO_TARGET_DIR is honoured. The default build is
# optimized with debug assertions and overflow checks (cargo-fuzz's default).
# Exits 1 if any target crashed, hung (over 10 s for one input) or failed to build.
set -uo pipefail

secs="${1:-60}"
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
work="${FUZZ_WORK:-/tmp/caveat-fuzz}"
targets="${TARGETS:-token_decode caveat_parse request_path decide body scrub field_names mcp graphql}"
read -r -a build_flags <<<"${FUZZ_BUILD_FLAGS:-}"
export RUSTC_BOOTSTRAP=1   # stable toolchain, nightly-only -Zsanitizer flags

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..." >&2
    cargo install cargo-fuzz --locked || exit 1
fi

cargo fuzz build "${build_flags[@]}" || { echo "build failed" >&2; exit 1; }

status=0
printf '%-14s %10s %8s %8s  %s\n' target runs seconds cov result
for t in $targets; do
    mkdir -p "$work/corpus/$t" "$work/logs" "artifacts/$t"
    before="$(ls -A "artifacts/$t" | sort)"
    max_len=4096
    [ "$t" = token_decode ] && max_len=16384
    log="$work/logs/$t.log"
    dict=()
    [ -f "dict/$t.dict" ] && dict=(-dict="dict/$t.dict")
    # New inputs go to the work corpus (first dir); the committed seeds are read only.
    cargo fuzz run "${build_flags[@]}" "$t" "$work/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -max_len="$max_len" -rss_limit_mb=2048 \
        -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
    rc=$?
    after="$(ls -A "artifacts/$t" | sort)"
    new="$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -v '^$' || true)"
    runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)"
    took="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -1)"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)"
    if [ -z "$runs" ]; then
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    fi
    if [ "$rc" -ne 0 ] || [ -n "$new" ]; then
        result="CRASH (rc=$rc) ${new:-no artifact}; log: $log"
        status=1
    else
        result="ok, no crash artifact"
    fi
    printf '%-14s %10s %8s %8s  %s\n' "$t" "${runs:-?}" "${took:-?}" "${cov:-?}" "$result"
done
exit "$status"
