"""Where and how commands print: tables for people, JSON for programs.

Both forms come from the same data, so `--output json` never drifts from the table.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

# Rich resolves sys.stdout / sys.stderr at print time, so test runners that swap them work.
stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


@dataclasses.dataclass
class State:
    """Global options, kept on the typer context for every command."""

    output: OutputFormat = OutputFormat.table
    debug: bool = False
    project_dir: Path | None = None


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if callable(getattr(value, "model_dump", None)):  # a pydantic model
        return to_jsonable(value.model_dump())
    return value


def emit(state: State, data: Any, render: Callable[[], RenderableType]) -> None:
    """Print `data` as JSON, or the table that `render` builds from it."""
    if state.output is OutputFormat.json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, sort_keys=True) + "\n")
    else:
        stdout.print(render())


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"
