#!/usr/bin/env bash
# THE run command: thread-agent on a simulated Thread co-processor, no hardware, no root.
#
# Builds the OpenThread simulation nodes and the workspace binaries, starts thread-agent in a
# temporary directory (state dir, control socket and the co-processor's settings all inside it;
# simulated radio channel PORT_OFFSET=1, override with PORT_OFFSET=N), shows its log, waits until
# the Thread network is up, prints `threadctl status`, then shows the main job: it starts three
# simulated devices (`ot-cli-ftd` nodes 2..4), writes their bootstrapping file (EUI-64 and PSKd,
# as a manufacturer hands them over), admits them all with `threadctl joiner import --wait`
# (the agent's events are shown as they happen), starts Thread on them and ends with
# `threadctl device list`. Then it keeps running until Ctrl-C, stops the agent and removes the
# directory. `--no-devices` (or DEMO_DEVICES=0) skips the devices.
set -euo pipefail
devices="${DEMO_DEVICES:-1}"
for arg in "$@"; do
    case "$arg" in
        --no-devices) devices=0 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown argument $arg (try --no-devices)" >&2; exit 2 ;;
    esac
done
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
# Presence refreshed every 10 s (default 60 s) so the demo's device list is quick to fill.
printf '[devices]\npresence_interval = 10\n' >"$work/agent.toml"
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

# Three simulated devices join through the agent from their bootstrapping file.
demo_devices() {
    local cli="$ot/cli/bin/ot-cli-ftd" ids=(2 3 4) pskds=(J01NME DEV1CE22 KRC0DE33) i
    echo
    echo "==> starting three simulated devices (ot-cli-ftd nodes ${ids[*]})"
    for i in 0 1 2; do
        mkfifo "$work/dev$i.in"
        (cd "$work" && exec "$cli" "${ids[$i]}" <"$work/dev$i.in" >"$work/dev$i.log" 2>&1) &
        eval "exec {fd_$i}>\"\$work/dev\$i.in\""
    done
    dev() { local fd="fd_$1"; echo "$2" >&"${!fd}"; }
    : >"$work/devices.csv"
    echo "eui64,pskd,label" >>"$work/devices.csv"
    for i in 0 1 2; do
        dev "$i" "eui64"
        local eui=""
        for _ in $(seq 50); do
            eui=$(tr -d '\r' <"$work/dev$i.log" | grep -Eo '^[0-9a-f]{16}$' | head -1 || true)
            [ -n "$eui" ] && break
            sleep 0.1
        done
        [ -n "$eui" ] || { echo "device $i did not start" >&2; return 1; }
        echo "$eui,${pskds[$i]},demo-device-$((i + 1))" >>"$work/devices.csv"
        dev "$i" "ifconfig up"
    done
    echo "==> the bootstrapping file (as the manufacturer hands it over; PSKds are secrets):"
    sed -E 's/^([0-9a-f]{16}),[^,]+,/\1,<PSKd>,/' "$work/devices.csv"
    echo "==> threadctl joiner import $work/devices.csv --wait"
    "$threadctl" --socket "$sock" joiner import "$work/devices.csv" --timeout 300 --wait &
    local import_pid=$!
    sleep 0.5
    for i in 0 1 2; do dev "$i" "joiner start ${pskds[$i]}"; done
    wait "$import_pid" || echo "(not every device joined; see $work/dev*.log)"
    # The agent reports a join at the entrust; the device prints `Join success` a moment later,
    # and only then may its Thread stack start.
    for i in 0 1 2; do
        for _ in $(seq 100); do grep -q "Join success" "$work/dev$i.log" && break; sleep 0.1; done
        dev "$i" "thread start"
    done
    echo "==> threadctl events: the agent finds the devices on the mesh by their EUI-64 (network diagnostics)"
    "$threadctl" --socket "$sock" events &
    local events_pid=$!
    for _ in $(seq 90); do
        [ "$("$threadctl" --socket "$sock" device list --json 2>/dev/null | grep -o '"attached"' | wc -l)" -ge 3 ] && break
        sleep 1
    done
    kill "$events_pid" 2>/dev/null || true
    wait "$events_pid" 2>/dev/null || true
    echo
    echo "==> threadctl --socket $sock device list"
    "$threadctl" --socket "$sock" device list || true
}

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
if [ "$devices" = 1 ]; then
    demo_devices
fi
cat <<MSG

thread-agent is running. In another terminal, try:
    $threadctl --socket $sock status --json
    $threadctl --socket $sock dataset export
    $threadctl --socket $sock device list
    $threadctl --socket $sock network rotate-key --delay 30 --wait
Press Ctrl-C to stop.
MSG
wait "$agent_pid" || true
agent_pid=""
