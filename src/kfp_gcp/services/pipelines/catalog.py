"""What each component is, takes, gives, runs on and who uses it: `docs/catalog.md`."""

from __future__ import annotations

import dataclasses
import re
import shlex
from typing import Any

from kfp_gcp.errors import CompileError
from kfp_gcp.services.images.context import IMAGE_ENV
from kfp_gcp.services.pipelines.compiler import describe_failure
from kfp_gcp.services.project import Project, Source, discover, load, relative

CATALOG_PATH = "docs/catalog.md"
_SCALAR_NAMES = {
    "string": "str",
    "integer": "int",
    "float": "float",
    "boolean": "bool",
    "dict": "dict",
    "list": "list",
}


@dataclasses.dataclass
class Port:
    name: str
    type: str
    description: str
    default: Any = None
    required: bool = False


@dataclasses.dataclass
class ComponentInfo:
    name: str
    source: str
    summary: str
    description: str
    image: str  # images/<name> it chose, or "" (a base image of its own)
    base_image: str  # what it runs locally and without a registry
    packages: list[str]
    inputs: list[Port]
    outputs: list[Port]
    used_by: list[str]


def type_name(kfp_type: str, is_list: bool = False) -> str:
    """A Python-style name for a KFP type: 'system.Model@0.0.1' -> 'Model',
    'typing.List[float]' and 'List[Float]' -> 'List[float]', 'Integer' -> 'int'."""
    name = kfp_type.removeprefix("typing.")
    if inner := re.fullmatch(r"(?i:list)\[(.*)\]", name):
        return f"List[{type_name(inner[1])}]"
    if name.startswith("system."):
        name = name.removeprefix("system.").split("@")[0]
    else:
        name = _SCALAR_NAMES.get(name.lower(), name)
    return f"List[{name}]" if is_list else name


def packages_installed(component: Any) -> list[str]:
    """The requirements the component's container installs, without kfp itself."""
    packages: list[str] = []
    container = component.component_spec.implementation.container
    for part in container.command or []:
        for command in re.split(r"&&|\n", part):
            words = shlex.split(command) if "pip install" in command else []
            if "install" not in words:
                continue
            for word in words[words.index("install") + 1 :]:
                if not word.startswith("-") and not word.startswith(("kfp==", "typing-extensions")):
                    packages.append(word)
    return packages


def describe(component: Any, source: str, used_by: list[str]) -> ComponentInfo:
    import docstring_parser

    spec = component.component_spec
    doc = docstring_parser.parse(component.python_func.__doc__ or "")
    documented = {p.arg_name: (p.description or "").replace("\n", " ") for p in doc.params}
    returns = (doc.returns.description or "").replace("\n", " ") if doc.returns else ""
    inputs = [
        Port(
            name=name,
            type=type_name(str(port.type), port.is_artifact_list),
            description=documented.get(name, ""),
            default=port.default,
            required=not port.optional,
        )
        for name, port in (spec.inputs or {}).items()
    ]
    outputs = [
        Port(
            name=name,
            type=type_name(str(port.type), port.is_artifact_list),
            description=returns if name == "Output" else documented.get(name, ""),
        )
        for name, port in (spec.outputs or {}).items()
    ]
    return ComponentInfo(
        name=spec.name.replace("-", "_"),
        source=source,
        summary=doc.short_description or "",
        description=(doc.long_description or "").replace("\n", " "),
        image=(spec.implementation.container.env or {}).get(IMAGE_ENV, ""),
        base_image=spec.implementation.container.image,
        packages=packages_installed(component),
        inputs=inputs,
        outputs=outputs,
        used_by=used_by,
    )


def build(project: Project) -> list[ComponentInfo]:
    """Describe every component; a component or pipeline that fails to load is an error,
    since a catalog that silently leaves it out would mislead."""
    failures: list[str] = []

    def load_all(sources: list[Source]) -> dict[str, Any]:
        loaded = {}
        for source in sources:
            try:
                loaded[source.name] = load(project, source)
            except Exception as exc:
                failures.append(
                    f"{relative(project, source.path)}: {describe_failure(project, source, exc)}"
                )
        return loaded

    components = discover(project, "component")
    loaded = load_all(components)
    pipelines = load_all(discover(project, "pipeline"))
    if failures:
        raise CompileError(
            "cannot build the catalog: " + "; ".join(failures),
            hint="fix the file named above, then run `kfp-gcp components catalog` again",
        )
    used_in = {
        name: set(pipeline.pipeline_spec.components.keys()) for name, pipeline in pipelines.items()
    }
    infos = []
    for source in components:
        component = loaded[source.name]
        key = re.compile(rf"^comp-{re.escape(component.component_spec.name)}(-\d+)?$")
        users = sorted(p for p, keys in used_in.items() if any(key.match(k) for k in keys))
        infos.append(describe(component, relative(project, source.path), users))
    return infos


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|") if value not in (None, "") else "-"


def render(infos: list[ComponentInfo]) -> str:
    lines = [
        "# Component catalog",
        "",
        "Every reusable component in `components/`, so nobody writes one that already exists.",
        "Generated by `kfp-gcp components catalog`; do not edit by hand (a test fails when it",
        "is stale). How to write a component: [authoring.md](authoring.md).",
        "",
        "| Component | Purpose | Used by |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| [{i.name}](#{i.name}) | {_cell(i.summary)} | {_cell(', '.join(i.used_by))} |"
        for i in infos
    ]
    for info in infos:
        lines += ["", f"## {info.name}", "", info.summary]
        if info.description:
            lines += ["", info.description]
        lines += [
            "",
            f"- Source: `{info.source}`",
            (
                f"- Image: [`images/{info.image}`](../images/{info.image}/Dockerfile) in an "
                f"environment with a registry; `{info.base_image}` and the packages below elsewhere"
                if info.image
                else f"- Image: `{info.base_image}`"
            ),
            "- Packages: " + (", ".join(f"`{p}`" for p in info.packages) or "none beyond kfp"),
            "- Used by: " + (", ".join(f"`{p}`" for p in info.used_by) or "no pipeline yet"),
            "",
            "| Input | Type | Default | Description |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{p.name}` | {_cell(p.type)} | "
            f"{'required' if p.required else _cell(repr(p.default))} | {_cell(p.description)} |"
            for p in info.inputs
        ]
        lines += ["", "| Output | Type | Description |", "| --- | --- | --- |"]
        lines += [
            f"| `{p.name}` | {_cell(p.type)} | {_cell(p.description)} |" for p in info.outputs
        ]
    return "\n".join(lines) + "\n"
