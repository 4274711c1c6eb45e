"""How a component chooses its image: by name, one of the folders under images/.

    @component(image="sklearn")
    def train_model(...): ...

Compiled for an environment with a registry (`kfp-gcp pipelines compile --env E`,
`kfp-gcp pipelines deploy`), the task runs images/sklearn as `kfp-gcp images push` built
and pushed it, and installs nothing when it starts. Everywhere else (kfp.local, the tests,
`kfp-gcp pipelines compile` without --env) it runs the Dockerfile's base image and
installs the image group's pins from pyproject.toml, which are the versions in uv.lock.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp import dsl

from kfp_gcp.services.images.context import IMAGE_ENV, local_runtime

ROOT = Path(__file__).resolve().parents[1]


def component(image: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """`@dsl.component` running in images/<image>; `options` go to dsl.component."""
    runtime = local_runtime(ROOT, image)

    def decorate(func: Callable[..., Any]) -> Any:
        task = dsl.component(
            func,
            base_image=runtime.base_image,
            packages_to_install=runtime.packages or None,
            **options,
        )
        # Carried into the compiled spec: how `pipelines compile --env` finds the executor.
        task.component_spec.implementation.container.env = {IMAGE_ENV: image}
        return task

    return decorate
