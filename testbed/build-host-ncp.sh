#!/usr/bin/env bash
# Builds the host-side co-processor (docs/rcp.md) into target/openthread/host-ncp/bin/ot-host-ncp:
# OpenThread's NCP (src/ncp) on OpenThread's POSIX platform, whose Spinel radio driver talks to a
# radio-only co-processor (ot-rcp: the simulated one testbed/build-ot.sh builds, or a dongle).
# Same OpenThread source (openthread-sys 0.4.0) and the same NCP options as the simulated
# ot-ncp-ftd, with the POSIX platform's own network pieces off:
#   - no Thread netif/TUN and no platform UDP (OT_DAEMON=OFF: OPENTHREAD_CONFIG_PLATFORM_NETIF/UDP
#     stay 0): the host (thread-agent) gets the Thread traffic over Spinel, as with NCP firmware;
#   - no POSIX infra-if (OPENTHREAD_POSIX_CONFIG_INFRA_IF_ENABLE=0): border routing's infra-if is
#     the NCP's (OT_NCP_INFRA_IF, INFRA_IF_* over Spinel to the agent);
#   - no POSIX mDNS socket (OT_MDNS stays OFF): DNS-SD is the NCP's (OT_NCP_DNSSD).
# The build is cached: when the options and the source are unchanged, nothing is rebuilt.
# JOBS=N limits ninja's parallelism (default: ninja's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="${OT_BUILD_DIR:-$root/target/openthread}/host-ncp"

me=build-host-ncp.sh
# shellcheck source=ot-source.sh
. "$here/ot-source.sh"

defs="-DOPENTHREAD_POSIX_CONFIG_INFRA_IF_ENABLE=0"
opts=(-GNinja -DCMAKE_BUILD_TYPE=Release -DOT_SRC="$src" -DOT_PLATFORM=posix -DBUILD_TESTING=OFF
      -DOT_BUILD_EXECUTABLES=OFF -DOT_DAEMON=OFF -DOT_FTD=ON -DOT_MTD=OFF -DOT_RCP=OFF
      -DOT_COMMISSIONER=ON -DOT_JOINER=ON -DOT_BORDER_AGENT=ON -DOT_UDP_FORWARD=ON
      -DOT_SRP_SERVER=ON -DOT_ECDSA=ON -DOT_BORDER_ROUTER=ON -DOT_SERVICE=ON
      -DOT_BORDER_ROUTING=ON -DOT_NCP_INFRA_IF=ON -DOT_SRP_ADV_PROXY=ON -DOT_PLATFORM_DNSSD=ON
      -DOT_NCP_DNSSD=ON -DOT_COMPILE_WARNING_AS_ERROR=OFF
      "-DCMAKE_C_FLAGS=$defs" "-DCMAKE_CXX_FLAGS=$defs")

stamp="$out/.options"
want="$src|${opts[*]}|$(cat "$here/host-ncp/CMakeLists.txt" | md5sum)"
mkdir -p "$out"
if [ ! -f "$out/build.ninja" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$out" && mkdir -p "$out"
    cmake -S "$here/host-ncp" -B "$out" "${opts[@]}" >"$out/../host-ncp-cmake.log" 2>&1 \
        || { tail -30 "$out/../host-ncp-cmake.log" >&2; exit 1; }
    echo "$want" >"$stamp"
fi
ninja -C "$out" ${JOBS:+-j"$JOBS"} ot-host-ncp >"$out/../host-ncp-ninja.log" 2>&1 \
    || { tail -30 "$out/../host-ncp-ninja.log" >&2; exit 1; }
mkdir -p "$out/bin"
ln -sf "$out/ot-host-ncp" "$out/bin/ot-host-ncp"
[ -x "$out/bin/ot-host-ncp" ] || { echo "build-host-ncp.sh: $out/bin/ot-host-ncp was not built" >&2; exit 1; }
echo "$out/bin/ot-host-ncp"
