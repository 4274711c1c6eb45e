"""Compile pipelines to KFP IR YAML, each on its own: one failure does not stop the rest."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import tempfile
import traceback
from pathlib import Path

from kfp_gcp.errors import CompileError, KfpGcpError
from kfp_gcp.services.project import Project, Source, load, relative

# A header line such as "#    candidates: list [Default: [{'a': 1.0, 'b': 2.0}]]".
_DEFAULT_LINE = re.compile(r"^(#    \S+: \S+ \[Default: )(.*)\]$")


def _sorted_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def canonical_header(text: str) -> str:
    """Sort dict keys in the comment header's defaults.

    kfp writes each default with str() of a protobuf Struct converted to a dict, whose
    key order changes with the interpreter's hash seed; the spec below is already sorted.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            break
        match = _DEFAULT_LINE.match(line)
        if match:
            try:
                value = ast.literal_eval(match[2])
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, dict | list):
                lines[i] = f"{match[1]}{_sorted_keys(value)!s}]"
    return "\n".join(lines)


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
    if isinstance(exc, KfpGcpError):  # already names the file
        return exc.message.removeprefix(f"{relative(project, source.path)}: ")
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{relative(project, Path(exc.filename))}:{exc.lineno}"
        return f"SyntaxError: {exc.msg} (at {where})"
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename).resolve().is_relative_to(project.root):
            where = f" (at {relative(project, Path(frame.filename))}:{frame.lineno})"
            break
    return f"{type(exc).__name__}: {exc}{where}"


def compile_one(project: Project, source: Source, out_dir: Path) -> CompileResult:
    from kfp import compiler

    from kfp_gcp.services.images.spec import images_in

    result = CompileResult(name=source.name, source=relative(project, source.path))
    target = out_dir / f"{source.name}.yaml"
    try:
        pipeline = load(project, source)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{source.name}.", suffix=".yaml")
        os.close(fd)
        try:
            with images_in(pipeline, project.image_references):
                compiler.Compiler().compile(pipeline, package_path=tmp)
            text = Path(tmp).read_text(encoding="utf-8")
            Path(tmp).write_text(canonical_header(text), encoding="utf-8")
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


def require_compiled(results: list[CompileResult], consequence: str, hint: str) -> None:
    """Raise one CompileError naming every failed source, if any failed."""
    failed = [r for r in results if not r.ok]
    if failed:
        raise CompileError(
            f"{len(failed)} of {len(results)} pipelines failed{consequence}: "
            + "; ".join(f"{r.source}: {r.error}" for r in failed),
            hint=hint,
        )
