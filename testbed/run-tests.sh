#!/usr/bin/env bash
# THE test command (README and CI call exactly this):
#   1. builds the OpenThread simulation nodes (testbed/build-ot.sh, cached) and the RCP
#      prototype's ot-host-ncp (testbed/build-host-ncp.sh, cached; docs/rcp.md),
#   2. builds the workspace binaries the end-to-end tests run (thread-agent, threadctl),
#   3. runs every test of the workspace (unit, property and e2e tests) with cargo-nextest, which
#      runs tests of all binaries side by side (.config/nextest.toml: the e2e tests, which mostly
#      wait on simulated radios, ten at a time; CPU-bound tests at most one per core), then the
#      doc tests with `cargo test --doc`; without cargo-nextest, plain `cargo test` (one test
#      binary after another: the same tests, about twice as long),
# then repeats the summary lines at the end. Exit status: non-zero if any test failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
start=$(date +%s)
# Failing tests print their error chain; anyhow backtraces would bury it (panics still show theirs).
export RUST_LIB_BACKTRACE="${RUST_LIB_BACKTRACE:-0}"

echo "==> testbed/build-ot.sh (OpenThread simulation nodes)"
"$here/build-ot.sh" >/dev/null
# The RCP prototype's host-side co-processor, for tests/tests/rcp.rs (docs/rcp.md).
echo "==> testbed/build-host-ncp.sh (ot-host-ncp, the RCP prototype)"
"$here/build-host-ncp.sh" >/dev/null
echo "==> cargo build --workspace --bins"
cargo build --workspace --bins
log=$(mktemp -t thread-agent-tests.XXXXXX)
trap 'rm -f "$log"' EXIT
set +e
if cargo nextest --version >/dev/null 2>&1; then
    echo "==> cargo nextest run --workspace --no-fail-fast"
    cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    echo "==> cargo test --workspace --doc"
    cargo test --workspace --doc 2>&1 | tee -a "$log"
    doc=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] && status=$doc
    pattern='^\s+(Summary|FAIL|SIGSEGV|SIGABRT|TIMEOUT|LEAK-FAIL) |^\s+Doc-tests |^test result:|^error: '
else
    echo "==> cargo test --workspace --no-fail-fast (cargo-nextest not found: \`cargo install cargo-nextest --locked\` runs the suite in about half the time)"
    cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    pattern='^\s+(Running|Doc-tests) |^test result:|^error: '
fi
set -e

echo
echo "==> summary ($(( $(date +%s) - start )) s)"
grep -E "$pattern" "$log" | sed -E 's/^\s+//' || true
if [ "$status" -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "TESTS FAILED (exit $status)"; fi
exit "$status"
