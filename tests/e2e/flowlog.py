#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Traffic of known shape and the checks of the flow-log end-to-end tests
(tests/e2e/flowlog.sh).  Every traffic mode stops by itself (a byte or
datagram count and a wall-clock limit) and talks only to the addresses the
test passes, which are its own namespaces.

  flowlog.py serve-tcp BIND PORT [--lifetime S]
        each connection: read to EOF, answer half as many bytes, close
  flowlog.py serve-udp BIND PORT [--lifetime S]
        answer each datagram with the same bytes
  flowlog.py tcp HOST PORT --sport P --bytes N
        connect from port P, send N bytes, read the answer to EOF
  flowlog.py refused HOST PORT --sport P
        one connection attempt that must not open (0.5 s)
  flowlog.py udp HOST PORT --sport P --count K --size S
        K datagrams of S bytes from port P, each answered
  flowlog.py stream HOST PORT --sport P --seconds S --rate BYTES_PER_S
        one connection sending for S seconds, then closed
  flowlog.py nft-rules FLOWS.json
        the nftables ruleset counting each expected flow both ways
  flowlog.py check KIND ...  see the check_* functions
"""
import argparse
import glob
import json
import socket
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve_tcp(a):
    s = socket.socket(family(a.bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(64)
    s.settimeout(1)
    end = time.time() + a.lifetime

    def one(c):
        c.settimeout(30)
        n = 0
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
            c.sendall(b"y" * (n // 2))
        finally:
            c.close()

    while time.time() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=one, args=(c,), daemon=True).start()


def serve_udp(a):
    s = socket.socket(family(a.bind), socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    s.settimeout(1)
    end = time.time() + a.lifetime
    while time.time() < end:
        try:
            b, peer = s.recvfrom(65536)
        except socket.timeout:
            continue
        s.sendto(b, peer)


def client(a, kind=socket.SOCK_STREAM):
    s = socket.socket(family(a.host), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if family(a.host) == socket.AF_INET6 else "0.0.0.0", a.sport))
    return s


def tcp(a):
    s = client(a)
    s.settimeout(10)
    s.connect((a.host, a.port))
    s.sendall(b"x" * a.bytes)
    s.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    s.close()
    if got != a.bytes // 2:
        sys.exit(f"tcp: answered {got} bytes, not {a.bytes // 2}")


def refused(a):
    s = client(a)
    s.settimeout(0.5)
    try:
        s.connect((a.host, a.port))
    except (socket.timeout, OSError):
        return
    sys.exit("refused: the connection opened")


def udp(a):
    s = client(a, socket.SOCK_DGRAM)
    s.settimeout(2)
    for i in range(a.count):
        s.sendto(b"u" * a.size, (a.host, a.port))
        b, _ = s.recvfrom(65536)
        if len(b) != a.size:
            sys.exit(f"udp: answer of {len(b)} bytes")
    s.close()


def stream(a):
    s = client(a)
    s.settimeout(10)
    s.connect((a.host, a.port))
    end, chunk = time.time() + a.seconds, b"s" * 1000
    while time.time() < end:
        s.sendall(chunk * max(1, a.rate // 10000))
        time.sleep(0.1)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()


# ---- nftables counters: the reference for each flow's packets and bytes ----
# nft counts skb->len at the IP layer, the L3 length the datapath counts, one
# skb at a time as xnsg sees them (the client's side of the veth: its sends
# are segments, since xnsg's XDP program on the other side turns the peer's
# GSO off, and what it receives comes as xnsg's TC egress passed it).

def flow_match(f, way):
    """nft match of flow f's packets in way 'out' (client -> server) or 'in'."""
    ip = "ip6" if ":" in f["server"] else "ip"
    if f["proto"] in ("icmp", "icmpv6"):
        t = "echo-request" if way == "out" else "echo-reply"
        return f'{ip} {"daddr" if way == "out" else "saddr"} {f["server"]} {f["proto"]} type {t}'
    side = "sport" if way == "out" else "dport"
    return (f'{ip} {"daddr" if way == "out" else "saddr"} {f["server"]} '
            f'{f["proto"]} {side} {f["sport"]}')


def nft_rules(a):
    flows = json.load(open(a.flows))
    out = ["table inet xfl {", "chain o { type filter hook output priority 0; policy accept;"]
    out += [f'{flow_match(f, "out")} counter comment "{f["name"]}:out"' for f in flows]
    out += ["}", "chain i { type filter hook input priority 0; policy accept;"]
    out += [f'{flow_match(f, "in")} counter comment "{f["name"]}:in"' for f in flows]
    out += ["}", "}"]
    print("\n".join(out))


def nft_counters(path):
    """{"name:out": (packets, bytes)} from `nft -j list table inet xfl`."""
    res = {}
    for o in json.load(open(path))["nftables"]:
        r = o.get("rule")
        if not r or "comment" not in r:
            continue
        for e in r["expr"]:
            if "counter" in e:
                res[r["comment"]] = (e["counter"]["packets"], e["counter"]["bytes"])
    return res


