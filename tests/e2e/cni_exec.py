#!/usr/bin/python3
"""Run a CNI network configuration list as a container runtime does.

    cni_exec.py ADD|CHECK|DEL CONFLIST CONTAINERID NETNS IFNAME
        [--args 'K=V;K=V'] [--cap-args JSON] [--cache DIR]

What libcni does, in small: the plugins of the list run one after the
other (in reverse for DEL); each gets the list's name and cniVersion, a
runtimeConfig holding the capability arguments it declares in
"capabilities", and the previous plugin's result as prevResult (for CHECK
and DEL, the result ADD returned, kept in the cache directory).  The
environment is ours plus CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
CNI_IFNAME, CNI_ARGS and CNI_PATH (the directories of the plugins, from
$CNI_PATH).  The final result goes to stdout; a plugin's error JSON to
stderr, and the exit status is 1.
"""
import argparse
import json
import os
import subprocess
import sys


def find_plugin(name, path):
    for d in path.split(":"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    sys.exit(f"cni_exec: plugin {name!r} not found in CNI_PATH={path}")


def plugin_conf(conflist, plugin, cap_args, prev):
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist["cniVersion"]
    caps = {k: v for k, v in cap_args.items() if plugin.get("capabilities", {}).get(k)}
    if caps:
        conf["runtimeConfig"] = caps
    conf.pop("capabilities", None)
    if prev is not None:
        conf["prevResult"] = prev
    return conf


def run_plugin(command, conf, a, path):
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=a.container,
               CNI_NETNS=a.netns, CNI_IFNAME=a.ifname, CNI_ARGS=a.args, CNI_PATH=path)
    exe = find_plugin(conf["type"], path)
    p = subprocess.run([exe], input=json.dumps(conf).encode(), env=env,
                       stdout=subprocess.PIPE, timeout=120)
    out = p.stdout.decode()
    if p.returncode != 0:
        sys.stderr.write(f"cni_exec: {conf['type']} {command} failed: {out}\n")
        sys.exit(1)
    return json.loads(out) if out.strip() else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["ADD", "CHECK", "DEL"])
    ap.add_argument("conflist")
    ap.add_argument("container")
    ap.add_argument("netns")
    ap.add_argument("ifname")
    ap.add_argument("--args", default="")
    ap.add_argument("--cap-args", default="{}")
    ap.add_argument("--cache", default=os.environ.get("CNI_CACHE_DIR", "/var/lib/cni/results"))
    a = ap.parse_args()
    conflist = json.load(open(a.conflist))
    cap_args = json.loads(a.cap_args)
    path = os.environ.get("CNI_PATH", "/opt/cni/bin")
    cache = os.path.join(a.cache, f"{conflist['name']}-{a.container}-{a.ifname}")
    plugins = conflist["plugins"]

    if a.command == "ADD":
        result = None
        for pl in plugins:
            result = run_plugin("ADD", plugin_conf(conflist, pl, cap_args, result), a, path)
        os.makedirs(a.cache, exist_ok=True)
        with open(cache, "w") as f:
            json.dump(result, f)
        print(json.dumps(result))
        return
    cached = json.load(open(cache)) if os.path.exists(cache) else None
    if a.command == "CHECK":
        if conflist.get("disableCheck"):
            return
        for pl in plugins:
            run_plugin("CHECK", plugin_conf(conflist, pl, cap_args, cached), a, path)
        return
    for pl in reversed(plugins):
        run_plugin("DEL", plugin_conf(conflist, pl, cap_args, cached), a, path)
    if os.path.exists(cache):
        os.unlink(cache)


if __name__ == "__main__":
    main()
