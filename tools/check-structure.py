#!/usr/bin/env python3
"""The structure drawing of the workspace, checked: every crate on its floor, depending only on
crates of lower floors (dev-dependencies: the same floor or lower), and no crate's modules in a
circle (tools/module-graph.py --ship on each). Prints the drawing; exits 1 on any violation.

Run by `make lint`. A new crate gets a floor here; moving a crate up or down is a design change.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Floor 0 holds values and test support; each floor above may stand on any floor below it.
FLOORS = [
    ("values and plumbing", ["automix-types", "automix-qa", "automix-sqlite", "automix-test-remote"]),
    ("domains", ["automix-llm", "automix-router", "automix-remote", "automix-history"]),
    ("domains on domains", ["automix-models", "automix-budget"]),
    ("documents", ["automix-docs"]),
    ("the engine facade and the evaluation", ["automix", "automix-eval"]),
    ("the local OpenAI-compatible API over the facade", ["automix-serve"]),
    ("front ends", ["automix-cli", "automix-app"]),
]


def main():
    floor_of = {name: level for level, (_, names) in enumerate(FLOORS) for name in names}
    metadata = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], check=True, capture_output=True, text=True).stdout)
    problems = []
    lines = []
    packages = {p["name"]: p for p in metadata["packages"]}
    for name in packages:
        if name not in floor_of:
            problems.append(f"{name} has no floor in tools/check-structure.py")
    for level in reversed(range(len(FLOORS))):
        title, names = FLOORS[level]
        lines.append(f"floor {level}: {title}")
        for name in names:
            package = packages.get(name)
            if package is None:
                problems.append(f"{name} is on a floor but not in the workspace")
                continue
            normal, dev = [], []
            for dep in package["dependencies"]:
                if dep["name"] not in floor_of:
                    continue
                other = floor_of[dep["name"]]
                if dep["kind"] == "dev":
                    dev.append(dep["name"])
                    if other > level:
                        problems.append(f"{name} (floor {level}) dev-depends on {dep['name']} (floor {other}), above it")
                else:
                    normal.append(dep["name"])
                    if other >= level:
                        problems.append(f"{name} (floor {level}) depends on {dep['name']} (floor {other}), not below it")
            uses = ", ".join(sorted(normal)) or "-"
            tests = f"   (tests also: {', '.join(sorted(dev))})" if dev else ""
            lines.append(f"    {name:22} -> {uses}{tests}")
            src = os.path.join(os.path.dirname(package["manifest_path"]), "src")
            graph = subprocess.run([sys.executable, os.path.join(HERE, "module-graph.py"), "--ship", src], capture_output=True, text=True)
            if graph.returncode != 0:
                problems.append(f"{name}: its modules form a circle:\n{graph.stdout}")
    print("\n".join(lines))
    if problems:
        print("\nstructure problems:\n  " + "\n  ".join(problems))
        return 1
    print("\nno crate depends on one at or above its floor; no crate's modules form a circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
