"""The upstream KFP and Argo Workflows releases: pinned, fetched, verified, localized.

Sources live in a folder with GitHub's tarball layout (`pipelines-2.17.0/`,
`argo-workflows-4.0.5/`): the cache that `fetch` fills (build/upstream/sources), or a
folder of already unpacked sources given by --upstream-dir / KFP_GCP_UPSTREAM_DIR (CI
uses ../shared/upstream). `prepare` copies the KFP manifests and rewrites their remote
Argo bases (https://github.com/argoproj/argo-workflows/...?ref=TAG) to the local Argo
copy, which is what `kustomize localize` would do, so builds need no network.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kfp_gcp.errors import ConfigError, PrerequisiteError, RunError
from kfp_gcp.services.project import Project, relative

LOCK_FILE = "manifests/versions.yaml"
UPSTREAM_DIR_ENV = "KFP_GCP_UPSTREAM_DIR"
GITHUB = "https://github.com"
_ARGO_REMOTE = re.compile(
    r"https://github\.com/argoproj/argo-workflows/(?P<path>[^?\s]+)\?ref=(?P<ref>[^&\s]+)\S*"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pin(_Strict):
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    tag: str
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")

    @property
    def folder(self) -> str:
        """GitHub's tarball top folder: `<repo name>-<tag without a leading v>`."""
        return f"{self.repository.split('/')[1]}-{self.tag.removeprefix('v')}"

    @property
    def url_path(self) -> str:
        return f"/{self.repository}/archive/refs/tags/{self.tag}.tar.gz"


class Release(_Strict):
    kfp: Pin
    argo: Pin


class Lock(_Strict):
    default: str
    releases: dict[str, Release]


def load_lock(project: Project) -> Lock:
    import yaml

    path = project.root / LOCK_FILE
    try:
        lock = Lock.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{LOCK_FILE} is missing", hint="restore it from git") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(
            f"{LOCK_FILE}: {'.'.join(map(str, error['loc']))}: {error['msg']}",
            hint="each release needs kfp and argo pins with repository, tag and a 40-hex commit",
        ) from None
    if lock.default not in lock.releases:
        raise ConfigError(
            f"{LOCK_FILE}: default {lock.default!r} is not a listed release",
            hint=f"choose one of {', '.join(lock.releases)}",
        )
    return lock


def release(project: Project, version: str | None) -> tuple[str, Release]:
    lock = load_lock(project)
    chosen = version or lock.default
    if chosen not in lock.releases:
        raise ConfigError(
            f"KFP {chosen} is not supported",
            hint=f"supported versions: {', '.join(lock.releases)} (see {LOCK_FILE})",
        )
    return chosen, lock.releases[chosen]


def sources_dir(project: Project, override: Path | None = None) -> Path:
    """Where unpacked sources are read: --upstream-dir, KFP_GCP_UPSTREAM_DIR, else the cache."""
    if override is not None:
        return override.resolve()
    if os.environ.get(UPSTREAM_DIR_ENV):
        return Path(os.environ[UPSTREAM_DIR_ENV]).resolve()
    return project.build_dir / "upstream" / "sources"


def check_sources(project: Project, version: str, sources: Path) -> Release:
    """The release's folders exist under `sources`, or a PrerequisiteError says how to get them."""
    _, pins = release(project, version)
    for pin, inner in ((pins.kfp, "manifests/kustomize"), (pins.argo, "manifests")):
        if not (sources / pin.folder / inner).is_dir():
            raise PrerequisiteError(
                f"no {pin.repository} {pin.tag} sources at {sources / pin.folder}",
                hint=f"run `kfp-gcp manifests fetch --version {version}`, or point "
                f"--upstream-dir / {UPSTREAM_DIR_ENV} at unpacked sources (../shared/upstream in CI)",
            )
    return pins


# Fetching.

Progress = Callable[[str], None]


