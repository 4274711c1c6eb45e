"""The upstream KFP and Argo Workflows releases: pinned, fetched, verified, localized.

Sources live in a folder with GitHub's tarball layout (`pipelines-2.17.0/`,
`argo-workflows-4.0.5/`): the cache that `fetch` fills (build/upstream/sources), or a
folder of already unpacked sources given by --upstream-dir / KFP_GCP_UPSTREAM_DIR (CI
uses ../shared/upstream). `prepare` copies the KFP manifests and rewrites their remote
Argo bases (https://github.com/argoproj/argo-workflows/...?ref=TAG) to the local Argo
copy, which is what `kustomize localize` would do, so builds need no network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kfp_gcp.errors import ConfigError, PrerequisiteError, RunError
from kfp_gcp.services.project import Project, relative

LOCK_FILE = "manifests/versions.yaml"
UPSTREAM_DIR_ENV = "KFP_GCP_UPSTREAM_DIR"
GITHUB_URL_ENV = "KFP_GCP_GITHUB_URL"
GITHUB = "https://github.com"
# What a build reads from each unpacked tarball (the rest of the repository is not kept).
KFP_MANIFESTS = "manifests/kustomize"
ARGO_MANIFESTS = "manifests"
_KEPT = ("manifests", "LICENSE")
ARGO_REMOTE = re.compile(
    r"https://github\.com/argoproj/argo-workflows/(?P<path>[^?\s\"']+)"
    r"\?ref=(?P<ref>[^&\s\"']+)[^\s\"']*"
)
_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Bump when `prepare` rewrites differently, so older prepared copies are rebuilt.
_PREPARE_FORMAT = "2"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pin(_Strict):
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    tag: str = Field(pattern=r"^[\w.-]+$")
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


def cache_dir(project: Project) -> Path:
    """Where `fetch` unpacks tarballs (git-ignored)."""
    return project.build_dir / "upstream" / "sources"


def sources_dir(project: Project, override: Path | None = None) -> Path:
    """Where unpacked sources are read: --upstream-dir, KFP_GCP_UPSTREAM_DIR, else the cache."""
    if override is not None:
        return override.resolve()
    if os.environ.get(UPSTREAM_DIR_ENV):
        return Path(os.environ[UPSTREAM_DIR_ENV]).resolve()
    return cache_dir(project)


SourceState = Literal["present", "missing", "stale"]


def _marker(sources: Path, pin: Pin) -> Path:
    """`fetch` records the verified commit of each unpacked folder beside it."""
    return sources / f"{pin.folder}.commit"


def _state(sources: Path, pin: Pin, inner: str) -> tuple[SourceState, str]:
    if not (sources / pin.folder / inner).is_dir():
        return "missing", f"no {pin.repository} {pin.tag} sources at {sources / pin.folder}"
    marker = _marker(sources, pin)
    if marker.is_file() and (found := marker.read_text().strip()) != pin.commit:
        return "stale", (
            f"{sources / pin.folder} holds {pin.repository} commit {found[:12]}, "
            f"but {LOCK_FILE} pins {pin.commit[:12]}"
        )
    return "present", ""


def source_state(pins: Release, sources: Path) -> SourceState:
    """`present` when both folders are there (and, in the cache, are the pinned commits)."""
    states = {
        _state(sources, pins.kfp, KFP_MANIFESTS)[0],
        _state(sources, pins.argo, ARGO_MANIFESTS)[0],
    }
    return "missing" if "missing" in states else "stale" if "stale" in states else "present"


def check_sources(project: Project, version: str, sources: Path) -> Release:
    """The release's folders exist under `sources`, or a PrerequisiteError says how to get them."""
    _, pins = release(project, version)
    for pin, inner in ((pins.kfp, KFP_MANIFESTS), (pins.argo, ARGO_MANIFESTS)):
        state, problem = _state(sources, pin, inner)
        if state != "present":
            raise PrerequisiteError(
                problem,
                hint=f"run `kfp-gcp manifests fetch --version {version}`, or point "
                f"--upstream-dir / {UPSTREAM_DIR_ENV} at unpacked sources "
                "(../shared/upstream in CI)",
            )
    return pins


@dataclasses.dataclass(frozen=True)
class Supported:
    """One release of the lock, and whether its sources are in a sources folder."""

    version: str
    default: bool
    kfp: Pin
    argo: Pin
    sources: SourceState


def supported(project: Project, sources: Path) -> list[Supported]:
    """Every release in the lock, in its order, with the state of its sources."""
    lock = load_lock(project)
    return [
        Supported(
            version=version,
            default=version == lock.default,
            kfp=pins.kfp,
            argo=pins.argo,
            sources=source_state(pins, sources),
        )
        for version, pins in lock.releases.items()
    ]


