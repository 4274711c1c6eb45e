from kfp.dsl import Metrics, Output

from components.runtime import component


@component(image="base")
def gpu_info(metrics: Output[Metrics]) -> int:
    """Report the GPUs the task can see, to check that GPU scheduling works end to end.

    On GKE the NVIDIA driver and nvidia-smi are mounted into containers that request a
    GPU (under /usr/local/nvidia); elsewhere the task reports 0 GPUs instead of failing.

    Args:
        metrics: gpu_count, and gpu_memory_mib of the first GPU when there is one.

    Returns:
        The number of GPUs visible to the task.
    """
    import os
    import shutil
    import subprocess

    nvidia_smi = shutil.which("nvidia-smi", path=f"/usr/local/nvidia/bin:{os.environ['PATH']}")
    rows = []
    if nvidia_smi:
        listing = subprocess.run(
            [nvidia_smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            check=True,
        )
        rows = [line.split(", ") for line in listing.stdout.splitlines() if line.strip()]
    for name, memory in rows:
        print(f"GPU: {name}, {memory} MiB")
    metrics.log_metric("gpu_count", len(rows))
    if rows:
        metrics.log_metric("gpu_memory_mib", int(rows[0][1]))
    return len(rows)
