"""Put built images into a pipeline's spec: each executor whose component chose an image
(the IMAGE_ENV variable components/runtime.py sets) runs that image and installs nothing.

A lightweight component's command, as kfp 2.17 compiles it
(kfp/dsl/component_factory.py, `_get_packages_to_install_command`), is
    sh -c "<pip install the packages and kfp> && "$0" "$@"" sh -ec "<run the function>" ...
or, with nothing to install, starts at `sh -ec`. The image already holds kfp and the
packages, so the executor keeps only the part from `sh -ec` on: exactly what kfp compiles
for `packages_to_install=[]` and `install_kfp_package=False`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from kfp_gcp.errors import CompileError, ProjectError
from kfp_gcp.services.images.context import IMAGE_ENV

_INSTALL_TAIL = '"$0" "$@"'


def chosen_image(container: Mapping[str, Any]) -> str | None:
    """The image name a compiled executor's component chose, if any."""
    for variable in container.get("env") or []:
        if variable.get("name") == IMAGE_ENV:
            return str(variable.get("value"))
    return None


def without_install(command: list[str], executor: str) -> list[str]:
    """`command` minus kfp's pip-install prefix."""
    if command[:2] == ["sh", "-ec"]:
        return command
    if (
        len(command) > 4
        and command[:2] == ["sh", "-c"]
        and "pip install" in command[2]
        and command[2].rstrip().endswith(_INSTALL_TAIL)
        and command[3:5] == ["sh", "-ec"]
    ):
        return command[3:]
    raise CompileError(
        f"executor {executor}: its command is not the one kfp 2.17 compiles for a Python "
        f"component (starts {command[:2]})",
        hint="only @component(image=...) functions get images; for another kind of component "
        "set its image yourself",
    )


def apply(deployment: dict[str, Any], references: Mapping[str, str]) -> list[str]:
    """Rewrite `deployment` (a compiled deploymentSpec) in place; returns the executors changed."""
    changed = []
    for label, executor in sorted(deployment.get("executors", {}).items()):
        container = executor.get("container")
        if not container:
            continue
        name = chosen_image(container)
        if name is None:
            continue
        if name not in references:
            raise ProjectError(
                f"executor {label} chose image {name!r}, which is not under images/",
                hint=f"add images/{name}/ or choose one of: {', '.join(sorted(references))}",
            )
        container["image"] = references[name]
        container["command"] = without_install(list(container.get("command", [])), label)
        changed.append(label)
    return changed


@contextlib.contextmanager
def images_in(pipeline: Any, references: Mapping[str, str] | None) -> Iterator[list[str]]:
    """While open, `pipeline` (a loaded @dsl.pipeline) runs `references` (image name ->
    reference); its spec is restored on exit. None changes nothing."""
    if references is None:
        yield []
        return
    from google.protobuf import json_format

    spec = pipeline.pipeline_spec
    saved = type(spec)()
    saved.CopyFrom(spec)
    try:
        deployment = json_format.MessageToDict(spec.deployment_spec)
        changed = apply(deployment, references)
        spec.deployment_spec.Clear()
        spec.deployment_spec.update(deployment)
        yield changed
    finally:
        spec.CopyFrom(saved)
