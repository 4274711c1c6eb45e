"""How long the developer loop takes: the quick answer before a push and `make test`, at
several commits, measured in the same run on the same machine.

    python benchmarks/test_suite.py 5948c0e HEAD [--runs 3]

Each commit is cloned beside a link to ../shared (as CI sees it), installed (`make sync`)
and warmed up once, so the figures are for a warm `.venv` and warm caches. The runs then
go round the commits in turn, so that anything else the machine does weighs on each alike.
The quick answer is `make check` where it exists; before the fast tier existed it was
`make lint` then `make test`, the only answer a developer had. Prints medians and each
commit's test count; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def make(tree: Path, *targets: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(["make", *targets], cwd=tree, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"make {' '.join(targets)} failed in {tree}:\n{done.stdout[-3000:]}")
    return seconds, done.stdout


def checkout(ref: str, into: Path) -> Path:
    tree = into / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", ref], check=True)
    if SHARED.exists():
        (into / "shared").symlink_to(SHARED.resolve())
    return tree


def loops(tree: Path) -> dict[str, tuple[str, ...]]:
    """What a developer runs for a quick answer, and the whole suite."""
    makefile = (tree / "Makefile").read_text()
    quick = ("check",) if re.search(r"^check:", makefile, re.M) else ("lint", "test")
    return {"quick answer": quick, "make test": ("test",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("refs", nargs="+", help="commits to compare, oldest first")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores; {args.runs} runs each, in turn", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        trees: dict[str, Path] = {}
        counts: dict[str, str] = {}
        for i, ref in enumerate(args.refs):
            label = f"{ref[:12]}"
            folder = Path(scratch) / str(i)
            folder.mkdir()
            trees[label] = checkout(ref, folder)
            make(trees[label], "sync")
            for targets in loops(trees[label]).values():
                _, out = make(trees[label], *targets)  # warm-up: .venv, mypy, build caches
                found = re.findall(r"(\d+) passed", out)
                if targets == ("test",) and found:
                    counts[label] = found[-1]
            print(f"  warmed {label} ({counts.get(label, '?')} tests)", flush=True)
        times: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            for label, tree in trees.items():
                for name, targets in loops(tree).items():
                    seconds, _ = make(tree, *targets)
                    times.setdefault((label, name), []).append(seconds)
                    print(
                        f"  run {run + 1} {label:<12} {name:<13} `make {' '.join(targets)}`"
                        f" {seconds:6.1f} s",
                        flush=True,
                    )
        print()
        for (label, name), values in times.items():
            targets = " ".join(loops(trees[label])[name])
            print(
                f"{label:<12} {name:<13} `make {targets:<9}` median "
                f"{statistics.median(values):6.1f} s (min {min(values):.1f}, max "
                f"{max(values):.1f}; {counts.get(label, '?')} tests)"
            )
        first = next(iter(trees))
        for label in list(trees)[1:]:
            for name in ("quick answer", "make test"):
                ratio = statistics.median(times[(label, name)]) / statistics.median(
                    times[(first, name)]
                )
                print(f"{label} / {first}, {name}: {ratio:.0%}")


if __name__ == "__main__":
    main()
