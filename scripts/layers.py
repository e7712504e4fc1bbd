#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""The include graph between the project's folders, and its rules.

Prints one line per folder: the folders its files include. Exits 1 when the
graph has a cycle, when a folder includes one of a higher layer (LAYERS), or
when a file outside engine/core* includes engine/core_impl.hpp. Folders are
engine/<dir> (engine's own top-level files count as "engine/core"), fs and
mountd. ctest runs it ("layers: folder graph").

  scripts/layers.py [--dot] [ROOT]
"""
import os
import re
import sys

# Lowest first; a folder may include its own layer and those below. Each
# layer is one CMake target (engine/CMakeLists.txt), except that the two
# libraries of the second layer do not include each other.
LAYERS = [
    ("coffer_store", {"engine/common", "engine/storage", "engine/crypto", "engine/barrier", "engine/seal"}),
    ("coffer_policy, coffer_backends, coffer_ctmpl", {"engine/policy", "engine/backend", "engine/ctmpl"}),
    ("coffer_core", {"engine/namespace", "engine/router", "engine/authz", "engine/identity", "engine/token",
                     "engine/auth", "engine/login", "engine/audit", "engine/sys", "engine/core"}),
    ("coffer_fileview", {"engine/fileview"}),
    ("coffer_fs", {"fs"}),
    ("coffer_mountd", {"mountd"}),
]


def layer_of(folder):
    for i, (_, folders) in enumerate(LAYERS):
        if folder in folders:
            return i
    return None


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    parts = path.split("/")
    if parts[0] == "engine":
        return "engine/core" if len(parts) == 2 else "engine/" + parts[1]
    if parts[0] in ("fs", "mountd"):
        return parts[0]
    return None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dot = "--dot" in sys.argv
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    graph, problems = {}, []
    for top in ("engine", "fs", "mountd"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".cpp", ".hpp")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                src = folder_of(rel)
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    dst = folder_of(inc)
                    if dst is None:
                        continue
                    if inc == "engine/core_impl.hpp" and not os.path.basename(rel).startswith("core"):
                        problems.append(f"{rel} includes engine/core_impl.hpp (only engine/core* may)")
                    if dst != src:
                        graph.setdefault(src, set()).add(dst)
                graph.setdefault(src, set())

    # Cycles: strongly connected components with more than one folder.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    if dot:
        print("digraph layers {")
        for v in sorted(graph):
            for w in sorted(graph[v]):
                print(f'  "{v}" -> "{w}";')
        print("}")
    else:
        for v in sorted(graph):
            print(f"{v} -> {', '.join(sorted(graph[v])) or '(nothing)'}")
    for v in sorted(graph):
        for w in sorted(graph[v]):
            lv, lw = layer_of(v), layer_of(w)
            if lv is None or lw is None:
                problems.append(f"{v if lv is None else w} is in no layer (scripts/layers.py LAYERS)")
            elif lw > lv:
                problems.append(f"{v} ({LAYERS[lv][0]}) includes {w}, a higher layer ({LAYERS[lw][0]})")
    for comp in sccs:
        problems.append("cycle: " + " <-> ".join(comp))
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
