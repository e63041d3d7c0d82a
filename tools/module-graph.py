#!/usr/bin/env python3
"""Module graph of a Rust crate's src/ (top-level modules as nodes), from `use crate::…`,
`crate::X::…` paths, `super::`/`self::` paths and (in lib.rs) the root's own `X::` paths.

Comments, doc comments and string/char literals are stripped first, so doc links such as
[`x`](crate::y) do not count. Inline `mod name { … }` blocks (e.g. `mod tests`) are tracked so
`super::` resolves correctly. Submodules (extract/docx.rs …) fold into their top-level module;
edges inside one top-level module tree are not shown. The root (lib.rs) is the node `crate`.

With --ship, `#[cfg(test)]` modules are left out: the graph of the code that ships (a unit test
of a lower module may drive a higher one end to end). The exit status is 1 when the modules (root
left out) form a cycle; cycles through the root alone (lib.rs declaring a module that uses a type
lib.rs defines) are shown but do not fail.

usage: module-graph.py [--ship] CRATE_SRC_DIR
"""
import os
import re
import sys
from collections import defaultdict


def strip(src: str) -> str:
    """Replace comments and string/char literals by spaces (keeping newlines)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif re.match(r'(?:b?r)(#*)"', src[i:i + 300]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'(?:b?r)(#*)"', src[i:])
            end = '"' + m.group(1)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            if m:  # char literal; otherwise a lifetime
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def closing_brace(text: str, start: int) -> int:
    """Index of the `}` that closes the `{` at text[start] (len(text) when it is never closed)."""
    depth, j = 0, start
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return j


def without_test_modules(text: str) -> str:
    """Blanks `#[cfg(test)] mod name { … }` blocks (text already stripped of comments/strings)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)
        if not m:
            return text
        j = closing_brace(text, m.end() - 1)
        text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start() : j + 1]) + text[j + 1 :]


def module_of_file(src_dir: str, path: str):
    """Module path (list) of a file, e.g. extract/pdf/mod.rs -> ['extract', 'pdf']."""
    rel = os.path.relpath(path, src_dir)[:-3].split(os.sep)
    if rel == ["lib"] or rel == ["main"]:
        return []
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def group_items(text: str, start: int):
    """Top-level entries of a `{ … }` group starting at text[start] == '{'; returns (entries, end)."""
    depth, j, item, items = 0, start, [], []
    while j < len(text):
        ch = text[j]
        if ch == "{":
            depth += 1
            if depth == 1:
                j += 1
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items.append("".join(item))
                return [i.strip() for i in items if i.strip()], j
        elif ch == "," and depth == 1:
            items.append("".join(item))
            item = []
            j += 1
            continue
        item.append(ch)
        j += 1
    return [], j


PATH_RE = re.compile(r"(?<![\w:$])((?:crate|super|self)(?:\s*::\s*(?:super|self))*)\s*::\s*(\{|[A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)*(?:\s*::\s*\{)?)")


def references(text: str, here):
    """(absolute first segment, name) pairs referenced from a file whose module path is `here`."""
    # Track inline modules: positions -> module path.
    mod_spans = []  # (open_pos, close_pos, name)
    for m in re.finditer(r"\bmod\s+([A-Za-z_]\w*)\s*\{", text):
        j = closing_brace(text, m.end() - 1)
        mod_spans.append((m.end() - 1, j, m.group(1)))

    def module_at(pos):
        path = list(here)
        for open_pos, close_pos, name in sorted(mod_spans):
            if open_pos < pos < close_pos:
                path.append(name)
        return path

    refs = []
    for m in PATH_RE.finditer(text):
        prefix = re.sub(r"\s", "", m.group(1)).split("::")
        if prefix[0] == "crate":
            base = []
        else:
            base = module_at(m.start())
        for seg in prefix[1:] if prefix[0] == "crate" else prefix:
            if seg == "super":
                base = base[:-1]
            # self: stays
        nxt = re.sub(r"\s", "", m.group(2))
        if nxt.endswith("{"):
            head = [p for p in nxt[:-1].split("::") if p]
            names = ["::".join(head + [re.sub(r"\s", "", i)]) for i in group_items(text, m.end() - 1)[0]]
        else:
            names = [nxt]
        for name in names:
            parts = name.split("::")
            refs.append((base + [parts[0]], "::".join(parts[1:]) or parts[0]))
    return refs


def main():
    args = sys.argv[1:]
    ship = "--ship" in args
    src_dir = [a for a in args if a != "--ship"][0]
    files = []
    for root, _, names in os.walk(src_dir):
        files += [os.path.join(root, f) for f in names if f.endswith(".rs")]
    modules = {tuple(module_of_file(src_dir, f)) for f in files}
    top = sorted({m[0] for m in modules if m})
    # Inline or declared-only top-level modules still count if lib.rs declares them.
    lib = os.path.join(src_dir, "lib.rs")
    if not os.path.exists(lib):
        lib = os.path.join(src_dir, "main.rs")
    lib_text = strip(open(lib).read())
    top = sorted(set(top) | set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", lib_text, re.M)))

    edges = defaultdict(lambda: defaultdict(set))  # from -> to -> names
    for f in sorted(files):
        here = module_of_file(src_dir, f)
        node = here[0] if here else "crate"
        text = strip(open(f).read())
        if ship:
            text = without_test_modules(text)
        for path, name in references(text, here):
            target = path[0] if path and path[0] in top else "crate"
            if len(path) == 0:
                target = "crate"
            if target != node:
                edges[node][target].add(name if target != "crate" else path[0])
        if not here:
            # The root's own relative paths: `mod X;`, `use X::…`, `X::item`.
            for m in re.finditer(r"(?<![\w:])([a-z_]\w*)\s*::", text):
                if m.group(1) in top:
                    edges["crate"][m.group(1)].add("…")
            for m in re.finditer(r"\bmod\s+(\w+)\s*;", text):
                edges["crate"][m.group(1)].add("mod")

    nodes = ["crate"] + top
    print(f"== {src_dir}")
    for a in nodes:
        for b in sorted(edges[a]):
            shown = sorted(edges[a][b])
            if a == "crate":
                shown = ["(mod, pub use …)"]
            print(f"  {a:12} -> {b:12} {', '.join(shown)}")

    def simple_cycles(graph, allowed):
        """All elementary cycles, each reported once from its smallest node."""
        found = []
        for start in sorted(allowed):
            def dfs(v, path):
                for w in sorted(graph[v]):
                    if w not in allowed or w < start:
                        continue
                    if w == start:
                        found.append(path + [start])
                    elif w not in path:
                        dfs(w, path + [w])
            dfs(start, [start])
        return found

    status = 0
    for title, allowed in (("modules and root", set(nodes)), ("modules only (root left out)", set(top))):
        cycles = simple_cycles(edges, allowed)
        if cycles:
            if allowed != set(nodes):
                status = 1
            print(f"  {title}: {len(cycles)} CYCLE(S)")
            for c in cycles:
                print("    " + " -> ".join(c))
        else:
            print(f"  {title}: no cycles")
    if status == 0 and not simple_cycles(edges, set(nodes)):
        layer = {}

        def depth(v):
            if v not in layer:
                layer[v] = 1 + max((depth(w) for w in edges[v]), default=-1)
            return layer[v]

        for v in nodes:
            depth(v)
        print("  layers (each module uses only modules of lower layers):")
        for k in range(max(layer.values()) + 1):
            print(f"    {k}: {' '.join(sorted(v for v in nodes if layer[v] == k))}")
    return status


if __name__ == "__main__":
    sys.exit(main())
