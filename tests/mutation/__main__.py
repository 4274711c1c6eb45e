"""`make mutation`: how many small changes to the code that writes to live systems make
its tests fail. On demand, not in CI (tens of minutes on two cores).

For each module below: every mutant (tests/mutation/mutants.py), or a seeded sample with
`--sample N`, runs the module's tests that execute the changed lines, fastest first, with
`-x -q -p no:randomly` and a timeout. A mutant is killed when a test fails (or the module no
longer imports), survives when they all pass. Mutants listed in equivalent.txt that
survive are counted apart, with their reason; listed ones that are killed are reported.

How it is fast enough: one run of each module's tests under a line tracer records which
test executes which line of the module (lines run at import count for every test); then
each mutant is a fork of this process, which has already imported pytest, kfp and the
other heavy libraries, with the mutated module compiled into the import system; nothing
is written to src/. Results are kept in build/mutation/ and reused while src/ and tests/
are unchanged.

    python -m tests.mutation [--module publish] [--sample 100 --seed 7] [--jobs 2] [--list]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from tests.mutation.mutants import Mutant, enumerate_mutants, mutate

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
CACHE = REPO / "build" / "mutation"
GOAL = 0.85
PYTEST_ARGS = ["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--no-header"]
# The fast tier's CPU guard (tests/conftest.py) would fail runs slowed by the tracer.
CHILD_ENV = {"KFP_GCP_SLOW_THRESHOLD_S": "1e9"}
PUBLISH_TESTS = [
    "tests/test_publish.py",
    "tests/test_publish_semantics.py",
    "tests/test_publish_schedules.py",
]


@dataclasses.dataclass
class Target:
    name: str  # what the table calls it
    module: str  # the dotted module
    tests: list[str]  # the test files that cover it
    scope: set[str] | None = None  # top-level names to mutate; None: the whole module

    @property
    def path(self) -> Path:
        return SRC / (self.module.replace(".", "/") + ".py")

    @property
    def relative(self) -> str:
        return str(self.path.relative_to(SRC))


TARGETS = [
    Target("kfp/publish.py", "kfp_gcp.services.kfp.publish", PUBLISH_TESTS),
    Target(
        "kfp/schedules.py",
        "kfp_gcp.services.kfp.schedules",
        [*PUBLISH_TESTS, "tests/test_fake_kfp.py"],
    ),
    Target(
        "kfp/api.py",
        "kfp_gcp.services.kfp.api",
        [
            "tests/test_kfp_api.py",
            *PUBLISH_TESTS,
            "tests/test_publish_auth.py",
            "tests/test_fake_kfp.py",
        ],
    ),
    Target(
        "kfp/auth.py",
        "kfp_gcp.services.kfp.auth",
        ["tests/test_kfp_auth.py", "tests/test_publish_auth.py"],
    ),
    Target(
        "infra/terraform.py (destroy guard)",
        "kfp_gcp.services.infra.terraform",
        ["tests/test_infra.py"],
        scope={"PROTECTED_TYPES", "destructive_changes", "load_plan_json"},
    ),
    Target(
        "cluster/deploy.py (apply path)",
        "kfp_gcp.services.cluster.deploy",
        ["tests/test_cluster_access.py", "tests/test_deploy.py"],
        scope={
            "MYSQL_SECRET",
            "OBJECT_STORE_SECRET",
            "NEEDS_HMAC",
            "PROXY_LABEL",
            "PROXY_SERVICE",
            "objects",
            "iap_secret_name",
            "secrets_for",
            "existing_secrets",
            "proxy_objects",
            "check_database_user",
            "INSTALL_CONFIG",
            "deployed_version",
            "apply",
        },
    ),
    Target(
        "cluster/access.py",
        "kfp_gcp.services.cluster.access",
        [
            "tests/test_cluster_access.py",
            "tests/test_deploy.py",
            "tests/test_tool_errors.py",
            "tests/test_hints.py",
        ],
    ),
]

# Imported once here, so that each forked mutant starts with them loaded.
PRELOAD = [
    "pytest",
    "_pytest.pytester",
    "pytest_socket",
    "kfp",
    "kfp.client",
    "kfp.compiler",
    "kfp.dsl",
    "kfp.local",
    "kfp.kubernetes",
    "kfp_server_api",
    "google.auth",
    "google.auth.transport.requests",
    "google.oauth2.id_token",
    "pydantic",
    "pymysql",
    "rich",
    "typer",
    "typer.testing",
    "urllib3",
    "yaml",
]


# Equivalent mutants.


@dataclasses.dataclass
class Listed:
    reason: str
    line: int


def read_equivalent(path: Path = EQUIVALENT) -> dict[str, Listed]:
    """`<mutant id> -- <reason>` per line; # comments and blank lines are skipped."""
    listed: dict[str, Listed] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mutant, separator, reason = line.partition(" -- ")
        if not separator or not reason.strip():
            raise SystemExit(f"{path.name}:{number}: expected `<mutant id> -- <reason>`")
        if mutant in listed:
            raise SystemExit(f"{path.name}:{number}: {mutant} is listed twice")
        listed[mutant.strip()] = Listed(reason.strip(), number)
    return listed


