"""Import cycles among sciptm's modules (every import, deferred ones included; ``TYPE_CHECKING`` ones left out),
as strongly connected components of grimp's import graph. Usage: ``python benchmarks/architecture/cycles.py``."""
from __future__ import annotations

import sys

import grimp


def main() -> int:
    graph = grimp.build_graph("sciptm", exclude_type_checking_imports=True)
    for package in [m for m in graph.modules if graph.find_children(m)]:  # a package re-exporting its own
        for sub in graph.find_modules_directly_imported_by(package):       # submodules is not a cycle
            if sub.startswith(package + "."):
                graph.remove_import(importer=package, imported=sub)
    mods = sorted(graph.modules)
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    for m in mods:
        if m not in index:
            visit(m)
    real = out
    print(f"{len(graph.modules)} modules; {len(real)} import cycle(s)")
    for comp in real:
        print("  " + " <-> ".join(comp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
