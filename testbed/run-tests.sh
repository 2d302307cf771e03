#!/usr/bin/env bash
# THE test command (README and CI call exactly this):
#   1. builds the OpenThread simulation nodes (testbed/build-ot.sh, cached),
#   2. builds the workspace binaries the end-to-end tests run (thread-agent, threadctl),
#   3. runs every test of the workspace with plain `cargo test` (unit, property and e2e tests),
# then repeats cargo's per-binary summary lines at the end. Exit status: cargo test's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
start=$(date +%s)
# Failing tests print their error chain; anyhow backtraces would bury it (panics still show theirs).
export RUST_LIB_BACKTRACE="${RUST_LIB_BACKTRACE:-0}"

echo "==> testbed/build-ot.sh (OpenThread simulation nodes)"
"$here/build-ot.sh" >/dev/null
echo "==> cargo build --workspace --bins"
cargo build --workspace --bins
echo "==> cargo test --workspace --no-fail-fast"
log=$(mktemp -t thread-agent-tests.XXXXXX)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

echo
echo "==> summary ($(( $(date +%s) - start )) s)"
# "Running <binary>" followed by its "test result:" line; plus cargo's final error, if any.
grep -E '^\s+(Running|Doc-tests) |^test result:|^error: ' "$log" | sed -E 's/^\s+//' || true
if [ "$status" -eq 0 ]; then echo "ALL TESTS PASSED"; else echo "TESTS FAILED (cargo test exit $status)"; fi
exit "$status"
