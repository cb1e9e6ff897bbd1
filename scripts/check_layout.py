#!/usr/bin/env python3
"""The house rules on how src/ includes itself, checked for `make lint`.

1. The core never includes an extra: no file directly in src/ but main.c
   (the wiring, which plugs the extras in) includes a header of
   src/extras/.  Extras may include core headers.
2. No include cycles: a file x.c and its header x.h are one module (so is
   x_internal.h, a stage's private header); an edge runs from a module to
   every module whose header it includes.  A cycle means two modules each
   need the other, and a reader cannot read one first.

Usage: check_layout.py [SRC_DIR]   (default: src).  Prints each problem on
one line and exits 1, or prints a one-line summary and exits 0.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(name):
    stem = os.path.splitext(os.path.basename(name))[0]
    return stem[: -len("_internal")] if stem.endswith("_internal") else stem


def scan(src):
    """Map each source file (path relative to src) to the files it includes."""
    files = {}
    for sub in ("", "extras"):
        folder = os.path.join(src, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                rel = os.path.join(sub, name) if sub else name
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    files[rel] = INCLUDE.findall(f.read())
    return files


def resolve(including, target, files):
    """Which file of the tree an #include "target" names, or None (system)."""
    here = os.path.dirname(including)
    for candidate in (os.path.normpath(os.path.join(here, target)), target,
                      os.path.join("extras", target)):
        if candidate in files:
            return candidate
    return None


def find_cycle(graph):
    """One cycle of the module graph as a list of modules, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def check(src):
    files = scan(src)
    problems = []
    graph = {}
    for rel, includes in files.items():
        core = os.path.dirname(rel) == ""
        for target in includes:
            found = resolve(rel, target, files)
            if found is None:
                continue
            if core and rel != "main.c" and found.startswith("extras" + os.sep):
                problems.append("%s: the core includes the extra %s (plug it in from main.c)"
                                % (rel, found))
            a, b = module_of(rel), module_of(found)
            if a != b:
                graph.setdefault(a, set()).add(b)
    cycle = find_cycle(graph)
    if cycle:
        problems.append("include cycle: " + " -> ".join(cycle))
    return files, problems


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    files, problems = check(src)
    for p in problems:
        print(p)
    if problems:
        return 1
    core = sum(1 for f in files if os.path.dirname(f) == "")
    print("layout: %d core files and %d extras; no core file includes an extra; no include cycle"
          % (core, len(files) - core))
    return 0


if __name__ == "__main__":
    sys.exit(main())