def all_mutants(targets: list[Target] = TARGETS) -> dict[str, list[Mutant]]:
    return {
        t.name: enumerate_mutants(t.path.read_text(encoding="utf-8"), t.relative, t.scope)
        for t in targets
    }


# Forked children.


class _MutantLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, code: CodeType) -> None:
        super().__init__(fullname, path)
        self.code = code

    def get_code(self, fullname: str) -> CodeType:
        return self.code


class _MutantFinder(importlib.abc.MetaPathFinder):
    """Imports `name` from the mutated code instead of its file."""

    def __init__(self, name: str, code: CodeType) -> None:
        self.name = name
        self.code = code

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        assert spec is not None
        assert spec.origin is not None
        spec.loader = _MutantLoader(fullname, spec.origin, self.code)
        return spec


class _Order:
    """Runs the tests in the order given (the conftest puts slow ones first)."""

    def __init__(self, order: list[str]) -> None:
        self.rank = {nodeid: i for i, nodeid in enumerate(order)}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        items.sort(key=lambda item: self.rank.get(item.nodeid, len(self.rank)))


class _Tracer:
    """Which test executes which line of `filename`, and how long each test takes."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.current: str | None = None
        self.lines: dict[str, set[int]] = {"<import>": set()}
        self.durations: dict[str, float] = {}
        self.outcomes: dict[str, str] = {}

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != self.filename:
            return None
        self._record(frame.f_lineno)
        return self._line

    def _line(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self._record(frame.f_lineno)
        return self._line

    def _record(self, line: int) -> None:
        self.lines.setdefault(self.current or "<import>", set()).add(line)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: Any) -> Any:
        self.current = item.nodeid
        start = time.perf_counter()
        yield
        self.durations[item.nodeid] = time.perf_counter() - start
        self.current = None

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed or report.when == "call" or report.skipped:
            previous = self.outcomes.get(report.nodeid, "passed")
            self.outcomes[report.nodeid] = previous if previous != "passed" else report.outcome


def _fork(body: Any, log: Path | None) -> int:
    """Run `body()` in a child in its own process group; returns the child's pid."""
    pid = os.fork()
    if pid:
        with contextlib.suppress(OSError):  # done by the child already, or it has exited
            os.setpgid(pid, pid)
        return pid
    code = 3
    try:
        os.setpgid(0, 0)
        fd = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.update(CHILD_ENV)
        code = int(body())
    except BaseException:  # a child never returns into the parent's loop
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float | None) -> int | None:
    """The exit code, or None after killing the group when `timeout` passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if deadline is not None and time.monotonic() > deadline:
            _kill(pid)
            return None
        time.sleep(0.05)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


# Per target: coverage, then mutants.


@dataclasses.dataclass
class Coverage:
    lines: dict[str, set[int]]  # nodeid -> lines of the module it executes
    import_lines: set[int]
    durations: dict[str, float]
    failed: list[str]


def measure(target: Target, log_dir: Path) -> Coverage:
    out = Path(tempfile.mkstemp(prefix="coverage-", suffix=".json", dir=log_dir)[1])
    tests = [t for t in target.tests if (REPO / t).is_file()]

    def body() -> int:
        tracer = _Tracer(str(target.path))
        sys.settrace(tracer.trace)
        import threading

        threading.settrace(tracer.trace)
        code = pytest.main(
            ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests], plugins=[tracer]
        )
        sys.settrace(None)
        data = {
            "lines": {k: sorted(v) for k, v in tracer.lines.items()},
            "durations": tracer.durations,
            "outcomes": tracer.outcomes,
        }
        out.write_text(json.dumps(data), encoding="utf-8")
        return 0 if code in (0, 1) else int(code)

    code = _wait(_fork(body, log_dir / f"{_slug(target.name)}.coverage.log"), None)
    if code != 0:
        raise SystemExit(
            f"{target.name}: the tests did not run (exit code {code}); "
            f"see {log_dir / (_slug(target.name) + '.coverage.log')}"
        )
    data = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    lines = {k: set(v) for k, v in data["lines"].items()}
    failed = sorted(k for k, v in data["outcomes"].items() if v != "passed")
    return Coverage(
        lines={k: v for k, v in lines.items() if k != "<import>"},
        import_lines=lines.get("<import>", set()),
        durations=data["durations"],
        failed=failed,
    )


def tests_for(mutant: Mutant, coverage: Coverage) -> list[str]:
    """The tests that execute a line of `mutant`, fastest first (every test that passed
    for a change made at import time)."""
    passing = [t for t in coverage.durations if t not in coverage.failed]
    if mutant.import_time:
        chosen = passing
    else:
        wanted = set(mutant.lines)
        chosen = [t for t in passing if coverage.lines.get(t, set()) & wanted]
    return sorted(chosen, key=lambda t: coverage.durations[t])


@dataclasses.dataclass
class Outcome:
    status: str  # killed, survived, timeout, uncovered
    seconds: float
    tests: int
    by: str = ""  # what killed it: the failing test, or the module not importing


def run_target(
    target: Target,
    mutants: list[Mutant],
    coverage: Coverage,
    jobs: int,
    timeout_factor: float,
    log_dir: Path,
    progress: Any,
    save: Any,
) -> dict[str, Outcome]:
    """Run `mutants`; `save(results)` is called now and then, so that a stopped run resumes."""
    source = target.path.read_text(encoding="utf-8")
    results: dict[str, Outcome] = {}
    running: dict[int, tuple[Mutant, float, float, int, Path]] = {}
    queue = list(mutants)
    started = last_save = time.monotonic()
    slots = [log_dir / f"mutant-{n}.log" for n in range(jobs)]

    def launch(mutant: Mutant) -> None:
        tests = tests_for(mutant, coverage)
        if not tests:
            results[mutant.id] = Outcome("uncovered", 0.0, 0)
            return
        tree = mutate(source, mutant.index, target.scope)
        code = compile(tree, str(target.path), "exec")

        def body() -> int:
            sys.meta_path.insert(0, _MutantFinder(target.module, code))
            try:
                importlib.import_module(target.module)
            except Exception:
                traceback.print_exc()
                return NO_IMPORT
            return int(pytest.main([*PYTEST_ARGS, *tests], plugins=[_Order(tests)]))

        budget = 20 + timeout_factor * sum(coverage.durations[t] for t in tests)
        log = next(s for s in slots if s not in {r[4] for r in running.values()})
        pid = _fork(body, log)
        running[pid] = (mutant, time.monotonic(), budget, len(tests), log)

    while queue or running:
        while queue and len(running) < jobs:
            launch(queue.pop(0))
        finished = []
        for pid, (mutant, start, budget, count, log) in running.items():
            done, status = os.waitpid(pid, os.WNOHANG)
            elapsed = time.monotonic() - start
            if done:
                code = os.waitstatus_to_exitcode(status)
                verdict = _status_of(code, mutant, log)
                by = _killer(log) if verdict == "killed" else ""
                results[mutant.id] = Outcome(verdict, elapsed, count, by)
                finished.append(pid)
            elif elapsed > budget:
                _kill(pid)
                results[mutant.id] = Outcome("timeout", elapsed, count)
                finished.append(pid)
        for pid in finished:
            del running[pid]
            progress(target, results, len(mutants), time.monotonic() - started)
        if time.monotonic() - last_save > 60:
            save(results)
            last_save = time.monotonic()
        if not finished:
            time.sleep(0.05)
    return results


NO_IMPORT = 10  # the child's exit code when the mutated module does not import


def _killer(log: Path) -> str:
    """The first test pytest reports failed or in error, from a child's log."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    return "the mutated module does not import"


