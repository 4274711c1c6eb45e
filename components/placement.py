"""Where tasks run on the cluster: helpers for pipelines, not components themselves.

The GKE GPU pool (terraform/modules/gke) scales from zero, is tainted
nvidia.com/gpu=present:NoSchedule and named by the label cloud.google.com/gke-nodepool.
A task lands there only if it tolerates the taint, selects the pool and requests GPUs;
the autoscaler then adds a node for it and removes it when idle.
"""

from kfp import dsl, kubernetes

GPU_POOL = "gpu"


def on_gpu_pool(task: dsl.PipelineTask, gpus: int = 1, pool: str = GPU_POOL) -> dsl.PipelineTask:
    """Run `task` on the GPU node pool with `gpus` GPUs."""
    task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(gpus)
    kubernetes.add_toleration(task, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
    kubernetes.add_node_selector(task, label_key="cloud.google.com/gke-nodepool", label_value=pool)
    return task
