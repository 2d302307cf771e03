#!/usr/bin/env bash
# Builds the OpenThread simulation nodes used by the end-to-end tests from the source that ships
# inside the `openthread-sys` crate (pinned to 0.4.0, fetched by cargo).
#
#   target/openthread/ncp/bin/ot-ncp-ftd   co-processor: border agent, UDP forward, SRP server,
#                                          commissioner, joiner, border routing, NCP infra-if,
#                                          SRP advertising proxy over the NCP's platform DNS-SD
#   target/openthread/ncp/bin/ot-rcp       radio-only firmware (to test that the agent refuses it)
#   target/openthread/cli/bin/ot-cli-ftd   joiners and routers, with an SRP client (built WITHOUT
#                                          border routing: a simulated CLI node built with it stops
#                                          answering its CLI)
#
# The build is cached: when the options and the source are unchanged, nothing is rebuilt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="${OT_BUILD_DIR:-$root/target/openthread}"

me=build-ot.sh
# shellcheck source=ot-source.sh
. "$here/ot-source.sh"

common=(-GNinja -DCMAKE_BUILD_TYPE=Debug -DOT_PLATFORM=simulation -DBUILD_TESTING=OFF
        -DOT_FTD=ON -DOT_MTD=OFF -DOT_RCP=ON -DOT_COMMISSIONER=ON -DOT_JOINER=ON
        -DOT_BORDER_AGENT=ON -DOT_UDP_FORWARD=ON -DOT_SRP_SERVER=ON -DOT_ECDSA=ON
        -DOT_BORDER_ROUTER=ON -DOT_SERVICE=ON -DOT_COMPILE_WARNING_AS_ERROR=OFF
        -DOT_SIMULATION_MAX_NETWORK_SIZE=128)

build() { # name, extra options...
    local name=$1; shift
    local dir="$out/$name"
    local stamp="$dir/.options"
    local want="$src|${common[*]}|$*"
    mkdir -p "$dir"
    if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        rm -rf "$dir" && mkdir -p "$dir"
        cmake -S "$src" -B "$dir" "${common[@]}" "$@" >"$dir/../$name-cmake.log" 2>&1 \
            || { tail -30 "$dir/../$name-cmake.log" >&2; exit 1; }
        echo "$want" >"$stamp"
    fi
    ninja -C "$dir" "${targets[@]}" >"$dir/../$name-ninja.log" 2>&1 \
        || { tail -30 "$dir/../$name-ninja.log" >&2; exit 1; }
    mkdir -p "$dir/bin"
    for t in "${targets[@]}"; do
        ln -sf "$(find "$dir/examples" -type f -name "$t" | head -1)" "$dir/bin/$t"
    done
}

targets=(ot-ncp-ftd ot-rcp)
# OT_SIMULATION_INFRA_IF=OFF: the NCP's own infra-if platform (src/ncp/platform/infra_if.cpp) must
# be linked, not the simulation's UDP "infrastructure link", so that the border routing manager
# talks to the host over Spinel (INFRA_IF_SEND_ICMP6 / INFRA_IF_RECV_ICMP6) as real NCP firmware
# built with -DOT_NCP_INFRA_IF=ON does. Both define otPlatInfraIf*; the simulation's won the link.
# OT_SIMULATION_DNSSD=OFF, likewise: the NCP's platform DNS-SD (src/ncp/platform/dnssd.cpp: the SRP
# advertising proxy's requests go to the host as DNSSD_* frames) must be linked, not the
# simulation's stub (examples/platforms/simulation/dnssd.c, which is always STOPPED).
build ncp -DOT_APP_NCP=ON -DOT_APP_CLI=OFF -DOT_APP_RCP=ON -DOT_BORDER_ROUTING=ON -DOT_NCP_INFRA_IF=ON -DOT_SIMULATION_INFRA_IF=OFF \
    -DOT_SRP_ADV_PROXY=ON -DOT_PLATFORM_DNSSD=ON -DOT_NCP_DNSSD=ON -DOT_SIMULATION_DNSSD=OFF
targets=(ot-cli-ftd)
build cli -DOT_APP_NCP=OFF -DOT_APP_CLI=ON -DOT_APP_RCP=OFF -DOT_BORDER_ROUTING=OFF -DOT_NCP_INFRA_IF=OFF \
    -DOT_SRP_CLIENT=ON

for b in ncp/bin/ot-ncp-ftd ncp/bin/ot-rcp cli/bin/ot-cli-ftd; do
    [ -x "$out/$b" ] || { echo "build-ot.sh: $out/$b was not built" >&2; exit 1; }
done
echo "$out"
