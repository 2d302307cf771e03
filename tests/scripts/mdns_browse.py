#!/usr/bin/python3
"""Browses for an mDNS service type with python-zeroconf (Debian's python3-zeroconf) and prints
one JSON object per line, flushed, until stdin closes or --timeout seconds pass:

  {"event": "added"|"updated"|"removed", "name": "<instance>._meshcop._udp.local."}
  {"event": "resolved", "name": ..., "port": n, "server": "...", "addresses": [...],
   "txt": {"key": "<value as hex>" | null}}        (after added/updated)

Used by the e2e test tests/tests/mdns.rs as a real client nobody here wrote.
  --bind ADDR   listen only on the interface with this address (e.g. 127.0.0.1); default all
  --v4          IPv4 only (default: IPv4 and IPv6)
"""
import argparse
import json
import queue
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf


def out(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--type", default="_meshcop._udp.local.")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--bind", action="append", default=[])
    ap.add_argument("--v4", action="store_true")
    args = ap.parse_args()

    ipv = IPVersion.V4Only if args.v4 else IPVersion.All
    zc = Zeroconf(interfaces=args.bind, ip_version=ipv) if args.bind else Zeroconf(ip_version=ipv)
    todo = queue.Queue()

    def on_change(zeroconf, service_type, name, state_change):
        kind = {
            ServiceStateChange.Added: "added",
            ServiceStateChange.Updated: "updated",
            ServiceStateChange.Removed: "removed",
        }[state_change]
        out({"event": kind, "name": name})
        if kind != "removed":
            todo.put(name)

    ServiceBrowser(zc, args.type, handlers=[on_change])
    # stdin closing (the test ending or dropping us) ends the browse.
    done = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    end = time.monotonic() + args.timeout
    try:
        while not done.is_set() and time.monotonic() < end:
            try:
                name = todo.get(timeout=0.2)
            except queue.Empty:
                continue
            info = ServiceInfo(args.type, name)
            if not info.request(zc, 3000):
                out({"event": "unresolved", "name": name})
                continue
            txt = {}
            for k, v in (info.properties or {}).items():
                key = k.decode("ascii", "replace") if isinstance(k, bytes) else str(k)
                txt[key] = None if v is None else v.hex()
            out({
                "event": "resolved",
                "name": name,
                "port": info.port,
                "server": info.server,
                "addresses": info.parsed_scoped_addresses(),
                "txt": txt,
            })
    finally:
        zc.close()


if __name__ == "__main__":
    main()
