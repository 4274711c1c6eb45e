"""A new upstream release in one command: `kfp-gcp manifests pin --version X`.

`pin` downloads KFP's tag tarball, finds the Argo Workflows tag that release's manifests
refer to, downloads that tarball too, and only when both carry the commit git recorded in
them (their pax headers) unpacks them into the fetch cache, records both tags and commits
in manifests/versions.yaml, and gives the release its version component
(`components/kfp-<major.minor>`: the existing one with its image tags moved, or a copy of
the default release's, to review). `review` compares the render of the current release
with the new one and lists what a person must check before making it the default.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.manifests import compose, upstream
from kfp_gcp.services.manifests.upstream import LOCK_FILE, Lock, Pin, Progress, Release
from kfp_gcp.services.project import Project

KFP_REPOSITORY = "kubeflow/pipelines"
ARGO_REPOSITORY = "argoproj/argo-workflows"
# The API server image's own settings (its Dockerfile copies this folder to /config).
API_SERVER_CONFIG = "backend/src/apiserver/config/config.json"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_UNKNOWN_COMMIT = "0" * 40
_KFP_IMAGES = "ghcr.io/kubeflow/"
_ARGO_IMAGES = "quay.io/argoproj/"


@dataclasses.dataclass(frozen=True)
class Pinned:
    """What `pin` recorded."""

    version: str
    kfp: Pin
    argo: Pin
    component: str  # components/kfp-<major.minor>
    scaffolded_from: str | None  # the component it was copied from, if it is new
    replaced: str | None  # the release of the same major.minor it replaced in the lock
    default: str  # the lock's default afterwards
    api_server_plugins: list[str]  # `plugins` of the API server image's config.json


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _members(tarball: Path) -> Iterable[tuple[str, bytes]]:
    with tarfile.open(tarball, mode="r:*") as archive:
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()


def argo_tag(tarball: Path, folder: str) -> str:
    """The one Argo Workflows tag the release's kustomizations refer to."""
    prefix = f"{folder}/{upstream.KFP_MANIFESTS}/"
    refs: dict[str, str] = {}
    for name, data in _members(tarball):
        if name.startswith(prefix) and name.rsplit("/", 1)[-1] in (
            "kustomization.yaml",
            "kustomization.yml",
        ):
            for match in upstream.ARGO_REMOTE.finditer(data.decode("utf-8", "replace")):
                refs.setdefault(match["ref"], name.removeprefix(f"{folder}/"))
    if len(refs) != 1:
        found = ", ".join(f"{ref} ({where})" for ref, where in sorted(refs.items())) or "none"
        raise RunError(
            f"{folder} must refer to exactly one Argo Workflows tag; found {found}",
            hint="pin the Argo release by hand in manifests/versions.yaml after reading "
            "upstream's third-party/argo kustomizations",
        )
    return next(iter(refs))


def api_server_plugins(tarball: Path, folder: str) -> list[str]:
    """The plugins the API server image turns on by itself (its config.json)."""
    for name, data in _members(tarball):
        if name == f"{folder}/{API_SERVER_CONFIG}":
            try:
                config = json.loads(data)
            except ValueError:
                return []
            return sorted((config.get("plugins") or {}).keys())
    return []


