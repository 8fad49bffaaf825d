#!/usr/bin/env python3
"""Turn bench/run.sh's JSON lines into results.json, RESULTS.md and SVG plots.

    report.py RESULTS.jsonl OUTDIR QUICK

Ratios are computed only between figures of the same run.  A record with a
non-empty "failed" becomes a row saying so; a line that is not JSON becomes
such a record too: the report never crashes on what the harness measured.
"""
import datetime
import json
import math
import os
import platform
import statistics
import sys
from xml.sax.saxutils import escape

FILTER_NAMES = {
    "none": "no filter",
    "iptables": "iptables (raw PREROUTING, linear)",
    "nft_linear": "nftables netdev ingress, linear",
    "nft_set": "nftables concatenated interval set",
    "xdp_filter": "xdp-filter (address/port sets)",
    "xdp_drop": "empty XDP_DROP program",
    "tc_drop": "empty TC ingress drop program",
    "xnsg": "xnsg, XDP ingress",
    "xnsg_tc": "xnsg, TC ingress (--ingress tc)",
    "xnsg_fl": "xnsg, XDP ingress, flow logs on",
    "xnsg_base": "xnsg of the baseline build (BENCH_BASELINE), XDP",
}
FILTER_ORDER = list(FILTER_NAMES)
PEERS = ["iptables", "nft_linear", "nft_set", "xdp_filter"]
FLOORS = ["xdp_drop", "tc_drop"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt(v, spec=".1f", dash="-"):
    return format(v, spec) if num(v) else dash


def ratio(a, b, spec=".2f"):
    return format(a / b, spec) if num(a) and num(b) and b else "-"


def svg_plot(path, title, xlabel, ylabel, series, logy=False):
    """series: {name: [(x, y), ...]}; x on a log scale, y linear or log."""
    w, h, ml, mr, mt, mb = 760, 440, 70, 270, 40, 50
    series = {k: [(x, y) for x, y in v if num(x) and num(y) and y > 0] for k, v in series.items()}
    series = {k: v for k, v in series.items() if v}
    pts = [p for s in series.values() for p in s]
    if not pts:
        return False
    xs = [math.log10(max(x, 1)) for x, _ in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    if logy:
        ly = [math.log10(y) for _, y in pts]
        y0, y1 = math.floor(min(ly)), math.ceil(max(ly))
        if y1 == y0:
            y1 += 1
    else:
        top = max(y for _, y in pts) * 1.05 or 1
        mag = 10 ** math.floor(math.log10(top / 5))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if top / (m * mag) <= 6)
        y0, y1 = 0.0, step * math.ceil(top / step)

    def sx(x):
        return ml + (math.log10(max(x, 1)) - x0) / (x1 - x0) * (w - ml - mr)

    def sy(y):
        v = math.log10(y) if logy else y
        return h - mb - (v - y0) / (y1 - y0) * (h - mt - mb)

    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
              "#7f7f7f", "#e377c2", "#bcbd22"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{(ml + w - mr) / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
           f'<line x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}" stroke="black"/>',
           f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}" stroke="black"/>',
           f'<text x="{(ml + w - mr) / 2}" y="{h - 12}" text-anchor="middle">{escape(xlabel)}</text>',
           f'<text x="16" y="{(h - mb + mt) / 2}" transform="rotate(-90 16 {(h - mb + mt) / 2})" '
           f'text-anchor="middle">{escape(ylabel)}</text>']
    ticks = ([10 ** e * m for e in range(int(y0), int(y1)) for m in (1, 2, 5)] + [10 ** y1]
             if logy else [k * step for k in range(int(round(y1 / step)) + 1)])
    for y in ticks:
        out.append(f'<text x="{ml - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
        out.append(f'<line x1="{ml}" y1="{sy(y):.1f}" x2="{w - mr}" y2="{sy(y):.1f}" stroke="#ddd"/>')
    for x in sorted({x for x, _ in pts}):
        out.append(f'<text x="{sx(x):.1f}" y="{h - mb + 16}" text-anchor="middle">{x:g}</text>')
    for i, (name, s) in enumerate(series.items()):
        c = colors[i % len(colors)]
        s = sorted(s)
        if len(s) > 1:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{d}"/>')
        for x, y in s:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"/>')
        ly_ = mt + 18 * i + 10
        out.append(f'<rect x="{w - mr + 12}" y="{ly_ - 9}" width="12" height="10" fill="{c}"/>')
        out.append(f'<text x="{w - mr + 30}" y="{ly_}">{escape(name)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def load_rows(src):
    rows = []
    with open(src) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if not isinstance(r, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                r = {"kind": "unknown", "failed": f"line {n} of the harness output is not JSON ({e})"}
            rows.append(r)
    return rows


def classifier_section(classify, md):
    rep = [r for r in classify if r.get("method") != "single" and not r.get("failed")]
    single = [r for r in classify if r.get("method") == "single" and not r.get("failed")]
    params = next((r for r in classify if r.get("case") == "params"), {})
    floor = next((r["ns"] for r in rep if r.get("case") == "empty-xdp" and num(r.get("ns"))), None)
    floor_tc = next((r["ns"] for r in rep if r.get("case") == "empty-tc" and num(r.get("ns"))), None)

    def get(case, n):
        return next((r["ns"] for r in rep if r.get("case") == case and r.get("rules") == n
                     and num(r.get("ns"))), None)

    counts = sorted({r["rules"] for r in rep if num(r.get("rules")) and r.get("case", "").startswith("new-flow")})
    md += ["## 1. Classifier cost (BPF_PROG_TEST_RUN, ns per packet)", "",
           f"`BPF_PROG_TEST_RUN` with repeat={params.get('repeat', '?')}, median of "
           f"{params.get('reps', '?')} runs (the kernel's own per-run time). Both levels are "
           "populated: a subnet NSG and a NIC NSG of N inbound rules each. *N rules* counts rules "
           "per NSG direction; Azure's priorities (100-4096, unique per NSG direction) leave room "
           "for 3,997 user rules, so **4000 = 3,997 user rules + Azure's 3 default inbound rules** "
           "(the full table), every smaller N is N user rules (+3 defaults). *last rule*: the probe "
           "(TCP 203.0.113.7:40000 -> 10.9.1.4:443) misses every user rule but the last, which "
           "allows it (the worst case of a linear scan); *random*: N-1 allow rules with random "
           "overlapping prefixes (/8-/32, 1 in 8 the Internet tag), port ranges and protocols and a "
           "last rule allowing everything, 16 random TCP/UDP packets (so every packet, as in the "
           "*last rule* case, is judged by both levels); *random, deep*: the same policies, 16 "
           "packets whose sources lie inside the policy's IPv4 source prefixes longer than /16 (at "
           "1 rule only Azure's 168.63.129.16/32 is), so their address lookups go through the "
           "second and third levels of the IPv4 multibit trie. The rule counts are interleaved: every "
           "repetition loads and times each policy in turn. "
           "Flow tracking is off (a stateless build of the same program), so every run "
           "classifies: this is the new-flow classification cost without the flow table.", "",
           "| rules | last rule ns | x empty XDP | x 1 rule | random ns | x empty XDP | x 1 rule "
           "| random, deep ns | x empty XDP | x 1 rule "
           "| TC ingress, last rule ns | x empty TC | x 1 rule |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    md.append(f"| empty program | {fmt(floor)} (XDP) | 1.00 | - | | | | | | | {fmt(floor_tc)} (TC) | 1.00 | - |")
    for n in counts:
        last, rnd, tc = get("new-flow-last-rule", n), get("new-flow-random", n), get("new-flow-last-rule-tc", n)
        deep = get("new-flow-random-deep", n)
        md.append(f"| {n} | {fmt(last)} | {ratio(last, floor, '.1f')} | {ratio(last, get('new-flow-last-rule', 1))} "
                  f"| {fmt(rnd)} | {ratio(rnd, floor, '.1f')} | {ratio(rnd, get('new-flow-random', 1))} "
                  f"| {fmt(deep)} | {ratio(deep, floor, '.1f')} | {ratio(deep, get('new-flow-random-deep', 1))} "
                  f"| {fmt(tc)} | {ratio(tc, floor_tc, '.1f')} | {ratio(tc, get('new-flow-last-rule-tc', 1))} |")
    top = max(counts) if counts else None
    if top:
        goals = []
        for case, label in (("new-flow-last-rule", "last rule"), ("new-flow-random", "random"),
                            ("new-flow-random-deep", "random, deep")):
            a, b = get(case, top), get(case, 1)
            if num(a) and num(b) and b:
                goals.append(f"{label} {a / b:.2f}x ({'met' if a / b <= 1.5 else 'NOT met'})")
        md += ["", f"Goal *{top} rules cost at most 1.5x 1 rule*: " + "; ".join(goals) + ".", "",
               "An IPv4 address is looked up in a multibit trie of strides 16, 8 and 8 held in "
               "array maps: one to three reads whatever the number of prefixes (the kernel's LPM "
               "trie, which walks a node of ~10 ns per branching bit, is only the fallback when the "
               "chunk pool is full; an IPv6 address goes through a path-compressed trie of 8-bit "
               "strides, at most eight node reads, see the table below). What still grows with the rules "
               "is the loop over the 64-rule words that every field's summary names: with random "
               "overlapping rules, many words are candidates for every field but hold no rule "
               "matching all five, and each candidate costs five bitmap loads. The *last rule* "
               "policies have one candidate word; the *random* ones have several."]
    fam = [r for r in rep if r.get("case") == "new-flow-prefixes" and num(r.get("ns"))]
    if fam:
        fv = lambda f, n: next((r["ns"] for r in fam if r.get("family") == f and r.get("prefixes") == n), None)
        ns = sorted({r["prefixes"] for r in fam})
        md += ["", "By address family: one NSG whose one rule allows TCP from a tag of N random "
               "prefixes (IPv4 /16-/32, IPv6 /32-/128), 16 TCP packets from inside them (host bits "
               "random), `xnsg-bench classify family`.", "",
               "| prefixes | IPv4 ns | x 1 prefix | IPv6 ns | x 1 prefix | IPv6 x IPv4 |",
               "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for n in ns:
            a, b = fv("ipv4", n), fv("ipv6", n)
            md.append(f"| {n} | {fmt(a)} | {ratio(a, fv('ipv4', ns[0]))} | {fmt(b)} "
                      f"| {ratio(b, fv('ipv6', ns[0]))} | {ratio(b, a)} |")
    md.append("")

    # Flow tracking.
    md += ["## 2. Flow tracking: established flows, new flows with the flow table", "",
           "*repeat* rows: the same packet again and again (`repeat` as above): *established* is "
           "a packet of a tracked flow (one flow-table lookup, no rules); the others are from "
           "section 1. *single* rows: "
           f"{params.get('single_flows', '?')} distinct flows (TCP SYNs from distinct "
           "source address/port pairs that the last rule allows), each run once "
           "(repeat=1, so nothing is amortised over a loop and caches are as cold as a "
           "syscall between packets leaves them); median of the per-packet medians of "
           f"{params.get('single_passes', '?')} passes, the flow table flushed before each. "
           "*new flow with tracking*: the stateful program on an empty table - lookup miss, "
           "classification of both levels, insert; *established*: the same frames again (all "
           "hits); *classification only*: the stateless build; *empty*: the empty XDP program, "
           "whose figure is the single-shot timer overhead. *rules classified per packet* reads "
           "the rule counters: 2 = both levels judged the packet, 0 = the flow table answered.", "",
           "| method | rules | case | ns/pkt (median) | mean | minus empty | x empty XDP (same method) "
           "| x established | rules classified per packet |",
           "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in sorted({r["rules"] for r in rep if r.get("case") == "established"}):
        est = get("established", n)
        for case, label in (("empty-xdp", "empty XDP program"), ("established", "established (flow hit)"),
                            ("new-flow-last-rule", "classification only (no flow table)")):
            v = floor if case == "empty-xdp" else get(case, n)
            md.append(f"| repeat | {n} | {label} | {fmt(v)} | - | {fmt(v - floor if num(v) and num(floor) else None)} "
                      f"| {ratio(v, floor, '.1f')} | {ratio(v, est)} | - |")
    for n in sorted({r["rules"] for r in single}):
        sg = {r["case"]: r for r in single if r["rules"] == n}
        e = sg.get("empty-xdp", {}).get("ns")
        est = sg.get("established", {}).get("ns")
        for case, label in (("empty-xdp", "empty XDP program"), ("established", "established (flow hit)"),
                            ("new-flow-last-rule", "classification only (no flow table)"),
                            ("new-flow-ct", "new flow with tracking (miss + classify + insert)")):
            r = sg.get(case)
            if not r:
                continue
            md.append(f"| single | {n} | {label} | {fmt(r.get('ns'))} | {fmt(r.get('mean_ns'))} | "
                      f"{fmt(r['ns'] - e if num(r.get('ns')) and num(e) else None)} | {ratio(r.get('ns'), e, '.1f')} | "
                      f"{ratio(r.get('ns'), est)} | {fmt(r.get('classified_per_pkt'), '.2f')} |")
    md.append("")


def pps_section(pps, md, max_wait):
    counts = sorted({r["rules"] for r in pps if num(r.get("rules"))})
    by = {(r.get("filter"), r.get("rules")): r for r in pps}

    def mpps(f, n):
        r = by.get((f, n))
        return r.get("mpps") if r and not r.get("failed") and num(r.get("mpps")) else None

    def dropped(f, n):
        r = by.get((f, n))
        if not r or r.get("failed") or not r.get("dropped_frac"):
            return "-"
        d, u = r.get("dropped_frac", []), r.get("udp_frac", [])
        if f == "none":
            return f"n/a ({min(u) * 100:.0f}% reached UDP)" if u else "n/a"
        ok = min(d) >= 0.99 and (not u or max(u) <= 0.01)
        return (f"yes ({min(d) * 100:.1f}%)" if ok else
                f"**NO** ({min(d) * 100:.1f}% counted, {max(u) * 100:.1f}% reached UDP: row invalid)")

    reps = max((len(r.get("runs", [])) for r in pps), default=0)
    secs = next((r.get("secs") for r in pps if num(r.get("secs"))), "?")
    md += ["## 3. Side by side on real packets (Mpps)", "",
           "Two namespaces joined by a veth pair. The generator (`xnsg-bench pktgen`: AF_PACKET, "
           "`sendmmsg` of 64 frames, `PACKET_QDISC_BYPASS`, pinned to one CPU) sends 64-byte UDP "
           "frames to 10.9.1.4:443 from 256 source address/port pairs in 198.51.100.0/24 for "
           f"{secs} s. veth delivers in the sender's own softirq, so one CPU does the sending "
           "and all the receiver's work: its packet rate is the inverse of the total per-packet "
           "cost, filter included. *Mpps* is frames r0 received per second (r0's rx_packets; equal "
           "to frames sent, no veth drops), median of "
           f"{reps} runs. Each filter in turn holds N rules: N-1 that miss (TCP, a /32 in "
           "198.18.0.0/15 and one port each) and a last one that drops the frames (UDP to port "
           "443); xnsg holds the same rules as one NIC NSG (4000 = 3,997 user rules + 3 "
           "defaults, see section 1). The filters are measured in turn within each repetition, "
           "each installed fresh. *Dropped by filter* reads the filter's own counter of its last "
           "rule (iptables -L -v, nft counter, xdp-filter status, xnsg stats, clsact qdisc drops; "
           "for the empty XDP_DROP program, frames that never reached IP) and the receiver's UDP "
           "counters: a row whose filter did not drop the frames itself would be invalid.", ""]
    md += ["| filter | " + " | ".join(f"{n} rules" for n in counts) + " |",
           "| --- |" + " ---: |" * len(counts)]
    for f in FILTER_ORDER:
        if not any((f, n) in by for n in counts):
            continue
        cells = []
        for n in counts:
            r = by.get((f, n))
            if not r:
                cells.append("-")
            elif r.get("failed") and not num(r.get("mpps")):
                cells.append("failed")
            else:
                cells.append(f"{fmt(r.get('mpps'), '.3f')} ({ratio(r.get('mpps'), mpps('none', n))}x)")
        md.append(f"| {FILTER_NAMES.get(f, f)} | " + " | ".join(cells) + " |")
    md += ["", "(in parentheses: ratio to the no-filter rate of the same rule-count block. With no filter "
           "the frames go all the way up to UDP, which finds no socket on port 443, counts them as "
           "NoPorts and drops them: dearer than any early drop, so a filter that drops early beats it.)", ""]

    md += ["### Ratios: xnsg to each peer (xnsg Mpps / peer Mpps, same block)", "",
           "| rules | " + " | ".join(f"xnsg XDP / {FILTER_NAMES[p]}" for p in PEERS + FLOORS) + " | xnsg TC / xnsg XDP |",
           "| ---: |" + " ---: |" * (len(PEERS) + len(FLOORS) + 1)]
    for n in counts:
        md.append(f"| {n} | " + " | ".join(ratio(mpps("xnsg", n), mpps(p, n)) for p in PEERS + FLOORS)
                  + f" | {ratio(mpps('xnsg_tc', n), mpps('xnsg', n))} |")
    md += ["", "| rules | " + " | ".join(f"xnsg TC / {FILTER_NAMES[p]}" for p in PEERS + FLOORS) + " |",
           "| ---: |" + " ---: |" * (len(PEERS) + len(FLOORS))]
    for n in counts:
        md.append(f"| {n} | " + " | ".join(ratio(mpps("xnsg_tc", n), mpps(p, n)) for p in PEERS + FLOORS) + " |")
    md.append("")

    md += ["### Every point, raw", "",
           "*best*: the fastest run (other work on the machine only ever slows a run down, so this "
           "estimates the undisturbed rate). *CPU Mpps*: frames per second of the CPU time the generator "
           "had (elapsed time minus the time other tasks held its CPU: its wait in "
           "/proc/thread-self/schedstat less what ksoftirqd of that CPU ran, which is its own deferred "
           "receive work), median. A run in which other tasks held the generator's CPU more than "
           f"{fmt(max_wait * 100, '.0f')}% of the time was measured again (at most 3 times, within a "
           "budget for the whole run; the least disturbed run kept); *CPU lost* lists the kept runs' "
           "shares. Slow runs with no CPU lost remain: the other vCPU's and the host's load are not "
           "visible from inside this VM (results.json records how busy the other CPU was).", "",
           "| rules | filter | Mpps median | runs (Mpps received) | best | CPU Mpps | CPU lost % | x no filter "
           "| ns/pkt (1/median) | dropped by filter |",
           "| ---: | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | --- |"]
    for n in counts:
        for f in FILTER_ORDER:
            r = by.get((f, n))
            if not r:
                continue
            if r.get("failed") and not num(r.get("mpps")):
                md.append(f"| {n} | {FILTER_NAMES.get(f, f)} | failed | {escape_cell(r['failed'])} | | | | | | |")
                continue
            m = r.get("mpps")
            runs = ", ".join(f"{x:.3f}" for x in r.get("runs", []))
            waits = ", ".join(f"{x * 100:.1f}" for x in r.get("wait_frac", []))
            best = max(r.get("runs") or [None], key=lambda x: x or 0)
            md.append(f"| {n} | {FILTER_NAMES.get(f, f)} | {fmt(m, '.3f')} | {runs} | {fmt(best, '.3f')} "
                      f"| {fmt(r.get('cpu_mpps'), '.3f')} | {waits} "
                      f"| {ratio(m, mpps('none', n))} | {fmt(1e3 / m if num(m) and m else None, '.0f')} | {dropped(f, n)} |")
    md.append("")

    # Which hook.
    xd = [mpps("xdp_drop", n) for n in counts if num(mpps("xdp_drop", n))]
    td = [mpps("tc_drop", n) for n in counts if num(mpps("tc_drop", n))]
    xx = [mpps("xnsg", n) for n in counts if num(mpps("xnsg", n))]
    xt = [mpps("xnsg_tc", n) for n in counts if num(mpps("xnsg_tc", n))]
    if xd and td and xx and xt:
        rf = statistics.median(td) / statistics.median(xd)
        rx = statistics.median(xt) / statistics.median(xx)
        md += ["### Which ingress hook", "",
               f"On veth in this run, the empty TC ingress drop program sustained {rf:.2f}x the rate of "
               f"the empty XDP_DROP program, and xnsg with `--ingress tc` {rx:.2f}x the rate of xnsg on "
               "XDP (medians over the rule counts). veth's native XDP needs the frame in a page with "
               "256 bytes of headroom, so every skb the peer sends is copied into a new buffer before "
               "the program runs, and an XDP_PASS frame is rebuilt into an skb afterwards; TC runs on "
               "the skb as it is. "
               + ("Use `--ingress tc` on veth and other virtual interfaces (container host ends), "
                  if rx > 1.02 else
                  "On veth the two hooks are within noise here; ")
               + "and XDP (native, the default) on a physical NIC whose driver has native XDP, where "
               "the program runs before any skb is allocated.", ""]


TRAFFIC_NAMES = {
    "v4": "IPv4 frames, last-rule policy",
    "near": "IPv4 frames, near-miss policy (every fourth miss: UDP from the frames' own /24, other ports)",
    "v6": "IPv6 frames (62 bytes + FCS, 2001:db8:100::/120 to [fd00:9:1::4]:443), last-rule policy",
}


def goal1_section(pps, md):
    """Issue 13's goal 1: xnsg against the empty program of its hook for
    every traffic, and against nft's interval set and xdp-filter (IPv4)."""
    by = {(r.get("traffic") or "v4", r.get("filter"), r.get("rules")): r for r in pps}

    def mpps(t, f, n):
        r = by.get((t, f, n))
        return r.get("mpps") if r and not r.get("failed") and num(r.get("mpps")) else None

    def cell(t, a, b, n, goal):
        x, y = mpps(t, a, n), mpps(t, b, n)
        if not num(x) or not num(y) or not y:
            return "-"
        return f"{x / y:.2f}" + ("" if x / y >= goal else " (**not met**)")

    traffics = [t for t in TRAFFIC_NAMES if any(k[0] == t for k in by)]
    base = any(k[1] == "xnsg_base" for k in by)
    md += ["### Goal 1: xnsg on the real path, each traffic", "",
           "Ratios of packet rates measured in the same repetition block. Goal: xnsg at least 0.9x the "
           "empty program of its hook (XDP_DROP for XDP, the TC drop program for TC ingress) at every N, "
           "for both policies and IPv6; at least 1.0x nftables' interval set and xdp-filter (IPv4). "
           "*flow logs on*: an exporter (`xnsg flowlog --jsonl`, the default 60 s sweep) runs, so every "
           "denied packet also meets the deny-logging path.", ""]
    for t in traffics:
        counts = sorted({k[2] for k in by if k[0] == t and num(k[2])})
        md += [f"*{TRAFFIC_NAMES[t]}*", "",
               "| rules | xnsg XDP / empty XDP | xnsg XDP, flow logs on / empty XDP | xnsg TC / empty TC |"
               + (" xnsg XDP / nft set | xnsg XDP / xdp-filter |" if t == "v4" else "")
               + (" baseline xnsg XDP / empty XDP |" if base else ""),
               "| ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if t == "v4" else "") + (" ---: |" if base else "")]
        for n in counts:
            row = (f"| {n} | {cell(t, 'xnsg', 'xdp_drop', n, 0.9)} | {cell(t, 'xnsg_fl', 'xdp_drop', n, 0.9)} "
                   f"| {cell(t, 'xnsg_tc', 'tc_drop', n, 0.9)} |")
            if t == "v4":
                row += f" {cell(t, 'xnsg', 'nft_set', n, 1.0)} | {cell(t, 'xnsg', 'xdp_filter', n, 1.0)} |"
            if base:
                row += f" {cell(t, 'xnsg_base', 'xdp_drop', n, 0.9)} |"
            md.append(row)
        md.append("")
    others = sorted({(k[0], k[1], k[2]) for k in by if k[0] != "v4"})
    if others:
        md += ["Raw rates of the other traffic (Mpps, median; runs in results.json):", "",
               "| traffic | rules | filter | Mpps | runs |", "| --- | ---: | --- | ---: | --- |"]
        for t, f, n in others:
            r = by[(t, f, n)]
            runs = ", ".join(f"{x:.3f}" for x in r.get("runs", []))
            md.append(f"| {t} | {n} | {FILTER_NAMES.get(f, f)} | "
                      f"{'failed: ' + escape_cell(r['failed']) if r.get('failed') and not num(r.get('mpps')) else fmt(r.get('mpps'), '.3f')} "
                      f"| {runs} |")
        md.append("")


def escape_cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def control_section(control, ctmem, md):
    md += ["## 4. Control plane", "",
           "Two NSGs (subnet and NIC level) of N inbound rules each on r0; the 100,000-prefix case adds a "
           "service tag of that many /24s, read from a Service Tags file shaped like Azure's "
           "(`ServiceTags_Public.json`), in the subnet NSG's last rule. *check*: `xnsg check`; "
           "*apply*: first `xnsg apply` on a detached interface (compile, load and verify the BPF "
           "program, write the tables, attach); *update*: `xnsg apply` of a changed version of the same "
           "policy (every missing rule's port moved by one, so every table is rewritten into the idle "
           "generation and switched atomically) while the generator sends at full rate through the "
           "interface. Wall-clock seconds, median of the runs listed. *map memory*: the kernel's "
           "accounting (bytes_memlock) of every map pinned after apply: both generations, the flow "
           "table (1,048,576 flows) and the counters.", "",
           "| rules per NSG | tag prefixes | check s | apply s | update s (under traffic) | map memory MiB "
           "| frames during updates | non-rule drops during updates | runs (check / apply / update) |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in control:
        if r.get("failed") and not num(r.get("apply_s")):
            md.append(f"| {r.get('rules')} | {r.get('prefixes')} | failed: {escape_cell(r['failed'])} | | | | | | |")
            continue
        runs = " / ".join(", ".join(f"{x:.3f}" for x in r.get(k, [])) for k in ("check_runs", "apply_runs", "update_runs"))
        mb = r.get("map_bytes")
        md.append(f"| {r.get('rules')} | {r.get('prefixes')} | {fmt(r.get('check_s'), '.3f')} | {fmt(r.get('apply_s'), '.3f')} "
                  f"| {fmt(r.get('update_s'), '.3f')} | {fmt(mb / 2**20 if num(mb) else None)} "
                  f"| {fmt(r.get('update_traffic_pkts'), ',.0f')} | {fmt(r.get('update_other_drops'), ',.0f')} | {runs}"
                  + (f" (failed: {escape_cell(r['failed'])})" if r.get("failed") else "") + " |")
    md.append("")
    big = next((r for r in reversed(control) if isinstance(r.get("maps"), dict) and r["maps"]), None)
    if big:
        md += [f"Map memory after applying {big.get('rules')} rules x 2 NSGs"
               f"{' + ' + format(big.get('prefixes'), ',') + ' tag prefixes' if big.get('prefixes') else ''} (bytes_memlock):", "",
               "| map | MiB |", "| --- | ---: |"]
        for k, v in sorted(big["maps"].items(), key=lambda kv: -kv[1] if num(kv[1]) else 0):
            if num(v) and v > 0:
                md.append(f"| {k} | {v / 2**20:.2f} |")
        md.append("")
    for r in ctmem:
        if r.get("failed") or not isinstance(r.get("data"), dict):
            md += ["### Flow table memory", "", f"failed: {r.get('failed', 'no data')}", ""]
            continue
        d = r["data"]
        n = d.get("entries")
        ml = d.get("memlock_bytes")
        md += ["### Flow table memory per 1M flows", "",
               f"A map created like the datapath's flow table (LRU hash, key {d.get('key_bytes')} B, value "
               f"{d.get('value_bytes')} B, {n:,} entries; LRU maps are always preallocated, so this is "
               "what the table costs whether it is full or empty):", "",
               "| measure | bytes | per flow |", "| --- | ---: | ---: |",
               f"| key + value | {(d['key_bytes'] + d['value_bytes']) * n:,} | {d['key_bytes'] + d['value_bytes']} |",
               f"| kernel accounting (fdinfo memlock = bpftool bytes_memlock) | {ml:,} | {ml / n:.1f} |",
               f"| growth of VmallocUsed while the map exists (cross-check) | {d.get('vmalloc_delta_bytes'):,} "
               f"| {d.get('vmalloc_delta_bytes') / n:.1f} |", "",
               f"So 1M tracked flows cost {ml / 2**20:.0f} MiB: per flow {d['key_bytes'] + d['value_bytes']} B of key "
               f"and value plus {ml / n - d['key_bytes'] - d['value_bytes']:.0f} B of hash-table element "
               "header, bucket and LRU list. `--max-flows N` scales it linearly.", ""]
        tables = d.get("tables") or []
        if tables:
            md += ["Each table (`xnsg-bench ctmem`; the IPv4 table is the one above):", "",
                   "| table | key B | value B | entries | bytes |", "| --- | ---: | ---: | ---: | ---: |"]
            for t in tables:
                per = (f"{t['bytes_per_flow']:.1f} a flow" if num(t.get("bytes_per_flow"))
                       else f"{t.get('bytes_per_stored_flow', 0):.1f} a stored flow, "
                            f"{t.get('empty_memlock_bytes', 0) / 2**20:.0f} MiB empty")
                md.append(f"| {t.get('name')} | {t.get('key_bytes')} | {t.get('value_bytes')} | "
                          f"{t.get('entries', 0):,} | {per} |")
            md.append("")


def ms(v):
    return fmt(v * 1e3 if num(v) else None, ".1f")


def flowlog_section(rows, md):
    """xnsg-bench flowlog (bench/flowlog.c): the datapath's cost of logging
    a new flow, the exporter's records/s to each output, its sweep CPU."""
    md += ["## Flow logs", "",
           "`xnsg-bench flowlog` on a private datapath instance (a policy allowing everything, "
           "UDP flows from distinct sources). *New flow*: BPF_PROG_TEST_RUN once per distinct flow, "
           "passes with logging off and on interleaved, medians; *established*: one tracked flow's "
           "packet, repeated. *Drain*: N flows' begin events put in the ring buffer, then the CPU "
           "time (one core: the exporter's thread, its syscalls included) to write them all; "
           "*concurrently*: N more flows made on CPU 0 while the exporter's own epoll loop runs on "
           "CPU 1. *Sweep*: the exporter's CPU for one walk of 100,000 flows. *Denied packet*: "
           "a policy denying the flows' port instead.", ""]
    for r in rows:
        if r.get("failed"):
            md += [f"failed: {r['failed']}", ""]
    nf = next((r for r in rows if r.get("case") == "flowlog-new-flow"), None)
    if nf:
        md += ["| per packet (BPF_PROG_TEST_RUN) | logging off | logging on | cost of logging |",
               "| --- | ---: | ---: | ---: |",
               f"| new flow (flow created, B event) | {fmt(nf.get('off_ns'))} ns | {fmt(nf.get('on_ns'))} ns "
               f"| **{fmt(nf.get('cost_ns'))} ns** |",
               f"| established flow | {fmt(nf.get('established_off_ns'), '.2f')} ns | "
               f"{fmt(nf.get('established_on_ns'), '.2f')} ns | "
               f"{fmt(num(nf.get('established_on_ns')) and nf['established_on_ns'] - nf['established_off_ns'], '.2f')} ns |",
               "", f"({nf.get('flows')} distinct flows a pass, {nf.get('passes')} passes each way; "
               f"{nf.get('events')} begin events written.)", ""]
    dn = next((r for r in rows if r.get("case") == "flowlog-deny"), None)
    if dn:
        md += ["| per packet (BPF_PROG_TEST_RUN) | logging off | logging on | cost of logging |",
               "| --- | ---: | ---: | ---: |",
               f"| denied packet (its tuple's entry counted) | {fmt(dn.get('off_ns'))} ns | "
               f"{fmt(dn.get('on_ns'))} ns | **{fmt(dn.get('cost_ns'))} ns** |",
               "", f"({dn.get('tuples')} IPv4 tuples of {dn.get('repeat')} packets a pass, off and on "
               f"interleaved, {dn.get('passes')} passes, medians.)", ""]
    dr = [r for r in rows if r.get("case") == "flowlog-drain"]
    if dr:
        md += ["| output | records | exporter CPU | records/s (one core) | ring buffer | used at most | "
               "lost | concurrently: flows/s made, exporter CPU, lost |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for r in dr:
            md.append(f"| {r.get('output')} | {r.get('records'):,} | {fmt(r.get('cpu_s'), '.3f')} s | "
                      f"**{r.get('records_per_s'):,.0f}** | {r.get('ring_bytes', 0) / 2**20:.0f} MiB | "
                      f"{r.get('ring_used_bytes', 0) / 2**20:.1f} MiB | {r.get('ring_lost')} | "
                      f"{r.get('concurrent_flows_per_s'):,.0f} flows/s, "
                      f"{fmt(r.get('concurrent_exporter_cpu_s'), '.3f')} s, {r.get('ring_lost')} lost |")
        md.append("")
    sw = next((r for r in rows if r.get("case") == "flowlog-sweep"), None)
    if sw:
        md += ["| sweep of 100,000 flows | exporter CPU | records |", "| --- | ---: | ---: |",
               f"| first sweep: every flow adopted (B, and C for its first packet) | {fmt(sw.get('adopt_ms'))} ms "
               f"| {sw.get('adopt_records'):,} |",
               f"| nothing changed (walk only) | {fmt(sw.get('idle_ms'))} ms | {sw.get('idle_records'):,} |",
               f"| every flow's counts moved (a C each, exported positions committed) | "
               f"{fmt(sw.get('cont_ms'))} ms | {sw.get('cont_records'):,} |", ""]


def merge_runs(rows):
    """One row per measured point: the median of its runs (bench/run.sh runs
    xnsg-bench classify more than once when a baseline is measured beside)."""
    skip = {"ns", "mean_ns", "classified_per_pkt", "run", "build"}
    groups = {}
    for r in rows:
        key = tuple(sorted((k, json.dumps(v)) for k, v in r.items() if k not in skip))
        groups.setdefault(key, []).append(r)
    out = []
    for g in groups.values():
        m = dict(g[0])
        for k in ("ns", "mean_ns", "classified_per_pkt"):
            v = [r[k] for r in g if num(r.get(k))]
            if v:
                m[k] = statistics.median(v)
        m["runs_ns"] = [r.get("ns") for r in g]
        out.append(m)
    return out


def by_build(rows, build):
    return [r for r in rows if (r.get("build") or "this") == build]


def goal2_figures(classify):
    """Issue 13's goal 2 figures of one build's merged classify rows."""
    rep = [r for r in classify if r.get("method") != "single" and not r.get("failed") and num(r.get("ns"))]

    def get(case, **kw):
        return next((r["ns"] for r in rep if r.get("case") == case
                     and all(r.get(k) == v for k, v in kw.items())), None)

    empty = get("empty-xdp")
    f = {"empty": empty}
    for n in (1, 4000):
        f[f"est{n}"] = get("established", rules=n)
        f[f"new{n}"] = get("new-flow-last-rule", rules=n)
        f[f"rnd{n}"] = get("new-flow-random", rules=n)
        f[f"deep{n}"] = get("new-flow-random-deep", rules=n)
    for fam in ("ipv4", "ipv6"):
        for n in (1, 4000):
            f[f"{fam}_{n}"] = get("new-flow-prefixes", family=fam, prefixes=n)
    return f


def goal2_section(this, base, md):
    t, b = goal2_figures(this), goal2_figures(base) if base else None

    def minus(f, k):
        return f[k] - f["empty"] if f and num(f.get(k)) and num(f.get("empty")) else None

    def div(f, a, c):
        return f[a] / f[c] if f and num(f.get(a)) and num(f.get(c)) and f[c] else None

    rows = [("empty XDP program, ns", "-", lambda f: f and f.get("empty"), ".1f", None),
            ("established flow, 1 rule: ns over the empty program", "<= 40", lambda f: minus(f, "est1"), ".1f", 40),
            ("established flow, 4,000 rules: ns over the empty program", "<= 40", lambda f: minus(f, "est4000"), ".1f", 40),
            ("new flow, both levels, last rule, 1 rule: ns over empty", "<= 60", lambda f: minus(f, "new1"), ".1f", 60),
            ("new flow, both levels, last rule, 4,000 rules: ns over empty", "<= 60", lambda f: minus(f, "new4000"), ".1f", 60),
            ("random rules, 4,000 / 1", "<= 1.20", lambda f: div(f, "rnd4000", "rnd1"), ".2f", 1.2),
            ("random rules, deep prefixes, 4,000 / 1", "<= 1.20", lambda f: div(f, "deep4000", "deep1"), ".2f", 1.2),
            ("IPv6 addresses, 4,000 / 1 random prefixes", "bounded like IPv4", lambda f: div(f, "ipv6_4000", "ipv6_1"), ".2f", None),
            ("IPv4 addresses, 4,000 / 1 random prefixes", "-", lambda f: div(f, "ipv4_4000", "ipv4_1"), ".2f", None)]
    md += ["### Goal 2: BPF_PROG_TEST_RUN, before and after", "",
           "From section 1's and 2's runs" + (": this build's `xnsg-bench classify` and the baseline build's "
           "(`BENCH_BASELINE`), run in turn (this, baseline; three times in a full run), the median of each build's runs"
           if base else "") + ". *ns over the empty program*: the figure minus the empty XDP program's of the "
           "same build's runs. A figure the baseline's harness does not measure is a dash.", "",
           "| goal | target | " + ("baseline | " if base else "") + "this build | |",
           "| --- | ---: | " + ("---: | " if base else "") + "---: | --- |"]
    for label, target, fn, spec, lim in rows:
        a = fn(t)
        ok = "-" if lim is None or not num(a) else ("met" if a <= lim else "**not met**")
        md.append(f"| {label} | {target} | " + (f"{fmt(fn(b), spec)} | " if base else "") + f"{fmt(a, spec)} | {ok} |")
    md.append("")


def goal4_section(ctmem, md):
    """Issue 13's goal 4: bytes per flow of each build's flow table."""
    def per_flow(build, family):
        r = next((r for r in ctmem if (r.get("build") or "this") == build and isinstance(r.get("data"), dict)), None)
        if not r:
            return None
        d = r["data"]
        for tb in d.get("tables") or []:
            if family in str(tb.get("name")) and num(tb.get("bytes_per_flow")):
                return tb["bytes_per_flow"]
        # one table for both families (the older layout)
        if num(d.get("memlock_bytes")) and d.get("entries"):
            return d["memlock_bytes"] / d["entries"]
        return None
    base = any(r.get("build") == "baseline" for r in ctmem)
    md += ["### Goal 4: flow table bytes per flow (kernel memory accounting)", "",
           "| flow | target | " + ("baseline | " if base else "") + "this build | |",
           "| --- | ---: | " + ("---: | " if base else "") + "---: | --- |"]
    for fam, label, lim in (("ct4", "IPv4 flow, B", 128), ("ct6", "IPv6 flow, B", 160)):
        a = per_flow("this", fam)
        ok = "-" if not num(a) else ("met" if a <= lim else "**not met**")
        md.append(f"| {label} | <= {lim} | " + (f"{fmt(per_flow('baseline', fam), '.1f')} | " if base else "")
                  + f"{fmt(a, '.1f')} | {ok} |")
    md.append("")


def goal_row(md, goal, target, before, after, ok):
    met = "-" if ok is None else ("met" if ok else "**not met**")
    md.append(f"| {goal} | {target} | {before} | {after} | {met} |")


def goals_section(goals, md):
    """The control-plane goals of bench/run.sh's goals(): this build, and the
    baseline build (BENCH_BASELINE) when one was measured beside it."""
    load = [r for r in goals if r.get("case") == "load"]
    big = next((r for r in goals if r.get("case") == "big"), {})
    ifs = next((r for r in goals if r.get("case") == "ifaces"), {})
    base = any(num(r.get("apply_baseline_s")) for r in goals)
    md += ["## 5. Control plane against the peers, and the control-plane goals", "",
           "Each xnsg measured here (this build" + (", and a baseline build of an earlier commit "
           "(`BENCH_BASELINE`) beside it, in turn within every repetition, each with its own pin "
           "directory" if base else "") + ") and each peer loads rules from nothing: the side-by-side "
           "rules of section 3 (one NSG of N rules, the last drops the frames; the peers' files are "
           "section 3's). *nft -f*: the interval set, and the linear chain; *iptables-restore*: the "
           "raw table; *xnsg apply*: first apply on a detached interface (the maps created, the programs "
           "loaded and verified, tables written, hooks attached); *xnsg update*: apply of the changed "
           "policy (every missing rule's port moved by one) over the live one. Wall-clock milliseconds "
           "of the command run in the receiver's namespace (`ip netns exec` included, alike for all), "
           "median of the runs; *x nft set*: ratio to `nft -f` of the interval set in the same run.", "",
           "| rules | nft -f set ms | nft -f linear ms | iptables-restore ms | xnsg apply ms | x nft set "
           "| xnsg update ms | x nft set |" + (" baseline apply ms | baseline update ms |" if base else ""),
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if base else "")]
    for r in load:
        row = (f"| {r.get('rules')} | {ms(r.get('nftset_s'))} | {ms(r.get('nftlin_s'))} | {ms(r.get('ipt_s'))} "
               f"| {ms(r.get('apply_this_s'))} | {ratio(r.get('apply_this_s'), r.get('nftset_s'))} "
               f"| {ms(r.get('update_this_s'))} | {ratio(r.get('update_this_s'), r.get('nftset_s'))} |")
        if base:
            row += f" {ms(r.get('apply_baseline_s'))} | {ms(r.get('update_baseline_s'))} |"
        md.append(row)
    md += ["", f"*2 x 4,000 + tag*: two NSGs (subnet, NIC) of 4,000 rules with a {fmt(big.get('prefixes'), ',.0f')}-prefix "
           "service tag (section 4's largest case): first apply, then three updates (alternating versions) while "
           "the generator sends through the interface (drops other than by a rule during them: "
           f"{', '.join(fmt(x, ',.0f') for x in big.get('other_drops', [])) or '-'}). "
           f"*{fmt(ifs.get('ifaces'), '.0f')} interfaces*: veth pairs under one policy of two NSGs of 100 rules: "
           "apply to all from nothing; re-apply (every interface named); add one interface (`apply -i` of the "
           "policy naming it, over the policy without it); `detach --all`.", "",
           "| goal | target | " + ("baseline | " if base else "before | ") + "this build | |",
           "| --- | ---: | ---: | ---: | --- |"]
    for r in load:
        n = r.get("rules")
        for k in ("apply", "update"):
            a, b, nft = r.get(f"{k}_this_s"), r.get(f"{k}_baseline_s"), r.get("nftset_s")
            goal_row(md, f"{k} of {n} rules, x nft -f (set)", "<= 1.00",
                     ratio(b, nft), ratio(a, nft), a / nft <= 1.0 if num(a) and num(nft) and nft else None)
    for k, what in (("apply", "apply of 2 x 4,000 rules + tag"), ("update", "update of it under traffic")):
        a, b = big.get(f"{k}_this_s"), big.get(f"{k}_baseline_s")
        goal_row(md, what + ", ms", "<= 250", ms(b), ms(a), a <= 0.25 if num(a) else None)
    n = fmt(ifs.get("ifaces"), ".0f")
    for k, what, lim in (("apply", f"apply to {n} interfaces, ms", 1.0), ("addone", "add one interface, ms", 0.05),
                         ("reapply", f"re-apply to {n} interfaces, ms", None), ("detach", f"detach {n} interfaces, ms", None)):
        a, b = ifs.get(f"{k}_this_s"), ifs.get(f"{k}_baseline_s")
        goal_row(md, what, f"<= {lim * 1e3:.0f}" if lim else "-", ms(b), ms(a),
                 a <= lim if lim and num(a) else None)
    md.append("")


def main():
    src, outdir, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    rows = load_rows(src)
    classify_all = [r for r in rows if r.get("kind") == "classify"]
    classify = merge_runs(by_build(classify_all, "this"))
    classify_base = merge_runs(by_build(classify_all, "baseline"))
    pps = [r for r in rows if r.get("kind") == "pps"]
    control = [r for r in rows if r.get("kind") == "control"]
    ctmem_all = [r for r in rows if r.get("kind") == "ctmem"]
    ctmem = by_build(ctmem_all, "this")
    goals = [r for r in rows if r.get("kind") == "goal" and not r.get("failed")]
    timing = next((r for r in rows if r.get("kind") == "timing"), {})
    failures = [r for r in rows if r.get("failed")]
    machine = {
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "timing": timing,
        "reproduce": ["make bench", "make bench-quick",
                      "make BUILD=build-bench build-bench/xnsg build-bench/xnsg-bench && "
                      "bench/run.sh build-bench [--quick]"],
    }
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"machine": machine, "results": rows}, f, indent=1)
        f.write("\n")

    md = [f"# xnsg benchmark results ({machine['date']})", "",
          f"Machine: Linux {machine['kernel']}, {machine['cpu']}, {machine['cores']} cores "
          "(a shared virtual machine: other work may run beside the benchmark)."
          f"{' **bench-quick**: fewer points and repetitions.' if quick else ''}", "",
          f"Run time: {fmt(timing.get('total_s'), '.0f')} s in all (classifier {fmt(timing.get('classify_s'), '.0f')} s, "
          f"packets {fmt(timing.get('pps_s'), '.0f')} s, control plane {fmt(timing.get('control_s'), '.0f')} s).", "",
          "Reproduce (root, Debian 12; `make deps` installs nftables, iptables, xdp-tools, bpftool):", "",
          "```",
          "make bench          # full run, about 30 minutes: bench/run.sh build",
          "make bench-quick    # under 3 minutes: bench/run.sh build --quick",
          "# or into another build directory:",
          "make BUILD=build-bench build-bench/xnsg build-bench/xnsg-bench && bench/run.sh build-bench [--quick]",
          "```", "",
          "Every figure is a median of repetitions taken in this one run; ratios compare figures of the "
          "same run only, because the machine is shared and noisy. Raw numbers: `results.json` "
          "(every run of every point).", ""]
    if failures:
        md += ["## Failed steps", "", "| step | what failed |", "| --- | --- |"]
        for r in failures:
            step = " ".join(str(r.get(k)) for k in ("kind", "filter", "case", "rules") if r.get(k) is not None)
            md.append(f"| {escape_cell(step)} | {escape_cell(r['failed'])} |")
        md.append("")

    if classify:
        classifier_section(classify, md)
        goal2_section(classify, classify_base, md)
    if pps:
        v4 = [r for r in pps if (r.get("traffic") or "v4") == "v4"]
        pps_section(v4, md, timing.get("max_wait", 0.02))
        goal1_section(pps, md)
    if control or ctmem:
        control_section(control, ctmem, md)
    if ctmem:
        goal4_section(ctmem_all, md)
    if goals:
        goals_section(goals, md)
    flowlog = [r for r in rows if r.get("kind") == "flowlog"]
    if flowlog:
        flowlog_section(flowlog, md)

    os.makedirs(os.path.join(outdir, "plots"), exist_ok=True)
    plots = []
    rep = [r for r in classify if r.get("method") != "single" and num(r.get("ns")) and num(r.get("rules"))]
    names = {"new-flow-last-rule": "new flow, last rule (XDP)", "new-flow-random": "new flow, random (XDP)",
             "new-flow-random-deep": "new flow, random, deep prefixes (XDP)",
             "new-flow-last-rule-tc": "new flow, last rule (TC)", "established": "established flow (XDP)"}
    series = {}
    for r in rep:
        series.setdefault(names.get(r["case"], r["case"]), []).append((r["rules"], r["ns"]))
    xs = sorted({r["rules"] for r in rep if r["case"].startswith("new-flow")})
    for case, label in (("empty-xdp", "empty XDP program"), ("empty-tc", "empty TC program")):
        v = next((r["ns"] for r in classify if r.get("case") == case and r.get("method") != "single"
                  and num(r.get("ns"))), None)
        if v:
            series[label] = [(x, v) for x in xs]
    if svg_plot(os.path.join(outdir, "plots", "classifier-ns.svg"),
                "xnsg classifier cost (BPF_PROG_TEST_RUN)", "rules per NSG direction (both levels)",
                "ns per packet", series):
        plots.append("plots/classifier-ns.svg")
    series, nsseries = {}, {}
    counts = sorted({r["rules"] for r in pps if num(r.get("rules"))})
    for f in FILTER_ORDER:
        pts = [(r["rules"], r["mpps"]) for r in pps if r.get("filter") == f and (r.get("traffic") or "v4") == "v4" and num(r.get("mpps"))]
        if pts:
            series[FILTER_NAMES[f]] = pts
            nsseries[FILTER_NAMES[f]] = [(x, 1e3 / y) for x, y in pts if y]
    if svg_plot(os.path.join(outdir, "plots", "filters-mpps.svg"), "packet rate by filter (veth, one CPU)",
                "rules (all miss but the last)", "Mpps", series):
        plots.append("plots/filters-mpps.svg")
    if svg_plot(os.path.join(outdir, "plots", "filters-ns.svg"), "total cost per packet by filter (veth, one CPU)",
                "rules (all miss but the last)", "ns per packet (1 / rate, log scale)", nsseries, logy=True):
        plots.append("plots/filters-ns.svg")
    series = {}
    for key, label in (("check_s", "check"), ("apply_s", "apply (first)"), ("update_s", "update under traffic")):
        pts = [(r["rules"], r[key]) for r in control if not r.get("prefixes") and num(r.get(key))]
        if pts:
            series[label] = pts
    if svg_plot(os.path.join(outdir, "plots", "control-plane-s.svg"), "xnsg control plane (2 NSGs of N rules)",
                "rules per NSG", "seconds", series):
        plots.append("plots/control-plane-s.svg")
    md += ["## Plots", ""] + [f"- `{p}`" for p in plots] + [""]
    _ = counts
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
