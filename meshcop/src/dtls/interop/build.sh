#!/bin/sh
# Builds mbedtls_peer against the Mbed TLS copy inside openthread-sys (3.6.0).
#   build.sh OUTDIR openthread  -- OpenThread's own Mbed TLS configuration (openthread_mbedtls_config.h)
#   build.sh OUTDIR default     -- Mbed TLS defaults + EC-JPAKE + 768-byte records (EMS, tickets... on)
# Then: MBEDTLS_PEER=OUTDIR/mbedtls_peer cargo test -p meshcop --lib -- mbedtls_interop
set -eu
OUT=${1:-/tmp/mbedtls-peer}
FLAVOUR=${2:-openthread}
MB=$(ls -d "$HOME"/.cargo/registry/src/*/openthread-sys-*/openthread/third_party/mbedtls/repo | tail -1)
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
if [ "$FLAVOUR" = openthread ]; then
  CFG="-DMBEDTLS_CONFIG_FILE=$HERE/openthread_mbedtls_config.h"
  CDEF="-DMBEDTLS_CONFIG_FILE=\"$HERE/openthread_mbedtls_config.h\""
else
  printf '#define MBEDTLS_KEY_EXCHANGE_ECJPAKE_ENABLED\n#define MBEDTLS_SSL_IN_CONTENT_LEN 768\n#define MBEDTLS_SSL_OUT_CONTENT_LEN 768\n' > "$OUT/user_config.h"
  CFG="-DMBEDTLS_USER_CONFIG_FILE=$OUT/user_config.h"
  CDEF="-DMBEDTLS_USER_CONFIG_FILE=\"$OUT/user_config.h\""
fi
cmake -S "$MB" -B "$OUT/build" -G Ninja -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release "$CFG" -DMBEDTLS_FATAL_WARNINGS=OFF >/dev/null
ninja -C "$OUT/build" mbedtls >/dev/null
cc -O1 -o "$OUT/mbedtls_peer" "$HERE/mbedtls_peer.c" -I"$MB/include" -I"$OUT/build/include" "$CDEF" \
  "$OUT/build/library/libmbedtls.a" "$OUT/build/library/libmbedx509.a" "$OUT/build/library/libmbedcrypto.a"
echo "$OUT/mbedtls_peer"