def lock_text(lock: Lock, header: str) -> str:
    """manifests/versions.yaml: the header comment, then the releases, newest first."""

    def order(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    lines = [header.rstrip("\n"), f'default: "{lock.default}"', "releases:"]
    for version in sorted(lock.releases, key=order, reverse=True):
        lines.append(f'  "{version}":')
        for name, pin in (
            ("kfp", lock.releases[version].kfp),
            ("argo", lock.releases[version].argo),
        ):
            lines += [
                f"    {name}:",
                f"      repository: {pin.repository}",
                f'      tag: "{pin.tag}"' if pin.tag[0].isdigit() else f"      tag: {pin.tag}",
                f"      commit: {pin.commit}",
            ]
    return "\n".join(lines) + "\n"


def _lock_header(project: Project) -> str:
    text = (project.root / LOCK_FILE).read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    return "\n".join(header) + "\n"


def _retag(text: str, old: Release, new: Release) -> str:
    """Move a version component's tags (and the versions it names) to the new release."""
    for before, after in ((old.kfp.tag, new.kfp.tag), (old.argo.tag, new.argo.tag)):
        text = re.sub(rf"(?<![\w.]){re.escape(before)}(?![\w.])", after, text)
    return text


def _check_tags(path: Path, release: Release) -> None:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for image in data.get("images") or []:
        name, tag = str(image.get("name", "")), str(image.get("newTag", ""))
        expected = (
            release.kfp.tag
            if name.startswith(_KFP_IMAGES)
            else release.argo.tag
            if name.startswith(_ARGO_IMAGES)
            else None
        )
        if expected is not None and tag != expected:
            raise RunError(
                f"{path.name}: {name} is still at {tag}, not {expected}",
                hint=f"set its newTag in {path.parent.name} by hand",
            )


def _version_component(
    project: Project, before: Lock, replaced: str | None, version: str, release: Release
) -> str | None:
    """Give `version` its component; returns the component it was copied from, if new."""
    root = project.root / compose.MANIFESTS
    target = root / compose.version_component(version)
    if target.is_dir():
        source_release = before.releases[replaced] if replaced else None
        path = target / "kustomization.yaml"
        if source_release is not None:
            path.write_text(_retag(path.read_text(encoding="utf-8"), source_release, release))
        _check_tags(path, release)
        return None
    source = compose.version_component(before.default)
    shutil.copytree(root / source, target)
    path = target / "kustomization.yaml"
    note = (
        f"# Scaffolded by `kfp-gcp manifests pin --version {version}` from {source}: review\n"
        f"# every image, patch and comment below against KFP {version} before making it the\n"
        "# default (docs/upgrading.md).\n"
    )
    path.write_text(
        note + _retag(path.read_text(encoding="utf-8"), before.releases[before.default], release)
    )
    _check_tags(path, release)
    return source


def pin(
    project: Project, version: str, progress: Progress, base_url: str = upstream.GITHUB
) -> Pinned:
    """Download, verify and record release `version` (see the module's docstring)."""
    if not _VERSION.match(version):
        raise ConfigError(
            f"--version {version!r} is not a KFP release tag",
            hint="give MAJOR.MINOR.PATCH as on github.com/kubeflow/pipelines/releases, e.g. 2.18.0",
        )
    before = upstream.load_lock(project)
    header = _lock_header(project)
    replaced = next(
        (v for v in before.releases if _minor(v) == _minor(version) and v != version), None
    )
    target = upstream.cache_dir(project)
    target.mkdir(parents=True, exist_ok=True)
    kfp = Pin(repository=KFP_REPOSITORY, tag=version, commit=_UNKNOWN_COMMIT)
    with upstream.downloaded(target, kfp, base_url, progress) as (kfp_tarball, kfp_url, _, _):
        kfp = kfp.model_copy(update={"commit": _commit(kfp_tarball, kfp_url)})
        argo = Pin(
            repository=ARGO_REPOSITORY,
            tag=argo_tag(kfp_tarball, kfp.folder),
            commit=_UNKNOWN_COMMIT,
        )
        plugins = api_server_plugins(kfp_tarball, kfp.folder)
        with upstream.downloaded(target, argo, base_url, progress) as (
            argo_tarball,
            argo_url,
            _,
            _,
        ):
            argo = argo.model_copy(update={"commit": _commit(argo_tarball, argo_url)})
            # Both verified: unpack, then record.
            upstream.install(kfp_tarball, target, kfp, kfp_url)
            upstream.install(argo_tarball, target, argo, argo_url)
    release = Release(kfp=kfp, argo=argo)
    releases = {v: r for v, r in before.releases.items() if v != replaced}
    releases[version] = release
    default = version if before.default == replaced else before.default
    lock = Lock(default=default, releases=releases)
    (project.root / LOCK_FILE).write_text(lock_text(lock, header), encoding="utf-8")
    upstream.load_lock(project)  # what was written reads back
    scaffolded = _version_component(project, before, replaced, version, release)
    return Pinned(
        version=version,
        kfp=kfp,
        argo=argo,
        component=compose.version_component(version),
        scaffolded_from=scaffolded,
        replaced=replaced,
        default=default,
        api_server_plugins=plugins,
    )


def _commit(tarball: Path, url: str) -> str:
    commit = upstream.tarball_commit(tarball)
    if commit is None:
        raise RunError(
            f"{url} records no commit (no pax comment): not a GitHub source tarball",
            hint="pin only tags of the real repositories; nothing was recorded",
        )
    return commit


# Review: what changed between two renders.


@dataclasses.dataclass(frozen=True)
class Review:
    old: str
    new: str
    images: list[tuple[str, str, str]]  # (image, old tags, new tags), "-" when absent
    rbac: list[str]  # "+ Role pipeline-runner: mlflow.kubeflow.org/experiments get"
    crds: list[str]  # "+ name", "- name", "~ name: v1alpha1 -> v1alpha1, v1"
    removed_settings: list[str]  # upstream settings the new release no longer has
    stale_settings: list[str]  # settings kfp-gcp still sets that upstream dropped
    api_server_plugins: list[str]
    release_notes: list[str]


def _split_image(ref: str) -> tuple[str, str]:
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        return ref.rsplit(":", 1)[0], ref.rsplit(":", 1)[1]
    return ref, "(untagged)"


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = (spec.get("template") or {}).get("spec") or (spec if obj["kind"] == "Pod" else {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def image_tags(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Image -> tags, from containers, *_IMAGE values, --executor-image and cacheImage."""
    refs: list[str] = []
    for obj in objects:
        for c in _containers(obj):
            refs.append(c["image"])
            refs += [
                str(e["value"])
                for e in c.get("env", [])
                if e["name"].endswith("_IMAGE") and "value" in e
            ]
            args = [str(a) for a in c.get("args", [])]
            refs += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--executor-image"]
        if obj["kind"] == "ConfigMap" and "cacheImage" in (obj.get("data") or {}):
            refs.append(str(obj["data"]["cacheImage"]))
    found: dict[str, set[str]] = {}
    for ref in refs:
        name, tag = _split_image(ref)
        found.setdefault(name, set()).add(tag)
    return found


def rbac_rules(objects: list[dict[str, Any]]) -> set[str]:
    rules = set()
    for obj in objects:
        if obj["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in obj.get("rules") or []:
            names = f" ({', '.join(rule['resourceNames'])})" if rule.get("resourceNames") else ""
            for group in rule.get("apiGroups") or [""]:
                for resource in rule.get("resources") or rule.get("nonResourceURLs") or []:
                    where = f"{group}/{resource}" if group else resource
                    verbs = " ".join(rule.get("verbs") or [])
                    rules.add(f"{obj['kind']} {obj['metadata']['name']}: {where}{names} {verbs}")
    return rules


def crd_versions(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {
        o["metadata"]["name"]: ", ".join(
            v["name"] for v in o["spec"].get("versions", []) if v.get("served")
        )
        for o in objects
        if o["kind"] == "CustomResourceDefinition"
    }


def settings(objects: list[dict[str, Any]]) -> set[str]:
    """ConfigMap keys, container env names and command-line flags, one string each."""
    found = set()
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "ConfigMap":
            found |= {f"ConfigMap {name}: {key}" for key in obj.get("data") or {}}
        for c in _containers(obj):
            where = f"{obj['kind']} {name}, container {c['name']}"
            found |= {f"{where}: env {e['name']}" for e in c.get("env", [])}
            for arg in [*c.get("command", []), *c.get("args", [])]:
                flag = re.match(r"^(--?[A-Za-z][\w.-]*)", str(arg))
                if flag:
                    found.add(f"{where}: flag {flag[1]}")
    return found


def review(
    old: compose.Rendered, new: compose.Rendered, argo_tag: str, plugins: list[str]
) -> Review:
    """What a person must check before `new` (pinned with Argo `argo_tag`) becomes the
    default."""
    old_images, new_images = image_tags(old.objects), image_tags(new.objects)
    images = [
        (
            name,
            ", ".join(sorted(old_images.get(name, set()))) or "-",
            ", ".join(sorted(new_images.get(name, set()))) or "-",
        )
        for name in sorted(old_images.keys() | new_images.keys())
        if old_images.get(name) != new_images.get(name)
    ]
    old_rules, new_rules = rbac_rules(old.objects), rbac_rules(new.objects)
    rbac = [f"+ {r}" for r in sorted(new_rules - old_rules)] + [
        f"- {r}" for r in sorted(old_rules - new_rules)
    ]
    old_crds, new_crds = crd_versions(old.objects), crd_versions(new.objects)
    crds = (
        [f"+ {n} ({new_crds[n]})" for n in sorted(new_crds.keys() - old_crds.keys())]
        + [f"- {n}" for n in sorted(old_crds.keys() - new_crds.keys())]
        + [
            f"~ {n}: {old_crds[n]} -> {new_crds[n]}"
            for n in sorted(old_crds.keys() & new_crds.keys())
            if old_crds[n] != new_crds[n]
        ]
    )
    old_upstream = settings(compose.upstream_objects(old))
    new_upstream = settings(compose.upstream_objects(new))
    ours = settings(new.objects) - new_upstream
    return Review(
        old=old.version,
        new=new.version,
        images=images,
        rbac=rbac,
        crds=crds,
        removed_settings=sorted(old_upstream - new_upstream),
        stale_settings=sorted(ours & (old_upstream - new_upstream)),
        api_server_plugins=plugins,
        release_notes=[
            f"https://github.com/{KFP_REPOSITORY}/releases/tag/{new.version}",
            f"https://github.com/{KFP_REPOSITORY}/blob/{new.version}/CHANGELOG.md",
            f"https://github.com/{ARGO_REPOSITORY}/releases/tag/{argo_tag}",
        ],
    )
