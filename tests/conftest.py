from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

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