def _status_of(code: int, mutant: Mutant, log: Path) -> str:
    # pytest: 0 all passed, 1 a test failed, 2 interrupted by a collection error; 4 (usage)
    # when a test module failed to import, so the test ids given are not found.
    if code == 0:
        return "survived"
    if code in (1, 2, NO_IMPORT):
        return "killed"
    if code == 4 and "ERROR collecting" in log.read_text(encoding="utf-8", errors="replace"):
        return "killed"
    raise SystemExit(f"{mutant.id}: pytest exited {code} (see {log})")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.split(" ")[0])


def fingerprint() -> str:
    """Everything a result depends on: the code, the tests and the locked dependencies."""
    digest = hashlib.sha256()
    tests = [p for p in (REPO / "tests").rglob("*.py") if "mutation" not in p.parts]
    files = sorted([*SRC.rglob("*.py"), *tests, REPO / "uv.lock"])
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# The report.


@dataclasses.dataclass
class Row:
    target: Target
    tried: int
    killed: int
    survived: list[Mutant]
    timeout: int
    equivalent: list[Mutant]
    listed_but_killed: list[Mutant]

    @property
    def meaningful(self) -> int:
        return self.tried - len(self.equivalent)

    @property
    def score(self) -> float:
        return (self.killed + self.timeout) / self.meaningful if self.meaningful else 1.0


