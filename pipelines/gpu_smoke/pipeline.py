from kfp import dsl

from components.gpu_info.component import gpu_info
from components.placement import on_gpu_pool


@dsl.pipeline(
    name="gpu-smoke",
    description="Schedule one task on the GPU node pool and report the GPUs it sees: a check "
    "that the pool scales up from zero, the taint is tolerated and the driver is mounted.",
)
def gpu_smoke() -> int:
    task = on_gpu_pool(gpu_info(), gpus=1)
    return task.outputs["Output"]