# Fetching.

# (label, bytes so far, total bytes if the server said)
Progress = Callable[[str, int, int | None], None]


@dataclasses.dataclass(frozen=True)
class Fetched:
    """What `fetch` did with one tarball."""

    version: str
    repository: str
    tag: str
    commit: str
    folder: str
    result: Literal["fetched", "cached"]
    size: int | None = None  # bytes downloaded
    sha256: str | None = None


def tarball_commit(tarball: bytes | Path) -> str | None:
    """The commit `git archive` recorded in a tarball's pax global header, if any."""
    source = {"name": tarball} if isinstance(tarball, Path) else {"fileobj": io.BytesIO(tarball)}
    try:
        with tarfile.open(**source, mode="r:*") as archive:
            comment = archive.pax_headers.get("comment", "")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RunError(
            f"not a readable tar archive: {exc}",
            hint="the server did not return a GitHub source tarball; check the URL",
        ) from None
    return comment if re.fullmatch(r"[0-9a-f]{40}", comment) else None


def download(
    url: str, dest: Path, progress: Callable[[int, int | None], None], timeout: float = 60
) -> tuple[int, str]:
    """Stream `url` into `dest`; returns its size and SHA-256."""
    request = urllib.request.Request(url, headers={"User-Agent": "kfp-gcp"})  # noqa: S310 (https or a test server)
    digest = hashlib.sha256()
    done = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0) or None
            progress(0, total)
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(done, total)
    except urllib.error.HTTPError as exc:
        dest.unlink(missing_ok=True)
        check = f"check the repository and tag in {LOCK_FILE}, or " if exc.code == 404 else ""
        raise RunError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}",
            hint=f"{check}use unpacked sources with --upstream-dir / {UPSTREAM_DIR_ENV}",
        ) from None
    except (OSError, ValueError) as exc:
        dest.unlink(missing_ok=True)
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise RunError(
            f"cannot download {url}: {reason}",
            hint="check the network (GitHub must be reachable), or use unpacked sources "
            f"with --upstream-dir / {UPSTREAM_DIR_ENV} (../shared/upstream in CI)",
        ) from None
    return done, digest.hexdigest()


def fetch(
    project: Project,
    version: str,
    progress: Progress,
    base_url: str = GITHUB,
    force: bool = False,
) -> list[Fetched]:
    """Download, verify and unpack the release's two tarballs into the cache.

    A folder already in the cache with the pinned commit is kept (unless `force`). A
    tarball is unpacked only after the commit git recorded in it matches the lock, and
    only its top folder's `manifests/` and `LICENSE`; on any failure the cache keeps what
    it had."""
    version, pins = release(project, version)
    target = cache_dir(project)
    target.mkdir(parents=True, exist_ok=True)
    results = []
    for pin in (pins.kfp, pins.argo):
        cached = Fetched(version, pin.repository, pin.tag, pin.commit, pin.folder, "cached")
        marker = _marker(target, pin)
        if (
            not force
            and (target / pin.folder).is_dir()
            and marker.is_file()
            and marker.read_text().strip() == pin.commit
        ):
            results.append(cached)
            continue
        with downloaded(target, pin, base_url, progress) as (tarball, url, size, sha256):
            found = tarball_commit(tarball)
            if found != pin.commit:
                raise RunError(
                    f"{url} is commit {found or 'unknown (no commit in the tarball)'}, "
                    f"but {LOCK_FILE} pins {pin.commit}",
                    hint="the tag may have moved upstream: check it, then update the lock "
                    "deliberately; nothing was unpacked",
                )
            install(tarball, target, pin, url)
        results.append(dataclasses.replace(cached, result="fetched", size=size, sha256=sha256))
    return results


@contextlib.contextmanager
def downloaded(
    target: Path, pin: Pin, base_url: str, progress: Progress
) -> Iterator[tuple[Path, str, int, str]]:
    """A pin's tarball downloaded into a temporary folder of `target`, for the block."""
    url = base_url.rstrip("/") + pin.url_path

    def on_chunk(done: int, total: int | None, label: str = pin.folder) -> None:
        progress(label, done, total)

    with tempfile.TemporaryDirectory(dir=target, prefix=".download-") as tmp:
        tarball = Path(tmp) / "source.tar.gz"
        size, sha256 = download(url, tarball, on_chunk)
        yield tarball, url, size, sha256


def install(tarball: Path, target: Path, pin: Pin, url: str) -> None:
    """Unpack a verified tarball into the cache, replacing the folder and its marker."""
    staging = tarball.parent / "unpacked"
    _unpack(tarball, staging, pin.folder, url)
    marker = _marker(target, pin)
    marker.unlink(missing_ok=True)
    shutil.rmtree(target / pin.folder, ignore_errors=True)
    (staging / pin.folder).rename(target / pin.folder)
    marker.write_text(pin.commit + "\n")


