"""Render KFP for an environment: the kustomize composition under manifests/, built
against a prepared upstream release and the environment's outputs contract.

`render` makes a build copy `build/manifests/<env>-<version>/` of `manifests/`, links
`upstream` (the prepared release, see kfp_gcp.services.manifests.upstream), `version`
(`components/kfp-<major.minor>`) and `access` (the component of the contract's access
mode) into it, writes `overlays/<env>/platform.env` from the
outputs contract, and runs kustomize (kubectl's, 5.8) twice: `cluster-scoped/` (Namespace,
CRDs, a ClusterRole) and `overlays/<env>/` (everything in the kubeflow namespace). Nothing
in git holds a value from the contract: the components copy them from the generated
ConfigMap kfp-gcp-platform with kustomize replacements (docs/manifests.md).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from kfp_gcp.errors import ConfigError, RunError, ToolError
from kfp_gcp.services.cluster.access import tool
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.manifests import upstream
from kfp_gcp.services.project import Project, relative

MANIFESTS = "manifests"
PLATFORM_ENV = "platform.env"
NAMESPACE = "kubeflow"
# The contract's access mode -> the component the overlays link as `access`.
ACCESS_COMPONENTS: dict[str, str] = {
    "port-forward": "components/port-forward",
    "inverse-proxy": "components/inverse-proxy",
    "iap": "components/iap-ingress",
}
# What the committed manifests hold where a value from the outputs contract goes; a render
# that still contains it has a replacement that did not apply.
PLACEHOLDER = "set-by-kfp-gcp-platform"

# Registries the rendered images come from, and the Artifact Registry remote repository
# each maps to when `--registry-mirror` is given a bare prefix.
DEFAULT_MIRROR_REPOSITORIES: dict[str, str] = {
    "docker.io": "docker-hub",
    "gcr.io": "gcr",
    "ghcr.io": "ghcr",
    "quay.io": "quay",
    "registry.k8s.io": "registry-k8s",
}
# An image reference from one of those registries wherever it appears: a container's
# image, an env value (V2_DRIVER_IMAGE), an argument (--executor-image), a ConfigMap value
# (cacheImage). Not preceded by a character that would make it part of a longer name or a
# URL (https://gcr.io/..., us.gcr.io/...).
_IMAGE = re.compile(
    r"(?<![\w.\-/:@])(?P<registry>docker\.io|gcr\.io|ghcr\.io|quay\.io|registry\.k8s\.io)"
    r"/(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
)


@dataclasses.dataclass(frozen=True)
class Rendered:
    """One environment's manifests: two YAML bundles, applied in this order."""

    env: str
    version: str
    cluster_scoped: str
    namespaced: str
    cluster_objects: list[dict[str, Any]]
    namespaced_objects: list[dict[str, Any]]
    work_dir: Path

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [*self.cluster_objects, *self.namespaced_objects]

    @property
    def text(self) -> str:
        """Both bundles as one YAML stream, the cluster-scoped one first."""
        return (
            f"# kfp-gcp manifests render: environment {self.env}, KFP {self.version}\n"
            "# Part 1 of 2, cluster-scoped: apply first and wait for the CRDs to be established.\n"
            f"{self.cluster_scoped.rstrip()}\n"
            "---\n"
            f"# Part 2 of 2, namespace {NAMESPACE}.\n"
            f"{self.namespaced.rstrip()}\n"
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Objects per kind: {kind: {"cluster-scoped": n, "namespaced": m}}, sorted by kind."""
        cluster = Counter(o["kind"] for o in self.cluster_objects)
        namespaced = Counter(o["kind"] for o in self.namespaced_objects)
        return {
            kind: {"cluster-scoped": cluster[kind], "namespaced": namespaced[kind]}
            for kind in sorted(cluster | namespaced)
        }


def kustomize(folder: Path) -> str:
    """`kubectl kustomize` of a folder. Loads across folders: the build copy links upstream in."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        message = " ".join(result.stderr.split())[-600:] or f"exit code {result.returncode}"
        raise ToolError(
            f"kustomize build of {folder} failed: {message}",
            hint="fix the kustomization file in kustomize's message (under manifests/), then "
            "render again",
        )
    return result.stdout


def overlays(project: Project) -> list[str]:
    folder = project.root / MANIFESTS / "overlays"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "kustomization.yaml").is_file())


