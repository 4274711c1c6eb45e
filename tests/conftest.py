from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kfp_gcp.services.project import Project

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Project:
    return Project(REPO)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """A throwaway repository: the real components/, plus the pipelines given as
    {name: source}; `components` adds extra component folders the same way."""

    def make(
        pipelines: dict[str, str] | None = None, components: dict[str, str] | None = None
    ) -> Project:
        root = tmp_path / "repo"
        shutil.copytree(REPO / "components", root / "components")
        # Components choose images by name: images/<name>/ and the groups in pyproject.toml.
        shutil.copytree(REPO / "images", root / "images")
        shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
        (root / "pipelines").mkdir()
        for kind, sources, filename in (
            ("pipelines", pipelines or {}, "pipeline.py"),
            ("components", components or {}, "component.py"),
        ):
            for name, text in sources.items():
                folder = root / kind / name
                folder.mkdir(parents=True)
                (folder / filename).write_text(textwrap.dedent(text))
        return Project(root)

    return make


# Tiers: `make check` runs `-m "not slow"`. A test that is not marked slow must stay cheap,
# or the fast tier slowly stops being fast: the session fails when one uses more than this
# much CPU (its own and its subprocesses', over setup, call and teardown), naming the test.
# CPU time, not wall time: on a loaded 2-core CI runner wall times double, CPU times do not.
# Wall time still catches a test that sleeps or waits out a timeout (5x the limit).
SLOW_THRESHOLD_S = float(os.environ.get("KFP_GCP_SLOW_THRESHOLD_S", "2.0"))
_unmarked: dict[str, tuple[float, float]] = {}  # nodeid -> (cpu, wall) seconds


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    before = getattr(item, "_cpu_before", None)
    outcome = yield
    if before is not None:
        # Travels with the report to the xdist controller.
        outcome.get_result().user_properties.append(("cpu_seconds", _cpu_seconds() - before))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    # Phases are measured from one start: makereport reports the running total.
    item._cpu_before = _cpu_seconds()  # type: ignore[attr-defined]
    yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Slow tests first: on several workers, the long ones then start early instead of
    # leaving one worker busy at the end while the others wait (a stable sort).
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "slow" in report.keywords:
        return
    cpu = dict(report.user_properties).get("cpu_seconds", 0.0)
    cpu_so_far, wall = _unmarked.get(report.nodeid, (0.0, 0.0))
    # CPU is a running total from the start of setup; wall time comes per phase.
    _unmarked[report.nodeid] = (max(cpu, cpu_so_far), wall + report.duration)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # the controller judges the whole run
    too_slow = {
        n: (cpu, wall)
        for n, (cpu, wall) in _unmarked.items()
        if cpu > SLOW_THRESHOLD_S or wall > 5 * SLOW_THRESHOLD_S
    }
    if not too_slow:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "tests over the fast-tier limit", red=True)
        reporter.write_line(
            f"Not marked slow, yet over {SLOW_THRESHOLD_S:g} s of CPU or "
            f"{5 * SLOW_THRESHOLD_S:g} s of wall time: add @pytest.mark.slow or make them faster:"
        )
        for nodeid, (cpu, wall) in sorted(too_slow.items(), key=lambda i: -i[1][0]):
            reporter.write_line(f"  cpu {cpu:5.1f}s  wall {wall:5.1f}s  {nodeid}")
    if exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
