#!/bin/sh
# Builds mbedtls_peer against the Mbed TLS copy inside openthread-sys (3.6.0), with EC-JPAKE
# enabled and OpenThread's 768-byte record limit. Usage: build.sh OUTDIR
set -eu
OUT=${1:-/tmp/mbedtls-peer}
MB=$(ls -d "$HOME"/.cargo/registry/src/*/openthread-sys-*/openthread/third_party/mbedtls/repo | tail -1)
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
cat > "$OUT/user_config.h" <<CFG
#define MBEDTLS_KEY_EXCHANGE_ECJPAKE_ENABLED
#define MBEDTLS_SSL_IN_CONTENT_LEN 768
#define MBEDTLS_SSL_OUT_CONTENT_LEN 768
CFG
cmake -S "$MB" -B "$OUT/build" -G Ninja -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release -DMBEDTLS_USER_CONFIG_FILE="$OUT/user_config.h" -DMBEDTLS_FATAL_WARNINGS=OFF >/dev/null
ninja -C "$OUT/build" mbedtls >/dev/null
cc -O1 -o "$OUT/mbedtls_peer" "$HERE/mbedtls_peer.c" -I"$MB/include" -I"$OUT/build/include" \
  -DMBEDTLS_USER_CONFIG_FILE="\"$OUT/user_config.h\"" \
  "$OUT/build/library/libmbedtls.a" "$OUT/build/library/libmbedx509.a" "$OUT/build/library/libmbedcrypto.a"
echo "$OUT/mbedtls_peer"
