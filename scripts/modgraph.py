#!/usr/bin/env python3
"""Module graph of a Rust crate's src/: which module imports which, and any cycles.

Usage: scripts/modgraph.py [crates/proxy/src]   (exit status 1 when there is a cycle)

Each file is a module (`a/mod.rs` is `a`). An edge m -> n is a `use crate::n...`,
`use super::...`, `use self::...` or an inline `crate::n::`/`super::n::` path in m's
non-test code (the `#[cfg(test)] mod tests` block is left out), resolved to the longest
known module prefix. Edges from a module to its own ancestors count: a child reaching back
into its parent is as much an upward import as any other.
"""
import os
import re
import sys


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            key = "::".join(rel) or ("crate" if f == "lib.rs" else "main")
            if f == "main.rs" and root == src:
                continue  # the binary is its own crate
            mods[key] = os.path.join(root, f)
    return mods


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    i = tree.find("{")
    if i < 0:
        return [tree.split(" as ")[0]]
    prefix, depth, parts, cur = tree[:i], 0, [], ""
    for ch in tree[i + 1 : tree.rfind("}")]:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in filter(None, parts):
        for e in expand(p):
            out.append(prefix + e if e != "self" else prefix.rstrip(":"))
    return out


def strip_tests(text):
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*\{", text)
    return text[: m.start()] if m else text


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def resolve(path, here, mods):
    parts = path.split("::")
    base = here.split("::") if here != "crate" else []
    if parts[0] == "crate":
        base, parts = [], parts[1:]
    elif parts[0] in ("super", "self"):
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
    else:
        return None
    full = base + parts
    for n in range(len(full), -1, -1):
        key = "::".join(full[:n]) or "crate"
        if key in mods:
            return key
    return None


def graph(src):
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        text = strip_comments(strip_tests(open(path).read()))
        paths = []
        for u in re.finditer(r"\buse\s+([^;]+);", text):
            paths += expand(u.group(1))
        paths += re.findall(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text)
        # A child module named by a relative path (`forward::forward(..)` in pipeline/mod.rs).
        for child in re.findall(r"\bmod\s+(\w+)\s*;", text):
            if re.search(r"(?<![\w:])" + child + r"::", text):
                paths.append("self::" + child)
        for p in paths:
            n = resolve(p, m, mods)
            if n and n != m:
                edges[m].add(n)
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
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

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "crates/proxy/src"
    edges = graph(src)
    for m in sorted(edges):
        print(f"{m} -> {', '.join(sorted(edges[m])) or '(nothing)'}")
    found = cycles(edges)
    if not found:
        print(f"\n{len(edges)} modules, no cycle")
        return 0
    print(f"\n{len(found)} cycle(s):")
    for c in found:
        print(f"  {len(c)} modules: {', '.join(c)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