# ---- checks -----------------------------------------------------------------

FAILS = []


def fail(msg):
    FAILS.append(msg)


def records(path):
    out = []
    for n, line in enumerate(open(path), 1):
        try:
            out.append(json.loads(line))
        except ValueError as e:
            fail(f"{path}:{n}: not JSON ({e}): {line[:80]}")
    return out


def of_flow(recs, f):
    proto = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}[f["proto"]]
    return [r for r in recs if r["proto"] == proto and r["dst"] == f["server"] and
            r["src"] == f["client"] and (f["proto"].startswith("icmp") or
                                         r["sport"] == f["sport"])]


def check_flow(recs, nft, f):
    rs = of_flow(recs, f)
    states = "".join(r["state"] for r in rs)
    want_end = "fin" if f["proto"] == "tcp" else "timeout"
    if states.count("B") != 1 or states.count("E") != 1 or states[0] != "B" or states[-1] != "E":
        return fail(f'{f["name"]}: records {states!r}, want one B first and one E last')
    if any(r["rule"] != f["rule"] or r["nsg"] != f["nsg"] or r["decision"] != "allow" for r in rs):
        fail(f'{f["name"]}: rules {[(r["nsg"], r["rule"]) for r in rs]}, want {f["nsg"]}/{f["rule"]}')
    if rs[-1]["end_reason"] != want_end:
        fail(f'{f["name"]}: ends by {rs[-1]["end_reason"]}, want {want_end}')
    for way, key in (("out", "s2d"), ("in", "d2s")):
        got = (sum(r["pkts_" + key] for r in rs), sum(r["bytes_" + key] for r in rs))
        want = nft.get(f'{f["name"]}:{way}')
        if got != want:
            fail(f'{f["name"]}: {key} packets, bytes {got}; the {way} counter says {want}')
    return rs


def check_deny(recs, nft, f):
    rs = [r for r in recs if r["state"] == "D" and r["sport"] == f["sport"] and
          r["dst"] == f["server"] and r["dport"] == f["port"]]
    if not rs:
        return fail(f'{f["name"]}: no D record')
    if any(r["rule"] != f["rule"] or r["nsg"] != f["nsg"] or r["decision"] != "deny" for r in rs):
        fail(f'{f["name"]}: D names {[(r["nsg"], r["rule"]) for r in rs]}, want {f["nsg"]}/{f["rule"]}')
    got = (sum(r["pkts_s2d"] for r in rs), sum(r["bytes_s2d"] for r in rs))
    if got != nft.get(f'{f["name"]}:out'):
        fail(f'{f["name"]}: denied packets, bytes {got}; the counter says {nft.get(f["name"] + ":out")}')


def check_traffic(a):
    """check traffic JSONL NFT.json FLOWS.json: every flow's records."""
    recs, nft, flows = records(a.args[0]), nft_counters(a.args[1]), json.load(open(a.args[2]))
    for f in flows:
        (check_deny if f.get("denied") else check_flow)(recs, nft, f)
    print(f"note: {len(recs)} records, {len(flows)} flows checked against nftables counters")


def check_iface(a):
    """check iface JSONL IFNAME BEFORE AFTER: what the interface carried was logged."""
    recs = [r for r in records(a.args[0]) if r["interface"] == a.args[1]]
    before, after = (dict(zip(("rxp", "rxb", "txp", "txb"), map(int, open(p).read().split())))
                     for p in a.args[2:4])
    d = {k: after[k] - before[k] for k in before}
    pk = sum(r["pkts_s2d"] + r["pkts_d2s"] for r in recs)
    by = sum(r["bytes_s2d"] + r["bytes_d2s"] for r in recs)
    # A veth counts what it sends as frames (with their 14 bytes of
    # Ethernet header) and, with an XDP program attached, what it receives
    # after eth_type_trans() took the header off: L3 bytes already.
    ipk, iby = d["rxp"] + d["txp"], d["rxb"] + d["txb"] - 14 * d["txp"]
    if (pk, by) != (ipk, iby):
        fail(f"{a.args[1]}: records count {pk} packets, {by} L3 bytes; the interface's counters "
             f"{ipk} packets, {iby} L3 bytes (rx {d['rxp']}/{d['rxb']}, tx {d['txp']}/{d['txb']})")
    print(f"note: {a.args[1]} carried {ipk} packets, {iby} L3 bytes; the records count the same")


