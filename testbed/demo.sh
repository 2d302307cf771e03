#!/usr/bin/env bash
# THE run command: thread-agent on a simulated Thread co-processor, no hardware, no root.
#
# Builds the OpenThread simulation nodes and the workspace binaries, starts thread-agent in a
# temporary directory (state dir, control socket and the co-processor's settings all inside it;
# simulated radio channel PORT_OFFSET=1, override with PORT_OFFSET=N), shows its log, waits until
# the Thread network is up, prints `threadctl status`, and keeps running until Ctrl-C. Then it
# stops the agent and removes the directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

echo "==> building the OpenThread simulation nodes (first time: a few minutes)"
ot=$("$here/build-ot.sh" | tail -1)
echo "==> cargo build --bins"
cargo build --quiet --workspace --bins
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
agent="$target/debug/thread-agent"
threadctl="$target/debug/threadctl"

work=$(mktemp -d -t thread-agent-demo.XXXXXX)
sock="$work/control.sock"
export PORT_OFFSET="${PORT_OFFSET:-1}"
: >"$work/agent.toml"
agent_pid=""

cleanup() {
    trap - EXIT INT TERM
    if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
        echo; echo "==> stopping thread-agent (SIGTERM)"
        kill -TERM "$agent_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$agent_pid" 2>/dev/null || true
    fi
    # The simulated co-processor runs in $work; make sure none of its processes outlives us.
    for p in /proc/[0-9]*; do
        case "$(readlink "$p/cwd" 2>/dev/null)" in "$work"*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;; esac
    done
    rm -rf "$work"
    echo "==> cleaned up $work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

echo "==> starting thread-agent in $work (PORT_OFFSET=$PORT_OFFSET)"
(
    cd "$work"
    exec "$agent" --config "$work/agent.toml" \
        --radio-url "spinel+hdlc+forkpty://$ot/ncp/bin/ot-ncp-ftd?forkpty-arg=1" \
        --state-dir "$work/state" --control-socket "$sock"
) 2> >(tee "$work/agent.log" >&2) &
agent_pid=$!

echo "==> waiting for the network to come up"
for _ in $(seq 600); do
    if ! kill -0 "$agent_pid" 2>/dev/null; then
        wait "$agent_pid" && code=0 || code=$?
        agent_pid=""
        echo "thread-agent exited with status $code before the network came up" >&2
        exit "$code"
    fi
    grep -q "network up" "$work/agent.log" 2>/dev/null && break
    sleep 0.1
done
sleep 0.5
echo
echo "==> threadctl --socket $sock status"
"$threadctl" --socket "$sock" status || true
cat <<MSG

thread-agent is running. In another terminal, try:
    $threadctl --socket $sock status --json
    $threadctl --socket $sock dataset export
Press Ctrl-C to stop.
MSG
wait "$agent_pid" || true
agent_pid=""
