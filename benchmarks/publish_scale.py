"""How `pipelines deploy` scales: 100 generated pipelines against the local KFP double
(tests/fake_kfp.py) with 50 ms added to every request (an IAP round trip).

Run with `make bench` (BENCH_PIPELINES, BENCH_LATENCY_MS and BENCH_RUNS change the
set-up). Each phase is the CLI in a fresh process, as a person or CI runs it:
compile alone, the first deploy, a no-op deploy, a deploy with one pipeline changed, and a
no-op deploy after 49 more versions of history per pipeline. Prints writes, requests,
retries and wall time of each, and the no-op deploy's time over compile-only time.
Asserts nothing (speed is measured, not tested).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fake_kfp import FakeKfp  # noqa: E402

COUNT = int(os.environ.get("BENCH_PIPELINES", "100"))
LATENCY_S = float(os.environ.get("BENCH_LATENCY_MS", "50")) / 1000
HISTORY = 49
# Compile alone and the no-op deploy run in turns this many times: the machine's load
# changes slowly, so each pair's ratio is fair even when the absolute times move.
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
BIN = Path(sys.executable).parent


def generate(root: Path) -> None:
    """`COUNT` copies of pipelines/training (with its schedules), each its own pipeline."""
    shutil.copytree(REPO / "components", root / "components")
    source = (REPO / "pipelines/training/pipeline.py").read_text()
    for i in range(COUNT):
        name = f"training_{i:03d}"
        folder = root / "pipelines" / name
        folder.mkdir(parents=True)
        text = source.replace('name="training"', f'name="{name.replace("_", "-")}"')
        text = re.sub(r"^def training\(", f"def {name}(", text, flags=re.MULTILINE)
        (folder / "pipeline.py").write_text(text)
        shutil.copy(REPO / "pipelines/training/schedules.yaml", folder)
    (root / ".gitignore").write_text("build/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    commit(root, "generated")


def git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def timed(fake: FakeKfp, args: list[str]) -> dict[str, float | int | str]:
    fake.reset_log()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([str(BIN / "kfp-gcp"), *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode:
        raise SystemExit(f"kfp-gcp {' '.join(args)} failed:\n{done.stderr}")
    figures: dict[str, float | int | str] = {
        "seconds": seconds,
        "cpu": cpu,
        "requests": len(fake.log),
        "writes": len(fake.writes),
        "retries": 0,
    }
    if "deploy" in args:
        summary = json.loads(done.stdout)
        figures["retries"] = summary["retries"]
        statuses = [r["status"] for r in summary["results"]]
        figures["outcome"] = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    return figures


def add_history(fake: FakeKfp) -> None:
    """49 older versions under every pipeline, as months of changes would leave."""
    with fake.lock:
        for pipeline in list(fake.pipelines.values()):
            for i in range(HISTORY):
                version = fake._add_version(
                    pipeline["pipeline_id"], f"v-old{i:03d}", f"content-sha256: {i:064x}",
                    {"pipelineInfo": {"name": pipeline["name"]}}, None,
                )  # fmt: skip
                version["_created"] = -HISTORY + i  # before everything deploy made


def main() -> None:
    fake = FakeKfp().start()
    fake.latency = LATENCY_S
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        generate(root)
        base = ["--project-dir", str(root)]
        deploy = [*base, "-o", "json", "pipelines", "deploy", "--env", "dev", "--host", fake.url]
        rows = [("first deploy", timed(fake, deploy))]
        pairs = [
            (timed(fake, [*base, "pipelines", "compile"]), timed(fake, deploy)) for _ in range(RUNS)
        ]
        ratios = [float(n["seconds"]) / float(c["seconds"]) for c, n in pairs]
        cpu_ratios = [float(n["cpu"]) / float(c["cpu"]) for c, n in pairs]
        middle = ratios.index(median(ratios))
        rows.insert(0, ("compile alone", pairs[middle][0]))
        rows.append(("no-op deploy", pairs[middle][1]))
        changed = root / f"pipelines/training_{COUNT // 2:03d}/pipeline.py"
        changed.write_text(changed.read_text().replace("Train a classifier", "Train a model"))
        commit(root, "one change")
        rows.append(("one pipeline changed", timed(fake, deploy)))
        add_history(fake)
        rows.append((f"no-op, {HISTORY + 1}+ versions each", timed(fake, deploy)))
    fake.stop()

    print(
        f"{COUNT} pipelines (copies of training, with schedules), "
        f"{LATENCY_S * 1000:.0f} ms per request, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores"
    )
    header = f"{'wall':>8} {'cpu':>7} {'requests':>9} {'writes':>7} {'retries':>8}"
    print(f"{'phase':<30} {header}  outcome")
    for label, f in rows:
        print(
            f"{label:<30} {f['seconds']:>7.1f}s {f['cpu']:>6.1f}s {f['requests']:>9} "
            f"{f['writes']:>7} {f['retries']:>8}  {f.get('outcome', '')}"
        )
    print(
        f"no-op deploy / compile alone: {median(ratios):.2f}x (goal: at most 1.2x), the median "
        f"of {RUNS} runs in turns: {', '.join(f'{r:.2f}x' for r in ratios)}"
    )
    print(
        f"the same in CPU time (user + system, which the machine's other load moves less): "
        f"{median(cpu_ratios):.2f}x ({', '.join(f'{r:.2f}x' for r in cpu_ratios)})"
    )
    same = rows[2][1]["requests"] == rows[4][1]["requests"]
    print(
        f"requests per no-op deploy: {rows[2][1]['requests']} with 1 version per pipeline, "
        f"{rows[4][1]['requests']} with {HISTORY + 1}+ ({'the same' if same else 'different'})"
    )


if __name__ == "__main__":
    main()