def overlay_components(project: Project, env: str) -> list[str]:
    """The component folder names (`cloudsql`, `iap-ingress`, ...) an overlay lists."""
    import yaml

    path = project.root / MANIFESTS / "overlays" / env / "kustomization.yaml"
    if not path.is_file():
        raise ConfigError(
            f"no overlay for environment {env!r} ({relative(project, path)} is missing)",
            hint=f"choose one of: {', '.join(overlays(project)) or 'none'} "
            f"(folders under {MANIFESTS}/overlays/)",
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Path(str(c)).name for c in data.get("components") or []]


def version_component(version: str) -> str:
    """`components/kfp-2.17` for 2.17.0: what the build copy links as `version`."""
    major, minor = version.split(".")[:2]
    return f"components/kfp-{major}.{minor}"


def check_contract(outputs: PlatformOutputs, env: str, components: list[str]) -> None:
    """The contract fits the overlay: same environment, gs:// root, and an access mode the
    overlay can take (it links `access`) with exactly the inputs that mode needs."""
    where = f"the outputs contract of {outputs.environment!r}"
    if outputs.environment != env:
        raise ConfigError(
            f"{where} is for environment {outputs.environment!r}, not {env!r}",
            hint=f"render with --env {outputs.environment}, or pass {env}'s contract",
        )
    if outputs.kfp_namespace != NAMESPACE:
        raise ConfigError(
            f"{where}: kfp_namespace is {outputs.kfp_namespace!r}; the manifests install "
            f"into {NAMESPACE!r}",
            hint="the Workload Identity bindings and the manifests both use kubeflow",
        )
    bucket_root = f"gs://{outputs.artifact_bucket}"
    if outputs.pipeline_root.rstrip("/") != bucket_root and not outputs.pipeline_root.startswith(
        bucket_root + "/"
    ):
        raise ConfigError(
            f"{where}: pipeline_root {outputs.pipeline_root!r} is not inside {bucket_root}",
            hint="KFP's default pipeline root must be a gs:// folder of the artifact bucket",
        )
    overlay = f"{MANIFESTS}/overlays/{env}"
    if "access" not in components:
        raise ConfigError(
            f"{overlay} does not list ../../access, so the contract's access mode "
            f"({outputs.access}) cannot apply",
            hint=f"add ../../access to the components of {overlay}/kustomization.yaml "
            "(render links it to the access mode's component)",
        )
    settings = "set them in the environment's terraform.tfvars.json and apply"
    if outputs.access == "iap" and not (outputs.domain and outputs.static_ip_name):
        raise ConfigError(
            f"{where} says access iap but has no domain or static IP",
            hint=f"iap needs settings.ingress.domain; or choose access port-forward or "
            f"inverse-proxy: {settings}",
        )
    if outputs.access != "iap" and outputs.domain:
        raise ConfigError(
            f"{where} has domain {outputs.domain!r} but access {outputs.access!r}",
            hint=f'a domain goes with access "iap"; or set ingress.domain to "": {settings}',
        )
    if (outputs.access == "inverse-proxy") != bool(outputs.service_accounts.inverse_proxy):
        raise ConfigError(
            f"{where}: access {outputs.access!r} "
            + (
                "has no inverse proxy service account"
                if outputs.access == "inverse-proxy"
                else "comes with an inverse proxy service account"
            ),
            hint="the inverse proxy's Google service account exists exactly when access is "
            f"inverse-proxy: {settings}",
        )


