#!/usr/bin/env python3
"""Print every C function in the given files longer than LIMIT lines.

A function starts at a line that begins (column 0) with an identifier and
contains '(' and ends at the matching '}' in column 0.  Tables of data
(initialisers: '= {') are not functions.  Exit 1 if any is too long.
"""
import re
import sys

LIMIT = 80


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^[A-Za-z_].*\(", line) and not line.rstrip().endswith(";") \
                and "=" not in line.split("(")[0]:
            # find the opening brace at column 0
            j = i
            while j < len(lines) and lines[j] != "{":
                if lines[j].rstrip().endswith(";"):
                    break
                j += 1
            if j < len(lines) and lines[j] == "{":
                k = j + 1
                while k < len(lines) and lines[k] != "}":
                    k += 1
                name = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", line)
                yield (name.group(1) if name else "?", i + 1, k - i + 1)
                i = k
        i += 1


def main():
    bad = 0
    for path in sys.argv[1:]:
        for name, start, n in functions(path):
            if n > LIMIT:
                print("%s:%d: %s is %d lines (limit %d)" % (path, start, name, n, LIMIT))
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
