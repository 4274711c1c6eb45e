"""Compile pipelines to KFP IR YAML, each on its own: one failure does not stop the rest."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import traceback
from pathlib import Path

from kfp_gcp.services.project import Project, Source, load, relative


@dataclasses.dataclass
class CompileResult:
    name: str
    source: str
    output: Path | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe_failure(project: Project, source: Source, exc: BaseException) -> str:
    """`ExcType: message (at file:line)`, pointing at the deepest frame in the repository."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve().is_relative_to(project.root):
            where = f" (at {relative(project, Path(frame.filename))}:{frame.lineno})"
            break
    message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}{where}"


def compile_one(project: Project, source: Source, out_dir: Path) -> CompileResult:
    from kfp import compiler

    result = CompileResult(name=source.name, source=relative(project, source.path))
    target = out_dir / f"{source.name}.yaml"
    try:
        pipeline = load(project, source)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{source.name}.", suffix=".yaml")
        os.close(fd)
        try:
            compiler.Compiler().compile(pipeline, package_path=tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception as exc:
        # A stale YAML from an earlier compile must not be mistaken for this source.
        target.unlink(missing_ok=True)
        result.error = describe_failure(project, source, exc)
        return result
    result.output = target
    return result


def compile_all(
    project: Project, sources: list[Source], out_dir: Path | None = None
) -> list[CompileResult]:
    out = out_dir or project.compiled_dir
    return [compile_one(project, source, out) for source in sources]