def platform_env(outputs: PlatformOutputs) -> str:
    """The contract's values the components read, as a kustomize env file."""
    accounts = outputs.service_accounts
    values = {
        "access": outputs.access,
        "artifact_bucket": outputs.artifact_bucket,
        "cloudsql_connection_name": outputs.cloudsql_connection_name,
        "control_plane_cidr": outputs.control_plane_cidr,
        "domain": outputs.domain,
        "environment": outputs.environment,
        "pipeline_root": outputs.pipeline_root,
        "project_id": outputs.project_id,
        "service_account_cloudsql_proxy": accounts.cloudsql_proxy,
        "service_account_inverse_proxy": accounts.inverse_proxy,
        "service_account_pipeline_runner": accounts.pipeline_runner,
        "service_account_ui": accounts.ui,
        "service_account_viewer": accounts.viewer,
        "static_ip_name": outputs.static_ip_name,
    }
    for key, value in values.items():
        if value != value.strip() or any(c in value for c in "\n\r\"'#"):
            raise ConfigError(
                f"the outputs contract's {key} {value!r} has spaces, quotes, # or line breaks",
                hint="check the environment's Terraform outputs (docs/infra-outputs.md)",
            )
    lines = [f"{key}={value}" for key, value in values.items()]
    header = "# Written by `kfp-gcp manifests render` from the outputs contract. Not in git.\n"
    return header + "\n".join(lines) + "\n"


def parse_mirrors(specs: list[str]) -> dict[str, str]:
    """`--registry-mirror` values: `REGISTRY=PREFIX` entries, or one bare prefix
    (`REGION-docker.pkg.dev/PROJECT`) meaning every registry under its default repository."""
    mirrors: dict[str, str] = {}
    for spec in specs:
        registry, sep, prefix = spec.partition("=")
        if not sep:
            base = spec.strip().rstrip("/")
            if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]+(/[\w.-]+)+", base):
                raise ConfigError(
                    f"--registry-mirror {spec!r} is not a registry path",
                    hint="give REGION-docker.pkg.dev/PROJECT, "
                    "or REGISTRY=REGION-docker.pkg.dev/PROJECT/REPO",
                )
            for known, repository in DEFAULT_MIRROR_REPOSITORIES.items():
                mirrors.setdefault(known, f"{base}/{repository}")
            continue
        registry, prefix = registry.strip(), prefix.strip().rstrip("/")
        if registry not in DEFAULT_MIRROR_REPOSITORIES:
            raise ConfigError(
                f"--registry-mirror {spec!r}: {registry!r} is not a registry the manifests use",
                hint=f"choose among {', '.join(DEFAULT_MIRROR_REPOSITORIES)}",
            )
        if not re.fullmatch(r"[a-z0-9.-]+\.[a-z]+(/[\w.-]+)+", prefix):
            raise ConfigError(
                f"--registry-mirror {spec!r}: {prefix!r} is not a registry path",
                hint="e.g. europe-west1-docker.pkg.dev/my-project/ghcr",
            )
        mirrors[registry] = prefix
    return mirrors


def mirror_images(text: str, mirrors: dict[str, str]) -> str:
    """Every image reference from a mirrored registry rewritten to its mirror, e.g.
    ghcr.io/kubeflow/kfp-api-server:2.17.0 ->
    REGION-docker.pkg.dev/P/ghcr/kubeflow/kfp-api-server:2.17.0. Docker Hub's official
    images get their implicit `library/` (docker.io/alpine -> .../library/alpine)."""

    def rewrite(match: re.Match[str]) -> str:
        registry, path = match["registry"], match["path"]
        if registry not in mirrors:
            return match[0]
        if registry == "docker.io" and "/" not in path:
            path = f"library/{path}"
        return f"{mirrors[registry]}/{path}"

    return _IMAGE.sub(rewrite, text)


def _load(text: str) -> list[dict[str, Any]]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(text, Loader=loader) if doc]


def _make_work_dir(project: Project, work: Path, prepared: Path, version: str, access: str) -> None:
    source = project.root / MANIFESTS

    def ignore(folder: str, names: list[str]) -> list[str]:
        skipped = [n for n in names if n == PLATFORM_ENV]
        if Path(folder) == source:
            skipped += [n for n in names if n in ("upstream", "version", "access")]
        return skipped

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work, ignore=ignore)
    (work / "upstream").symlink_to(prepared, target_is_directory=True)
    (work / "version").symlink_to(version_component(version), target_is_directory=True)
    (work / "access").symlink_to(ACCESS_COMPONENTS[access], target_is_directory=True)


