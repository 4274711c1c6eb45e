"""How long `kfp-gcp --help` and a real command take to start, in fresh processes.

Run with `make bench`. Prints the figures; asserts nothing (speed is measured, not tested).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
BIN = Path(sys.executable).parent


def measure(label: str, command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)  # warm the page cache and .pyc
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    print(
        f"{label:<42} median {statistics.median(times) * 1000:7.0f} ms   "
        f"min {min(times) * 1000:7.0f} ms   max {max(times) * 1000:7.0f} ms   ({RUNS} runs)"
    )


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    measure("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"])
    measure("kfp-gcp --help", [str(BIN / "kfp-gcp"), "--help"])
    measure("kfp-gcp pipelines --help", [str(BIN / "kfp-gcp"), "pipelines", "--help"])
    measure("python -c 'import kfp' (what --help avoids)", [sys.executable, "-c", "import kfp"])
    measure("kfp-gcp pipelines list (imports kfp)", [str(BIN / "kfp-gcp"), "pipelines", "list"])


if __name__ == "__main__":
    main()