def _unpack(tarball: Path, staging: Path, folder: str, url: str) -> None:
    """Extract `<folder>/manifests/` and `<folder>/LICENSE` into `staging`."""
    try:
        with tarfile.open(tarball, mode="r:*") as archive:
            every = archive.getmembers()
            kept = [m for m in every if _top_and_next(m.name)[0] == folder]
            kept = [m for m in kept if _top_and_next(m.name)[1] in _KEPT]
            if not any(_top_and_next(m.name)[1] == "manifests" for m in kept):
                tops = sorted({_top_and_next(m.name)[0] for m in every})
                raise RunError(
                    f"{url} has no {folder}/manifests/ "
                    f"(its top folders: {', '.join(tops[:3]) or 'none'})",
                    hint=f"GitHub source tarballs unpack to {folder}/: check the repository "
                    f"and tag in {LOCK_FILE}; nothing was unpacked",
                )
            archive.extractall(staging, members=kept, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RunError(
            f"cannot unpack {url}: {exc}",
            hint="download it again; if it keeps failing, the tarball is not a plain source "
            "archive; nothing was unpacked",
        ) from None


def _top_and_next(name: str) -> tuple[str, str]:
    parts = name.split("/")
    return parts[0], parts[1] if len(parts) > 1 else ""


# Localizing.


def prepare(project: Project, version: str, sources: Path) -> Path:
    """A build-ready copy of the release: `<dir>/kfp` (KFP's manifests/kustomize) and
    `<dir>/argo` (Argo's manifests), with every remote Argo base pointing at `argo/`."""
    pins = check_sources(project, version, sources)
    prepared = project.build_dir / "upstream" / "prepared" / version
    stamp = f"{_PREPARE_FORMAT}\n{sources}\n{pins.kfp.commit}\n{pins.argo.commit}\n"
    if _stamp(prepared) == stamp:
        return prepared
    # Built beside the final folder and renamed into place, so that two renders at once
    # (two terminals, parallel tests) never see a half-written copy.
    prepared.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=prepared.parent))
    try:
        kfp_source = sources / pins.kfp.folder / KFP_MANIFESTS
        shutil.copytree(kfp_source, building / "kfp")
        shutil.copytree(sources / pins.argo.folder / ARGO_MANIFESTS, building / "argo")
        for path in sorted((building / "kfp").rglob("*")):
            if path.name not in _KUSTOMIZATION_NAMES:
                continue
            text = path.read_text(encoding="utf-8")
            if "argoproj/argo-workflows" in text:
                origin = relative(project, kfp_source / path.relative_to(building / "kfp"))
                localize = _Localizer(
                    version, pins, sources, building / "argo", path.parent, origin
                )
                path.write_text(ARGO_REMOTE.sub(localize, text), encoding="utf-8")
        (building / ".stamp").write_text(stamp)
        if prepared.exists():  # stale: move it aside first (a rename, never half a folder)
            stale = Path(tempfile.mkdtemp(prefix=f".{version}-stale-", dir=prepared.parent))
            with contextlib.suppress(FileNotFoundError):
                prepared.rename(stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            building.rename(prepared)
        except OSError:
            if _stamp(prepared) != stamp:  # another process won the race with other inputs
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return prepared


def _stamp(prepared: Path) -> str | None:
    try:
        return (prepared / ".stamp").read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None


@dataclasses.dataclass(frozen=True)
class _Localizer:
    """Turns one remote Argo base URL into the relative path of the local Argo copy."""

    version: str
    pins: Release
    sources: Path
    argo: Path  # the prepared copy of Argo's manifests/
    here: Path  # the folder of the kustomization being rewritten
    origin: str  # that kustomization in the sources, for messages

    def __call__(self, match: re.Match[str]) -> str:
        if match["ref"] != self.pins.argo.tag:
            raise ConfigError(
                f"{self.origin} asks for Argo {match['ref']}, "
                f"but {LOCK_FILE} pins {self.pins.argo.tag} for KFP {self.version}",
                hint=f"fix the argo pin of release {self.version!r} in {LOCK_FILE}",
            )
        inner = match["path"].removeprefix(ARGO_MANIFESTS + "/")
        if inner == match["path"] or not (self.argo / inner).is_dir():
            raise PrerequisiteError(
                f"{self.origin} refers to argo-workflows/{match['path']}, which is not in "
                f"{self.sources / self.pins.argo.folder}",
                hint=f"fetch again: `kfp-gcp manifests fetch --version {self.version} --force`",
            )
        return os.path.relpath(self.argo / inner, self.here)
