#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Probe streams for the daemon's tests (tests/e2e/daemon.sh): every probe
is a new flow (a UDP datagram from a fresh socket, so a new source port),
so each one is judged by the rules, not passed by flow state.  Bounded in
count and time; talks only to the address the test gives.

  probes.py echo BIND PORT [PORT...] --timeout T
        answer every datagram on the ports with the same bytes, for T seconds
  probes.py get URL [--head]
        an HTTP GET (curl is not among the dependencies): the body, or with
        --head the status and the headers; exit 0 on any HTTP answer
  probes.py stream HOST --allow PORT --deny PORT --duration S [--rate N]
        N probes a second to each port for S seconds; a probe to the
        allowed port must be answered (within --wait s), one to the denied
        port must not.  Prints "allowed A/N answered, denied D/N answered,
        misjudged M" and exits 0 only when M is 0.
"""
import argparse
import selectors
import socket
import sys
import time
import urllib.error
import urllib.request


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def echo(a):
    sel = selectors.DefaultSelector()
    for port in a.ports:
        s = socket.socket(family(a.bind), socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.bind, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            try:
                data, peer = key.fileobj.recvfrom(2048)
                key.fileobj.sendto(data, peer)
            except OSError:
                pass
    return 0


def get(a):
    try:
        r = urllib.request.urlopen(a.url, timeout=10)
    except urllib.error.HTTPError as e:
        r = e
    except (urllib.error.URLError, OSError) as e:
        print("get: %s: %s" % (a.url, e), file=sys.stderr)
        return 1
    if a.head:
        print(r.status)
        for k, v in r.headers.items():
            print("%s: %s" % (k, v))
    else:
        sys.stdout.write(r.read().decode())
    return 0


def stream(a):
    sel = selectors.DefaultSelector()
    sent = {"allow": 0, "deny": 0}
    answered = {"allow": 0, "deny": 0}
    outstanding = {}  # socket -> (kind, deadline)
    start = time.monotonic()
    next_send = start
    end = start + a.duration
    while time.monotonic() < end or outstanding:
        now = time.monotonic()
        if now < end and now >= next_send:
            for kind, port in (("allow", a.allow), ("deny", a.deny)):
                s = socket.socket(family(a.host), socket.SOCK_DGRAM)
                s.setblocking(False)
                s.sendto(b"probe-%d" % sent[kind], (a.host, port))
                sent[kind] += 1
                outstanding[s] = (kind, now + a.wait)
                sel.register(s, selectors.EVENT_READ)
            next_send += 1.0 / a.rate
        for key, _ in sel.select(timeout=0.01):
            s = key.fileobj
            try:
                s.recv(2048)
                answered[outstanding[s][0]] += 1
            except OSError:
                pass
            sel.unregister(s)
            s.close()
            del outstanding[s]
        now = time.monotonic()
        for s in [s for s, (_, dl) in outstanding.items() if dl < now]:
            sel.unregister(s)
            s.close()
            del outstanding[s]
    misjudged = (sent["allow"] - answered["allow"]) + answered["deny"]
    print("allowed %d/%d answered, denied %d/%d answered, misjudged %d"
          % (answered["allow"], sent["allow"], answered["deny"], sent["deny"], misjudged))
    return 0 if misjudged == 0 and sent["allow"] > 0 else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo")
    e.add_argument("bind")
    e.add_argument("ports", type=int, nargs="+")
    e.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("stream")
    s.add_argument("host")
    s.add_argument("--allow", type=int, required=True)
    s.add_argument("--deny", type=int, required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--rate", type=float, default=20)
    s.add_argument("--wait", type=float, default=1.0)
    g = sub.add_parser("get")
    g.add_argument("url")
    g.add_argument("--head", action="store_true")
    a = p.parse_args()
    if a.mode == "get":
        return get(a)
    if a.mode == "echo":
        a.timeout = min(a.timeout, 600)
        return echo(a)
    a.duration = min(a.duration, 120)
    a.rate = min(a.rate, 200)
    return stream(a)


if __name__ == "__main__":
    sys.exit(main())