def tarball_commit(data: bytes) -> str | None:
    """The commit `git archive` recorded in a tarball's pax global header, if any."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        comment = archive.pax_headers.get("comment", "")
    return comment if re.fullmatch(r"[0-9a-f]{40}", comment) else None


def download(url: str, progress: Progress, timeout: float = 60) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "kfp-gcp"})  # noqa: S310 (https or a test server)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0)
            chunks, done = [], 0
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                done += len(chunk)
                progress(f"{done / 1e6:.1f} MB" + (f" of {total / 1e6:.1f} MB" if total else ""))
            return b"".join(chunks)
    except OSError as exc:
        raise RunError(
            f"cannot download {url}: {exc}",
            hint=f"check the network, or use unpacked sources with --upstream-dir / {UPSTREAM_DIR_ENV}",
        ) from None


def fetch(
    project: Project,
    version: str,
    progress: Progress,
    base_url: str = GITHUB,
) -> list[str]:
    """Download, verify and unpack the release's tarballs into the cache.

    Returns what was done per tarball. A tarball is unpacked only after its recorded
    commit matches the lock; on a mismatch nothing is written."""
    _, pins = release(project, version)
    target = sources_dir(project, override=project.build_dir / "upstream" / "sources")
    target.mkdir(parents=True, exist_ok=True)
    report = []
    for pin in (pins.kfp, pins.argo):
        marker = target / f"{pin.folder}.commit"
        if (target / pin.folder).is_dir() and marker.is_file() and marker.read_text().strip() == pin.commit:
            report.append(f"{pin.folder}: cached ({pin.commit[:12]})")
            continue
        url = base_url.rstrip("/") + pin.url_path
        data = download(url, lambda text, p=pin: progress(f"{p.folder}: {text}"))
        found = tarball_commit(data)
        if found != pin.commit:
            raise RunError(
                f"{url} is commit {found or 'unknown'}, but {LOCK_FILE} pins {pin.commit}",
                hint="the tag may have moved upstream: check it, then update the lock deliberately",
            )
        _unpack(data, target, pin.folder)
        marker.write_text(pin.commit + "\n")
        report.append(f"{pin.folder}: fetched and verified ({pin.commit[:12]}, sha256 "
                      f"{hashlib.sha256(data).hexdigest()[:12]})")
    return report


def _unpack(data: bytes, target: Path, folder: str) -> None:
    staging = target / f".{folder}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        members = [m for m in archive.getmembers() if m.name.split("/")[0] == folder]
        if not members:
            raise RunError(f"the tarball has no {folder}/ folder", hint="check the lock's repository and tag")
        archive.extractall(staging, members=members, filter="data")
    shutil.rmtree(target / folder, ignore_errors=True)
    (staging / folder).rename(target / folder)
    shutil.rmtree(staging, ignore_errors=True)


# Localizing.


def prepare(project: Project, version: str, sources: Path) -> Path:
    """A build-ready copy of the release: `<dir>/kfp` (KFP's manifests/kustomize) and
    `<dir>/argo` (Argo's manifests), with every remote Argo base pointing at `argo/`."""
    pins = check_sources(project, version, sources)
    prepared = project.build_dir / "upstream" / "prepared" / version
    stamp = f"{sources}\n{pins.kfp.commit}\n{pins.argo.commit}\n"
    if (prepared / ".stamp").is_file() and (prepared / ".stamp").read_text() == stamp:
        return prepared
    shutil.rmtree(prepared, ignore_errors=True)
    shutil.copytree(sources / pins.kfp.folder / "manifests" / "kustomize", prepared / "kfp")
    shutil.copytree(sources / pins.argo.folder / "manifests", prepared / "argo")
    for kustomization in (prepared / "kfp").rglob("kustomization.yaml"):
        text = kustomization.read_text(encoding="utf-8")
        if "argoproj/argo-workflows" not in text:
            continue

        def local(match: re.Match[str], here: Path = kustomization.parent) -> str:
            if match["ref"] != pins.argo.tag:
                raise ConfigError(
                    f"{relative(project, here)} asks for Argo {match['ref']}, "
                    f"but {LOCK_FILE} pins {pins.argo.tag} for KFP {version}",
                    hint="fix the lock's argo pin for this release",
                )
            path = match["path"].removeprefix("manifests/")
            return os.path.relpath(prepared / "argo" / path, here)

        kustomization.write_text(_ARGO_REMOTE.sub(local, text), encoding="utf-8")
    (prepared / ".stamp").write_text(stamp)
    return prepared