def render(
    project: Project,
    env: str,
    version: str | None = None,
    upstream_dir: Path | None = None,
    outputs: PlatformOutputs | None = None,
    registry_mirrors: dict[str, str] | None = None,
    mirrored: bool = True,
) -> Rendered:
    """Build the environment's manifests for a supported KFP version (default: the lock's).

    `outputs` is the environment's outputs contract; None reads it with `terraform output`.
    `upstream_dir` is a folder of unpacked sources (else KFP_GCP_UPSTREAM_DIR, else the
    fetch cache). Images come through the remote repositories the contract's
    registry.mirrors names (none when the environment has no registry); `registry_mirrors`
    (--registry-mirror) maps a registry to a prefix that replaces it, over the contract's.
    `mirrored=False` keeps the images as upstream names them (reviews between versions)."""
    from kfp_gcp.services.infra import terraform

    chosen, _ = upstream.release(project, version)
    components = overlay_components(project, env)
    if not (project.root / MANIFESTS / version_component(chosen)).is_dir():
        raise ConfigError(
            f"KFP {chosen} has no {MANIFESTS}/{version_component(chosen)}",
            hint="each supported version needs its component (see docs/manifests.md)",
        )
    if outputs is None:
        outputs = terraform.outputs(project, env)
    check_contract(outputs, env, components)
    prepared = upstream.prepare(project, chosen, upstream.sources_dir(project, upstream_dir))

    work = project.build_dir / "manifests" / f"{env}-{chosen}"
    _make_work_dir(project, work, prepared, chosen, outputs.access)
    (work / "overlays" / env / PLATFORM_ENV).write_text(platform_env(outputs), encoding="utf-8")

    cluster_scoped = kustomize(work / "cluster-scoped")
    namespaced = kustomize(work / "overlays" / env)
    mirrors = {**outputs.registry.mirrors, **(registry_mirrors or {})} if mirrored else {}
    if mirrors:
        namespaced = mirror_images(namespaced, mirrors)
    for name, text in (("cluster-scoped", cluster_scoped), (f"overlays/{env}", namespaced)):
        if PLACEHOLDER in text:
            raise RunError(
                f"the {name} build still contains {PLACEHOLDER!r}: a replacement from the "
                "kfp-gcp-platform ConfigMap did not apply",
                hint="check the replacements of the components that overlay lists",
            )
    rendered = Rendered(
        env=env,
        version=chosen,
        cluster_scoped=cluster_scoped,
        namespaced=namespaced,
        cluster_objects=_load(cluster_scoped),
        namespaced_objects=_load(namespaced),
        work_dir=work,
    )
    (work / "rendered.yaml").write_text(rendered.text, encoding="utf-8")
    return rendered


def upstream_objects(rendered: Rendered) -> list[dict[str, Any]]:
    """The same release composed with none of our components: `kfp/` and the upstream
    entries of `cluster-scoped/`, built in the render's work folder."""
    import yaml

    work = rendered.work_dir
    spec = yaml.safe_load((work / "cluster-scoped" / "kustomization.yaml").read_text())
    baseline = work / "upstream-cluster-scoped"
    baseline.mkdir(exist_ok=True)
    resources = [r for r in spec["resources"] if str(r).startswith("../upstream/")]
    (baseline / "kustomization.yaml").write_text(
        yaml.safe_dump({"namespace": spec["namespace"], "resources": resources})
    )
    return _load(kustomize(baseline)) + _load(kustomize(work / "kfp"))


@dataclasses.dataclass(frozen=True)
class ObjectDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]
    text: str


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def object_diff(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> ObjectDiff:
    """A unified diff per object (kind, namespace, name), in a stable order."""
    import difflib

    import yaml

    def dump(obj: dict[str, Any]) -> list[str]:
        return yaml.safe_dump(obj, sort_keys=True).splitlines(keepends=True)

    before = {_key(o): o for o in old}
    after = {_key(o): o for o in new}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    chunks: list[str] = []
    for key in sorted([*added, *removed, *changed]):
        chunks.extend(
            difflib.unified_diff(
                dump(before[key]) if key in before else [],
                dump(after[key]) if key in after else [],
                fromfile=f"a/{key}",
                tofile=f"b/{key}",
            )
        )
    return ObjectDiff(added=added, removed=removed, changed=changed, text="".join(chunks))
