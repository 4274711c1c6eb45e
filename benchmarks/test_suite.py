"""How long the developer loop takes: `make check` and `make test`, this commit against an
earlier one, measured in the same run on the same machine.

    python benchmarks/test_suite.py --before <ref> [--runs 3]

Each commit is cloned beside a link to ../shared (as CI sees it), installed (`make sync`)
and warmed up once (one `make check` or `make lint`, one `make test`), so the figures are
for a warm `.venv` and warm caches. The runs then alternate between the two commits, so
that anything else the machine does weighs on both alike. Commits without a `check`
target (before the fast tier existed) are measured as `make lint` then `make test`, the
only answer a developer had. Prints medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def make(tree: Path, *targets: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        ["make", *targets], cwd=tree, capture_output=True, text=True, env={**os.environ}
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"make {' '.join(targets)} failed in {tree}:\n{done.stdout[-3000:]}")
    return seconds


def checkout(ref: str, into: Path) -> Path:
    tree = into / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "checkout", "-q", ref], check=True)
    if SHARED.exists():
        (into / "shared").symlink_to(SHARED.resolve())
    return tree


def has_check(tree: Path) -> bool:
    return any(line.startswith("check:") for line in (tree / "Makefile").read_text().split("\n"))


def loops(tree: Path) -> dict[str, tuple[str, ...]]:
    """What a developer runs for a quick answer, and the whole suite."""
    quick = ("check",) if has_check(tree) else ("lint", "test")
    return {"quick answer": quick, "make test": ("test",)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier commit (e.g. a SHA)")
    parser.add_argument("--after", default="HEAD", help="the later commit (default HEAD)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores; {args.runs} runs each, alternating")
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        for label, ref in (("before", args.before), ("after", args.after)):
            folder = Path(scratch) / label
            folder.mkdir()
            trees[label] = checkout(ref, folder)
            make(trees[label], "sync")
            for targets in loops(trees[label]).values():
                make(trees[label], *targets)  # warm-up: .venv, mypy and build caches
        times: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            for label, tree in trees.items():
                for name, targets in loops(tree).items():
                    seconds = make(tree, *targets)
                    times.setdefault((label, name), []).append(seconds)
                    print(
                        f"  run {run + 1} {label:<6} {name:<13} `make {' '.join(targets)}`"
                        f" {seconds:6.1f} s",
                        flush=True,
                    )
    print()
    for (label, name), values in times.items():
        targets = " ".join(loops(trees[label])[name])
        print(
            f"{label:<6} {name:<13} `make {targets}`: median {statistics.median(values):6.1f} s"
            f"  (min {min(values):.1f}, max {max(values):.1f})"
        )
    for name in ("quick answer", "make test"):
        before, after = times[("before", name)], times[("after", name)]
        ratio = statistics.median(after) / statistics.median(before)
        print(f"{name}: after / before = {ratio:.0%}")


if __name__ == "__main__":
    main()
