"""The repository layout and how components and pipelines are found in it.

Convention (docs/authoring.md):
- `components/<name>/component.py` defines the component function `<name>`;
- `pipelines/<name>/pipeline.py` defines the pipeline function `<name>`.
`<name>` is a lower-case Python identifier; folders starting with `_` or `.` are ignored.
Both folders are imported as namespace packages from the repository root, so a pipeline
imports a component as `from components.<name>.component import <name>`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

from kfp_gcp.errors import ProjectError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PROJECT_DIR_ENV = "KFP_GCP_PROJECT_DIR"

Kind = Literal["component", "pipeline"]
_FILE_FOR: dict[Kind, str] = {"component": "component.py", "pipeline": "pipeline.py"}
_FOLDER_FOR: dict[Kind, str] = {"component": "components", "pipeline": "pipelines"}


@dataclasses.dataclass(frozen=True)
class Project:
    root: Path
    # Image name -> registry reference, when compiling for an environment with a registry
    # (kfp_gcp.services.images.resolve); None: components run their local base images.
    images: tuple[tuple[str, str], ...] | None = None

    @property
    def image_references(self) -> dict[str, str] | None:
        return None if self.images is None else dict(self.images)

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def compiled_dir(self) -> Path:
        return self.build_dir / "pipelines"

    @property
    def runs_dir(self) -> Path:
        return self.build_dir / "runs"

    def folder(self, kind: Kind) -> Path:
        return self.root / _FOLDER_FOR[kind]


@dataclasses.dataclass(frozen=True)
class Source:
    """One component or pipeline folder."""

    kind: Kind
    name: str
    path: Path  # the .py file

    @property
    def module(self) -> str:
        return f"{_FOLDER_FOR[self.kind]}.{self.name}.{self.path.stem}"


def find_project(start: Path | None = None) -> Project:
    """The repository root: `start` if given, else the nearest folder up from the
    working directory that holds both `components/` and `pipelines/`."""
    if start is not None:
        root = start.resolve()
        if not (root / "pipelines").is_dir() or not (root / "components").is_dir():
            raise ProjectError(
                f"{root} has no pipelines/ and components/ folders",
                hint=f"point --project-dir (or {PROJECT_DIR_ENV}) at the repository root",
            )
        return Project(root)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pipelines").is_dir() and (folder / "components").is_dir():
            return Project(folder)
    raise ProjectError(
        f"no kfp-gcp repository at or above {here}",
        hint=f"run inside the repository, or pass --project-dir (or set {PROJECT_DIR_ENV})",
    )


def discover(project: Project, kind: Kind) -> list[Source]:
    """Every `<kind>s/<name>/<kind>.py`, sorted by name."""
    folder = project.folder(kind)
    if not folder.is_dir():
        return []
    sources = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or entry.name.startswith(("_", ".")):
            continue
        if not NAME_PATTERN.match(entry.name):
            raise ProjectError(
                f"{entry.relative_to(project.root)}: folder name is not a valid {kind} name",
                hint="rename it to lower case letters, digits and underscores, "
                "starting with a letter (it is imported as a Python module)",
            )
        path = entry / _FILE_FOR[kind]
        if not path.is_file():
            raise ProjectError(
                f"{entry.relative_to(project.root)}: missing {_FILE_FOR[kind]}",
                hint=f"define the {kind} function `{entry.name}` in "
                f"{path.relative_to(project.root)}",
            )
        sources.append(Source(kind=kind, name=entry.name, path=path))
    return sources


def select(project: Project, kind: Kind, names: list[str] | None = None) -> list[Source]:
    """The sources called `names` (all when empty); an unknown name is an error."""
    sources = discover(project, kind)
    if not names:
        return sources
    by_name = {s.name: s for s in sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ProjectError(
            f"no {kind} named {', '.join(map(repr, unknown))}",
            hint=f"known {kind}s: {', '.join(by_name) or 'none'} "
            f"(folders under {_FOLDER_FOR[kind]}/)",
        )
    return [by_name[n] for n in names]


def load(project: Project, source: Source) -> Any:
    """Import the source's module and return its `<name>` object.

    Import errors propagate unchanged so callers can report them per source.
    """
    _activate(project)
    module = importlib.import_module(source.module)
    obj = getattr(module, source.name, None)
    expected = "PythonComponent" if source.kind == "component" else "GraphComponent"
    if obj is None or type(obj).__name__ != expected:
        raise ProjectError(
            f"{relative(project, source.path)}: no {source.kind} named `{source.name}`",
            hint=f"decorate a function named `{source.name}` with "
            f"@dsl.{'component' if source.kind == 'component' else 'pipeline'}",
        )
    return obj


_active_root: str | None = None


def _activate(project: Project) -> None:
    """Put this project's root first on sys.path, forgetting another project's modules
    (the folders are namespace packages, so two roots on sys.path would merge)."""
    global _active_root
    root = str(project.root)
    if _active_root == root:
        return
    if _active_root is not None:
        while _active_root in sys.path:
            sys.path.remove(_active_root)
        for name in [m for m in sys.modules if m.split(".")[0] in _FOLDER_FOR.values()]:
            del sys.modules[name]
        importlib.invalidate_caches()
    sys.path.insert(0, root)
    _active_root = root


def relative(project: Project, path: Path) -> str:
    try:
        return os.path.relpath(path, project.root)
    except ValueError:
        return str(path)
