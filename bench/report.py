#!/usr/bin/env python3
"""Turn bench/run.sh's JSON lines into results.json, RESULTS.md and SVG plots.

    report.py RESULTS.jsonl OUTDIR QUICK

Ratios are computed only between figures of the same run.
"""
import datetime
import json
import os
import platform
import subprocess
import sys

FILTER_NAMES = {
    "none": "no filter",
    "iptables": "iptables (raw, linear)",
    "nft_linear": "nftables netdev ingress, linear",
    "nft_set": "nftables concatenated interval set",
    "xdp_filter": "xdp-filter (sets; at most 1000 addresses)",
    "xdp_drop": "empty XDP_DROP program",
    "xnsg": "xnsg (one NSG)",
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def svg_plot(path, title, xlabel, ylabel, series):
    """series: {name: [(x, y), ...]}; x on a log scale."""
    import math

    w, h, ml, mr, mt, mb = 720, 420, 70, 230, 40, 50
    pts = [p for s in series.values() for p in s]
    if not pts:
        return
    xs = [math.log10(max(x, 1)) for x, _ in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y1 = max(y for _, y in pts) * 1.1 or 1

    def sx(x):
        return ml + (math.log10(max(x, 1)) - x0) / (x1 - x0) * (w - ml - mr)

    def sy(y):
        return h - mb - y / y1 * (h - mt - mb)

    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2 - mr / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}" stroke="black"/>',
           f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}" stroke="black"/>',
           f'<text x="{(ml + w - mr) / 2}" y="{h - 12}" text-anchor="middle">{xlabel}</text>',
           f'<text x="16" y="{(h - mb + mt) / 2}" transform="rotate(-90 16 {(h - mb + mt) / 2})" text-anchor="middle">{ylabel}</text>']
    for k in range(6):
        y = y1 * k / 5
        out.append(f'<text x="{ml - 6}" y="{sy(y) + 4}" text-anchor="end">{y:.3g}</text>')
        out.append(f'<line x1="{ml}" y1="{sy(y)}" x2="{w - mr}" y2="{sy(y)}" stroke="#ddd"/>')
    for x in sorted({x for x, _ in pts}):
        out.append(f'<text x="{sx(x)}" y="{h - mb + 16}" text-anchor="middle">{x}</text>')
    for i, (name, s) in enumerate(series.items()):
        c = colors[i % len(colors)]
        s = sorted(s)
        if len(s) > 1:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{d}"/>')
        for x, y in s:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"/>')
        ly = mt + 16 * i + 10
        out.append(f'<rect x="{w - mr + 12}" y="{ly - 9}" width="12" height="10" fill="{c}"/>')
        out.append(f'<text x="{w - mr + 30}" y="{ly}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    src, outdir, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    rows = [json.loads(line) for line in open(src) if line.strip()]
    classify = [r for r in rows if r["kind"] == "classify"]
    pps = [r for r in rows if r["kind"] == "pps"]
    control = [r for r in rows if r["kind"] == "control"]
    machine = {
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "quick": quick,
    }
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"machine": machine, "results": rows}, f, indent=1)

    md = [f"# xnsg benchmark results ({machine['date']})", "",
          f"Machine: Linux {machine['kernel']}, {machine['cpu']}, {machine['cores']} cores"
          f"{' (bench-quick: fewer points and repetitions)' if quick else ''}.",
          "Reproduce: `make bench` (about 10 minutes) or `make bench-quick` (under 3). "
          "Each figure is the median of repetitions taken in this one run; ratios compare "
          "figures of the same run only, because the machine is shared and noisy.", ""]

    floor = next((r["ns"] for r in classify if r["case"] == "empty-xdp"), None)
    one = {r["case"]: r["ns"] for r in classify if r.get("rules") == 1}
    md += ["## Classifier cost (BPF_PROG_TEST_RUN, ns per packet)", "",
           "Both levels (subnet NSG and NIC NSG) hold N inbound rules each. *last rule*: the "
           "probe misses every rule but the last (the worst case of a linear scan); *random*: "
           "random overlapping prefixes, port ranges and protocols, 16 random packets. "
           "Flow tracking is off for these rows, so every run classifies; *established* is a "
           "packet of a tracked flow.", "",
           "| case | rules | ns/pkt | x empty XDP | x 1 rule |", "| --- | ---: | ---: | ---: | ---: |"]
    if floor:
        md.append(f"| empty XDP program | - | {floor:.1f} | 1.00 | - |")
    for r in classify:
        if r["case"] == "empty-xdp":
            continue
        base = one.get(r["case"])
        md.append(f"| {r['case']} | {r.get('rules', '-')} | {r['ns']:.1f} | "
                  f"{r['ns'] / floor:.2f} | {(r['ns'] / base) if base else float('nan'):.2f} |"
                  if floor else f"| {r['case']} | {r.get('rules')} | {r['ns']:.1f} | - | - |")
    md.append("")

    if pps:
        none = next((r["mpps"] for r in pps if r["filter"] == "none"), None)
        xnsg = {r["rules"]: r["mpps"] for r in pps if r["filter"] == "xnsg"}
        md += ["## Side by side on real packets (Mpps received)", "",
               "Two namespaces joined by a veth pair; a generator (AF_PACKET, sendmmsg, qdisc "
               "bypass, pinned to CPU 0) sends 64-byte UDP frames from 256 sources; each filter in "
               "turn holds N rules that miss and a last rule that drops the frames. The figure is "
               "frames the receiver took in per second.", "",
               "| filter | rules | Mpps | x no filter | xnsg / this |", "| --- | ---: | ---: | ---: | ---: |"]
        for r in pps:
            x = xnsg.get(r["rules"])
            md.append(f"| {FILTER_NAMES.get(r['filter'], r['filter'])} | {r['rules']} | {r['mpps']:.3f} | "
                      f"{(r['mpps'] / none) if none else float('nan'):.2f} | "
                      f"{(x / r['mpps']) if x and r['mpps'] else float('nan'):.2f} |")
        md.append("")
    if control:
        md += ["## Control plane", "",
               "Two NSGs of N rules each; the 100,000-prefix case adds a service tag of that many "
               "prefixes from a Service Tags file shaped like Azure's. *update*: re-applying while "
               "traffic flows (atomic generation switch). Memory: the kernel's accounting of every "
               "xnsg map (both generations and the flow table).", "",
               "| rules | tag prefixes | check s | apply s | update s | map memory MiB |",
               "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in control:
            md.append(f"| {r['rules']} | {r['prefixes']} | {r['check_s']:.3f} | {r['apply_s']:.3f} | "
                      f"{r['update_s']:.3f} | {r['map_bytes'] / 2**20:.1f} |")
        md.append("")

    os.makedirs(os.path.join(outdir, "plots"), exist_ok=True)
    series = {}
    for r in classify:
        if "rules" in r:
            series.setdefault(r["case"], []).append((r["rules"], r["ns"]))
    if floor:
        series["empty XDP"] = [(x, floor) for x in sorted({r["rules"] for r in classify if "rules" in r})]
    svg_plot(os.path.join(outdir, "plots", "classifier-ns.svg"), "xnsg classifier cost",
             "rules per NSG direction", "ns per packet", series)
    series = {}
    for r in pps:
        series.setdefault(FILTER_NAMES.get(r["filter"], r["filter"]), []).append((r["rules"], r["mpps"]))
    svg_plot(os.path.join(outdir, "plots", "filters-mpps.svg"), "received Mpps by filter",
             "rules", "Mpps", series)
    md += ["Plots: `plots/classifier-ns.svg`, `plots/filters-mpps.svg`.", ""]
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