def summarise(
    target: Target, mutants: list[Mutant], results: dict[str, Outcome], listed: dict[str, Listed]
) -> Row:
    row = Row(target, len(mutants), 0, [], 0, [], [])
    for mutant in mutants:
        status = results[mutant.id].status
        if status in ("survived", "uncovered"):
            (row.equivalent if mutant.id in listed else row.survived).append(mutant)
            continue
        if status == "timeout":
            row.timeout += 1
        else:
            row.killed += 1
        if mutant.id in listed:
            row.listed_but_killed.append(mutant)
    return row


def print_table(rows: list[Row]) -> None:
    columns = ("tried", "killed", "survived", "timeout", "equiv.", "score")
    header = f"{'module':<36}" + "".join(f"{c:>9}" for c in columns)
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.target.name:<36}{r.tried:>9}{r.killed:>9}{len(r.survived):>9}{r.timeout:>9}"
            f"{len(r.equivalent):>9}{r.score:>9.1%}"
        )
    print(
        "score = (killed + timed out) / (tried - listed equivalent); goal "
        f"{GOAL:.0%} per module; equivalent mutants and their reasons: "
        f"{EQUIVALENT.relative_to(REPO)}"
    )


def _line_of(mutant: Mutant) -> str:
    return f"{mutant.module}:{mutant.lines[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--module", action="append", help="only targets whose name contains this")
    parser.add_argument("--sample", type=int, help="mutate a random sample of this many per module")
    parser.add_argument("--seed", type=int, help="the sample's seed (printed; random by default)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants at once (default 1)")
    parser.add_argument(
        "--timeout-factor", type=float, default=4.0, help="x the tests' time, + 20 s"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="ignore results kept in build/mutation"
    )
    parser.add_argument(
        "--survivors-only",
        action="store_true",
        help="keep earlier kills even if the code or tests changed; run only the rest (while "
        "writing tests; a final run is without it)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument(
        "--match",
        help="run only mutants whose name contains this, again (the log of the last one is "
        "build/mutation/mutant-0.log)",
    )
    args = parser.parse_args(argv)

    listed = read_equivalent()
    targets = [t for t in TARGETS if not args.module or any(m in t.name for m in args.module)]
    if not targets:
        parser.error(f"no module matches {args.module}")
    mutants = all_mutants(targets)
    known = {m.id for ms in all_mutants().values() for m in ms}
    stale = [i for i in listed if i not in known]

    if args.list:
        for target in targets:
            for m in mutants[target.name]:
                mark = "  [equivalent]" if m.id in listed else ""
                print(f"{_line_of(m):<45} {m.id}{mark}")
        return 0

    seed = args.seed if args.seed is not None else random.randrange(10**6)
    if args.sample:
        print(f"sample of {args.sample} mutants per module, seed {seed}")
        rng = random.Random(seed)
        for name, ms in mutants.items():
            if len(ms) > args.sample:
                mutants[name] = sorted(rng.sample(ms, args.sample), key=lambda m: m.index)

    for module in PRELOAD:
        __import__(module)
    sys.path.insert(0, str(REPO))
    CACHE.mkdir(parents=True, exist_ok=True)
    print_ = _printer()
    stamp = fingerprint()
    rows = []
    for target in targets:
        cache_file = CACHE / f"{_slug(target.name)}.json"
        cached: dict[str, Any] = {}
        if cache_file.is_file() and not args.fresh:
            cached = json.loads(cache_file.read_text(encoding="utf-8"))
        same = cached.get("fingerprint") == stamp
        kept = {k: Outcome(**v) for k, v in cached.get("results", {}).items()}
        if args.match:  # those again, whatever was kept
            kept = {k: v for k, v in kept.items() if args.match not in k}
        elif not same:
            keep = args.survivors_only
            kept = {k: v for k, v in kept.items() if keep and v.status in ("killed", "timeout")}
        todo = [m for m in mutants[target.name] if m.id not in kept]
        print(f"{target.name}: {len(mutants[target.name])} mutants, {len(todo)} to run", flush=True)
        results = dict(kept)

        def save(
            new: dict[str, Outcome], cache_file: Path = cache_file, old: dict[str, Outcome] = kept
        ) -> None:
            done = {k: dataclasses.asdict(v) for k, v in {**old, **new}.items()}
            data = {"fingerprint": stamp, "results": done}
            cache_file.write_text(json.dumps(data, indent=1), encoding="utf-8")

        if todo:
            coverage = measure(target, CACHE)
            if coverage.failed:
                print(f"  left out, failing without any mutant: {', '.join(coverage.failed)}")
            jobs, factor = args.jobs, args.timeout_factor
            results.update(run_target(target, todo, coverage, jobs, factor, CACHE, print_, save))
            save(results)
        rows.append(summarise(target, mutants[target.name], results, listed))

    print()
    print_table(rows)
    problems = 0
    for row in rows:
        for mutant in row.survived:
            problems += 1
            print(f"survived: {_line_of(mutant)}  {mutant.id}")
        for mutant in row.listed_but_killed:
            problems += 1
            print(f"listed as equivalent, yet killed (remove it): {mutant.id}")
        if row.score < GOAL:
            problems += 1
    if not args.module and not args.sample:
        for mutant_id in stale:
            problems += 1
            print(f"listed as equivalent, yet no such mutant (stale): {mutant_id}")
    return 1 if problems else 0


def _printer() -> Any:
    last = [0.0]

    def progress(target: Target, results: dict[str, Outcome], total: int, elapsed: float) -> None:
        now = time.monotonic()
        done = len(results)
        if now - last[0] < 30 and done < total:
            return
        last[0] = now
        counts = {
            s: sum(o.status == s for o in results.values())
            for s in ("killed", "survived", "timeout", "uncovered")
        }
        print(
            f"  {target.name}: {done}/{total} in {elapsed / 60:.1f} min "
            + ", ".join(f"{k} {v}" for k, v in counts.items() if v),
            flush=True,
        )

    return progress


if __name__ == "__main__":
    sys.exit(main())
