#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bounded traffic for the end-to-end tests: every mode stops by itself
(a datagram or byte count and a wall-clock limit), and talks only to the
addresses the test passes, which are the test's own namespaces.

  traffic.py udp-echo  BIND PORT [--delay S] [--timeout T]
        answer each datagram with the same bytes, after S seconds
  traffic.py udp-ask   HOST PORT [--size N] [--src ADDR] [--timeout T]
        send one datagram of N bytes; exit 0 when the same N bytes come back
  traffic.py udp-recv  BIND PORT --size N [--timeout T]
        exit 0 when a datagram of exactly N bytes arrives
  traffic.py udp-send  HOST PORT --size N [--src ADDR]
        send one datagram of N bytes (it fragments when N exceeds the MTU)
  traffic.py udp-spray HOST PORT --count N
        one datagram to each of ports PORT .. PORT+N-1 (N at most 5000): N flows
  traffic.py tcp-sink  BIND PORT --bytes N [--timeout T]
        accept one connection; exit 0 when N bytes have arrived
  traffic.py tcp-send  HOST PORT --bytes N [--timeout T]
        connect and send N bytes
"""
import argparse
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_socket(addr, port=0):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    if addr not in ("0.0.0.0", "::") or port:
        s.bind((addr, port))
    return s


def udp_echo(a):
    s = udp_socket(a.bind, a.port)
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        time.sleep(a.delay)
        s.sendto(data, peer)
    return 0


def udp_ask(a):
    s = udp_socket(a.src or ("::" if family(a.host) == socket.AF_INET6 else "0.0.0.0"))
    payload = bytes(i % 251 for i in range(a.size))
    s.settimeout(a.timeout)
    s.sendto(payload, (a.host, a.port))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        print(f"no reply from {a.host}:{a.port} within {a.timeout}s")
        return 1
    return 0 if data == payload else 1


def udp_recv(a):
    s = udp_socket(a.bind, a.port)
    s.settimeout(a.timeout)
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        print(f"nothing arrived on {a.bind}:{a.port} within {a.timeout}s")
        return 1
    print(f"{len(data)} bytes from {peer[0]}")
    return 0 if len(data) == a.size else 1


def udp_send(a):
    s = udp_socket(a.src or ("::" if family(a.host) == socket.AF_INET6 else "0.0.0.0"))
    s.sendto(bytes(a.size), (a.host, a.port))
    return 0


def udp_spray(a):
    s = udp_socket("::" if family(a.host) == socket.AF_INET6 else "0.0.0.0")
    for i in range(min(a.count, 5000)):
        s.sendto(b"x", (a.host, (a.port + i) % 65536))
    return 0


def tcp_sink(a):
    s = socket.socket(family(a.bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(1)
    s.settimeout(a.timeout)
    deadline = time.monotonic() + a.timeout
    got = 0
    try:
        c, _ = s.accept()
        while got < a.bytes and time.monotonic() < deadline:
            c.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = c.recv(65536)
            if not chunk:
                break
            got += len(chunk)
    except socket.timeout:
        pass
    print(f"received {got} of {a.bytes} bytes")
    return 0 if got >= a.bytes else 1


def tcp_send(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    deadline = time.monotonic() + a.timeout
    left = a.bytes
    block = bytes(65536)
    while left > 0 and time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        n = s.send(block[: min(left, len(block))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    return 0 if left == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["udp-echo", "udp-ask", "udp-recv", "udp-send",
                                    "udp-spray", "tcp-sink", "tcp-send"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--bytes", type=int, default=0)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--src")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    a.bind = a.host
    a.timeout = min(a.timeout, 60.0)  # never run unbounded
    modes = {"udp-echo": udp_echo, "udp-ask": udp_ask, "udp-recv": udp_recv,
             "udp-send": udp_send, "udp-spray": udp_spray, "tcp-sink": tcp_sink,
             "tcp-send": tcp_send}
    try:
        return modes[a.mode](a)
    except OSError as e:
        print(f"{a.mode}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