def azure_tuples(d, fmt):
    """(src, dst, sport, dport, T|U, state) -> summed counts, from every PT1H.json."""
    root = "flowLogResourceID=" if fmt == "v4" else "resourceId="
    out = {}
    files = glob.glob(f"{d}/{root}*/**/PT1H.json", recursive=True)
    for p in files:
        doc = json.load(open(p))
        for rec in doc["records"]:
            if fmt == "v4":
                groups = [(g["rule"], t) for fl in rec["flowRecords"]["flows"]
                          for g in fl["flowGroups"] for t in g["flowTuples"]]
            else:
                groups = [(g["rule"], t) for g in rec["properties"]["flows"]
                          for m in g["flows"] for t in m["flowTuples"]]
            for rule, t in groups:
                f = t.split(",")
                if fmt == "v4":
                    proto, state, c = {"6": "T", "17": "U"}.get(f[5]), f[7], f[9:13]
                else:
                    proto, state, c = f[5], f[8], f[9:13]
                    state = "D" if f[7] == "D" else state
                if proto is None:
                    continue
                k = (f[1], f[2], int(f[3]), int(f[4]), proto, rule)
                v = out.setdefault(k, [0, 0, 0, 0, ""])
                for i in range(4):
                    v[i] += int(c[i] or 0)
                v[4] += state
    return out, len(files)


def check_azure(a):
    """check azure DIR JSONL: both formats parse and carry the same TCP/UDP tuples."""
    v4, n4 = azure_tuples(a.args[0], "v4")
    v2, n2 = azure_tuples(a.args[0], "v2")
    if not n4 or not n2:
        return fail(f"azure: {n4} VNet v4 and {n2} NSG v2 PT1H.json files")
    for k in set(v4) | set(v2):
        x, y = v4.get(k), v2.get(k)
        if x is None or y is None:
            fail(f"azure: tuple {k} only in {'v2' if x is None else 'v4'}")
            continue
        # v2 writes a denied flow as B with no counts: compare allowed ones.
        if "D" not in x[4] and x[:4] != y[:4]:
            fail(f"azure: tuple {k}: v4 counts {x[:4]}, v2 {y[:4]}")
    recs = [r for r in records(a.args[1]) if r["proto"] in (6, 17)]
    want = {(r["src"], r["dst"], r["sport"], r["dport"]) for r in recs}
    have = {k[:4] for k in v4}
    if want != have:
        fail(f"azure: JSON lines tuples not in the files: {sorted(want - have)[:5]}; "
             f"extra: {sorted(have - want)[:5]}")
    print(f"note: azure: {n4} VNet v4 and {n2} NSG v2 files, {len(v4)} TCP/UDP tuples in both")


def check_nfdump(a):
    """check nfdump OUT JSONL FLOWS.json: nfcapd stored each TCP/UDP flow's counts both ways
    (OUT: nfdump -o "fmt:%sa,%da,%sp,%dp,%pr,%ipkt,%ibyt,%opkt,%obyt", spaces removed)."""
    lines = [l.strip().split(",") for l in open(a.args[0]) if l.strip() and l[0].isalnum()]
    recs, flows = records(a.args[1]), json.load(open(a.args[2]))
    seen = 0
    for f in flows:
        if f.get("denied") or f["proto"] not in ("tcp", "udp"):
            continue
        rs = of_flow(recs, f)
        want = tuple(sum(r[k] for r in rs) for k in ("pkts_s2d", "bytes_s2d", "pkts_d2s", "bytes_d2s"))
        proto = f["proto"].upper()
        mine = [l for l in lines if l[0] == f["client"] and l[1] == f["server"] and
                l[2] == str(f["sport"]) and l[3] == str(f["port"]) and l[4] == proto]
        got = tuple(sum(int(l[i]) for l in mine) for i in range(5, 9))
        if got != want:
            fail(f'nfdump: {f["name"]}: {len(mine)} records, packets/bytes {got}, want {want}')
        seen += len(mine)
    print(f"note: nfdump read back {len(lines)} records; the {seen} of the checked flows add up")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn in (("serve-tcp", serve_tcp), ("serve-udp", serve_udp)):
        s = sub.add_parser(name)
        s.add_argument("bind")
        s.add_argument("port", type=int)
        s.add_argument("--lifetime", type=float, default=120)
        s.set_defaults(fn=fn)
    for name, fn in (("tcp", tcp), ("refused", refused), ("udp", udp), ("stream", stream)):
        s = sub.add_parser(name)
        s.add_argument("host")
        s.add_argument("port", type=int)
        s.add_argument("--sport", type=int, required=True)
        s.add_argument("--bytes", type=int, default=1000)
        s.add_argument("--count", type=int, default=1)
        s.add_argument("--size", type=int, default=100)
        s.add_argument("--seconds", type=float, default=3)
        s.add_argument("--rate", type=int, default=100000)
        s.set_defaults(fn=fn)
    s = sub.add_parser("nft-rules")
    s.add_argument("flows")
    s.set_defaults(fn=nft_rules)
    s = sub.add_parser("check")
    s.add_argument("kind", choices=["traffic", "iface", "azure", "nfdump"])
    s.add_argument("args", nargs="+")
    s.set_defaults(fn=lambda a: globals()["check_" + a.kind](a))
    a = p.parse_args()
    a.fn(a)
    if FAILS:
        print("\n".join(FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
