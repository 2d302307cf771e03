# Sourced by build-ot.sh and build-host-ncp.sh (with `here` = testbed/ and `me` = the script's
# name): checks the build tools and sets `src` to the OpenThread source inside the
# `openthread-sys` crate (pinned to 0.4.0 in testbed/otsrc, fetched by cargo).
for tool in cmake ninja cargo; do
    command -v "$tool" >/dev/null || { echo "$me: '$tool' is missing (apt-get install cmake ninja-build)" >&2; exit 1; }
done

cargo fetch --quiet --manifest-path "$here/otsrc/Cargo.toml"
src=$(cargo metadata --format-version 1 --manifest-path "$here/otsrc/Cargo.toml" \
      | python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="openthread-sys"))')/openthread
[ -f "$src/CMakeLists.txt" ] || { echo "$me: OpenThread source not found at $src" >&2; exit 1; }
