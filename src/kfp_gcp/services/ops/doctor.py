"""`kfp-gcp doctor`: read-only live checks of one environment, each ✓, ✗ or skipped, with
the evidence it saw and one line of remedy.

Checks run in order; a check that needs another one that did not pass is skipped and says
which. The first ones are about this machine (tools, network, credentials), so that without
credentials or network the report says so at once and everything that depends on them is
skipped. Every call has a short timeout and no long retries (`live.Live.real` with a
request timeout), so the whole report comes in seconds when something is unreachable.

Nothing here writes: Google's APIs are read (projects, services, quotas, the state
bucket's objects, IAM policies, the cluster, backend services), the cluster through
`kubectl get` and a port-forward, the database with `SHOW CREATE USER`, KFP with lists and
deploy's dry run. Workload Identity is judged from its three bindings (the Kubernetes
service account's annotation, the Google service account's workloadIdentityUser member,
the bucket role), not by writing an object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from kfp_gcp.errors import KfpGcpError
from kfp_gcp.services.infra import bootstrap, cost, quota
from kfp_gcp.services.infra import terraform as tf
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.kfp.api import KfpApi, RetryPolicy
from kfp_gcp.services.ops.google import ApiError, Credentials, members_with
from kfp_gcp.services.ops.live import API_PORT, API_SERVICE, Live
from kfp_gcp.services.project import Project

Status = Literal["ok", "fail", "skipped"]
MARKS: dict[str, str] = {"ok": "✓", "fail": "✗", "skipped": "-"}

# The Ingress, certificate and Kubernetes service account the manifests create
# (manifests/components/iap-ingress, components/workload-identity).
INGRESS = "kfp-ui"
CERTIFICATE = "kfp-ui"
RUNNER_KSA = "pipeline-runner"
PROXY_DEPLOYMENT = "cloudsql-proxy"
# Written by GKE's Ingress controller (ingress-gce): backend service name -> health, as JSON
# (the key is StatusPrefix + "/backends", kubernetes/ingress-gce pkg/annotations; the e2e
# tests in kubernetes/kubernetes test/e2e/network/ingress.go read it the same way).
BACKENDS_ANNOTATION = "ingress.kubernetes.io/backends"
# Bucket roles that can create objects under the pipeline root (the module grants objectUser).
WRITE_ROLES = {
    "roles/storage.objectUser",
    "roles/storage.objectAdmin",
    "roles/storage.objectCreator",
    "roles/storage.admin",
}
LOG_LINES = 5


class Skip(Exception):
    """The check does not apply here (no domain, paused...)."""


class Fail(Exception):
    def __init__(self, evidence: str, remedy: str) -> None:
        super().__init__(evidence)
        self.evidence = evidence
        self.remedy = remedy


@dataclasses.dataclass
class CheckResult:
    name: str
    title: str
    status: Status
    evidence: str
    remedy: str = ""
    seconds: float = 0.0

    @property
    def mark(self) -> str:
        return MARKS[self.status]


@dataclasses.dataclass
class Report:
    environment: str
    project_id: str
    checks: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail"]

    def text(self) -> str:
        """The report as plain text: one block per check, the remedy under a ✗."""
        lines = [f"kfp-gcp doctor: {self.environment} ({self.project_id})"]
        for check in self.checks:
            first, *rest = check.evidence.splitlines() or [""]
            lines.append(f"{check.mark} {check.title}: {first}")
            lines += [f"    {line}" for line in rest]
            if check.remedy:
                lines.append(f"    -> {check.remedy}")
        counts = {s: sum(c.status == s for c in self.checks) for s in ("ok", "fail", "skipped")}
        lines.append(f"{counts['ok']} passed, {counts['fail']} failed, {counts['skipped']} skipped")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    title: str
    needs: tuple[str, ...] = ()
    while_paused: bool = True  # False: nothing runs to check while the environment is paused
    domain_only: bool = False


CHECKS = (
    Check("tools", "Tools on this machine"),
    Check("network", "Network to Google Cloud"),
    Check("credentials", "Credentials", ("network",)),
    Check("project", "Project", ("credentials",)),
    Check("apis", "APIs enabled", ("project",)),
    Check("quota", "Quota for the pools at their maximum", ("apis",)),
    Check("state", "Terraform state bucket", ("credentials",)),
    Check("outputs", "Outputs contract"),
    Check("cluster", "Cluster through its DNS endpoint", ("tools", "credentials", "outputs")),
    Check("node-pools", "Node pools and autoscaling", ("credentials", "outputs")),
    Check("deployments", "KFP Deployments", ("cluster",), while_paused=False),
    Check("database", "Cloud SQL proxy and the KFP user", ("cluster",), while_paused=False),
    Check("workload-identity", "Workload Identity for pipeline-runner", ("cluster",)),
    Check("certificate", "Managed certificate and DNS", ("cluster",), domain_only=True),
    Check("iap", "IAP and backend health", ("cluster",), while_paused=False, domain_only=True),
    Check("kfp-api", "KFP API", ("cluster",), while_paused=False),
    Check("kfp-version", "Deployed KFP version", ("cluster",)),
    Check("pipelines", "Pipelines in KFP", ("kfp-api",), while_paused=False),
)


def required_services(project: Project, env: str) -> list[str]:
    """The APIs terraform/bootstrap enables (its `services` local), plus the bootstrap
    settings' extra_services: one list, read from where the bootstrap keeps it."""
    text = (project.root / bootstrap.BOOTSTRAP / "main.tf").read_text(encoding="utf-8")
    block = re.search(r"services\s*=\s*setunion\(\[(.*?)\]", text, re.DOTALL)
    found = re.findall(r'"([a-z0-9.-]+\.googleapis\.com)"', block[1] if block else "")
    settings_file = project.root / bootstrap.BOOTSTRAP / f"{env}.tfvars.json"
    if settings_file.is_file():
        extra = json.loads(settings_file.read_text(encoding="utf-8")).get("extra_services", [])
        found += [s for s in extra if isinstance(s, str)]
    return sorted(set(found))


def quota_rows(live: Live, sizing: cost.Sizing) -> list[quota.Row]:
    """`infra quota --check`'s comparison: what `sizing` needs against the live quotas."""
    return quota.check(
        quota.needs(sizing),
        live.quotas.region(sizing.project_id, sizing.region),
        live.quotas.project(sizing.project_id),
    )


def first_day(sizing: cost.Sizing, gpu: bool = False) -> cost.Sizing:
    """What `up` brings up: every pool at its minimum, one node of each CPU pool for the
    smoke run (of a GPU pool with `gpu`); pools that stay at 0 need nothing yet."""
    pools = {}
    for name, pool in sizing.cluster.node_pools.items():
        wanted = pool.min_count if pool.accelerator and not gpu else max(pool.min_count, 1)
        if wanted:
            pools[name] = pool.model_copy(update={"max_count": wanted})
    cluster = sizing.cluster.model_copy(update={"node_pools": pools})
    return sizing.model_copy(update={"cluster": cluster})


def _settings(project: Project, env: str) -> dict[str, Any]:
    path = tf.environment_dir(project, env) / tf.SETTINGS_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    settings: dict[str, Any] = data.get("settings", {})
    return settings


def _error_text(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, KfpGcpError):
        return exc.message, exc.hint or ""
    if isinstance(exc, ApiError):
        return exc.said, ""
    return f"{type(exc).__name__}: {exc}", "rerun with --debug and report it"


class Doctor:
    def __init__(
        self,
        project: Project,
        env: str,
        live: Live,
        outputs_file: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project = project
        self.env = env
        self.live = live
        self.outputs_file = outputs_file
        self.clock = clock
        self.settings = _settings(project, env)
        self.sizing = cost.load_sizing(project, env)
        self.project_id = str(self.settings.get("project_id", ""))
        self.results: dict[str, CheckResult] = {}
        self.stack = contextlib.ExitStack()
        self.credentials: Credentials | None = None
        self.contract: PlatformOutputs | None = None
        self.kubectl: Any = None
        self.cluster_info: dict[str, Any] | None = None
        self.deployments: list[dict[str, Any]] | None = None
        self.api: KfpApi | None = None
        # Short: a KFP that does not answer is a finding, not something to wait out.
        self.kfp_policy = RetryPolicy(deadline_s=30, probe_deadline_s=10, read_timeout_s=20)

    # Running.

    def run(
        self,
        on_result: Callable[[CheckResult], None] = lambda _r: None,
        only: tuple[str, ...] | None = None,
    ) -> Report:
        """Every check in order (or those named in `only`, with what they need)."""
        with self.stack:
            for check in CHECKS:
                if only is not None and check.name not in only:
                    continue
                result = self._one(check)
                self.results[check.name] = result
                on_result(result)
        return Report(self.env, self.project_id, list(self.results.values()))

    def _one(self, check: Check) -> CheckResult:
        def result(status: Status, evidence: str, remedy: str = "") -> CheckResult:
            return CheckResult(check.name, check.title, status, evidence, remedy, 0.0)

        if self.contract is not None:
            if check.domain_only and not self.contract.domain:
                return result("skipped", f"no domain: the UI is reached by {self.contract.access}")
            if self.contract.paused and not check.while_paused:
                return result(
                    "skipped",
                    f"{self.env} is paused: nodes at 0, database stopped "
                    f"(`kfp-gcp infra resume --env {self.env}` to check it)",
                )
        needs = list(check.needs)
        if check.name == "outputs" and self.outputs_file is None:
            needs.append("state")  # `terraform output` reads the state
        for need in needs:
            if need not in self.results:
                raise AssertionError(f"check {check.name} runs without {need}")
            if self.results[need].status != "ok":
                verdict = "failed" if self.results[need].status == "fail" else "skipped"
                return result("skipped", f"needs {need} ({verdict})")
        began = self.clock()
        try:
            evidence = getattr(self, "_" + check.name.replace("-", "_"))()
            found = result("ok", evidence)
        except Skip as exc:
            found = result("skipped", str(exc))
        except Fail as exc:
            found = result("fail", exc.evidence, exc.remedy)
        except (KfpGcpError, ApiError, OSError, ValueError) as exc:
            evidence, remedy = _error_text(exc)
            found = result("fail", evidence, remedy)
        found.seconds = round(self.clock() - began, 2)
        return found

    # This machine.

    def _tools(self) -> str:
        from kfp_gcp.services.cluster.access import tool

        found, missing, remedies = [], [], []
        try:
            found.append(f"terraform ({' '.join(tf.terraform_argv())})")
        except KfpGcpError as exc:
            missing.append("terraform")
            remedies.append(exc.hint or "")
        for name in ("kubectl", "gcloud", "gke-gcloud-auth-plugin"):
            try:
                found.append(f"{name} ({tool(name)})")
            except KfpGcpError as exc:
                missing.append(name)
                remedies.append(exc.hint or f"install {name}")
        if missing:
            raise Fail(
                f"missing: {', '.join(missing)}; found: {', '.join(found) or 'none'}",
                "; ".join(r for r in remedies if r),
            )
        return ", ".join(found)

    def _network(self) -> str:
        said = self.live.network()
        if said:
            raise Fail(
                said,
                "connect this machine to the internet (or set HTTPS_PROXY): the checks "
                "below read Google's APIs and the cluster",
            )
        return "oauth2.googleapis.com:443 answers"

    def _credentials(self) -> str:
        self.credentials = self.live.credentials()
        account = self.credentials.account
        if not account:
            info = self.live.google.tokeninfo(self.credentials.token)
            account = str(info.get("email") or info.get("azp") or "an unnamed account")
        quota_project = self.credentials.quota_project
        return f"Application Default Credentials of {account}" + (
            f" (quota project {quota_project})" if quota_project else ""
        )

    # The project.

    def _project(self) -> str:
        expected_number = str(self.settings.get("project_number", ""))
        try:
            found = self.live.google.project(self.project_id)
        except ApiError as exc:
            raise Fail(
                f"cannot read project {self.project_id}: {exc.said}",
                f"use an account with resourcemanager.projects.get on {self.project_id} "
                "(roles/browser), or correct settings.project_id (kfp-gcp init)",
            ) from None
        state = found.get("lifecycleState", "")
        number = str(found.get("projectNumber", ""))
        if state != "ACTIVE":
            raise Fail(
                f"project {self.project_id} is {state}",
                "restore it (gcloud projects undelete) or point the environment at another "
                "project (kfp-gcp init)",
            )
        if number != expected_number:
            raise Fail(
                f"project {self.project_id} has number {number}; the settings say "
                f"{expected_number}",
                f"set settings.project_number to {number} (kfp-gcp init --force), in the "
                "bootstrap's settings too",
            )
        return f"{self.project_id} (number {number}), ACTIVE"

    def _apis(self) -> str:
        wanted = required_services(self.project, self.env)
        number = str(self.settings.get("project_number", ""))
        states = self.live.google.services(number, wanted)
        disabled = sorted(s for s in wanted if states.get(s) != "ENABLED")
        if disabled:
            raise Fail(
                f"{len(disabled)} of {len(wanted)} APIs not enabled: {', '.join(disabled)}",
                f"run the bootstrap (kfp-gcp infra bootstrap --env {self.env}), which enables "
                f"them, or: gcloud services enable {' '.join(disabled)} "
                f"--project={self.project_id}",
            )
        return f"all {len(wanted)} APIs the bootstrap enables are enabled"

    def _quota(self) -> str:
        rows = quota_rows(self.live, self.sizing)
        short = [r for r in rows if r.status == "short"]
        unknown = [r.metric for r in rows if r.status == "unknown"]
        if short:
            raise Fail(
                "short: "
                + "; ".join(
                    f"{r.metric} in {r.where}: {r.needed} needed, limit {r.limit:g}" for r in short
                ),
                "request the increases (terraform/README.md, Quotas); "
                f"`kfp-gcp infra quota --env {self.env} --check` lists every metric",
            )
        tight = min(
            (r for r in rows if r.limit),
            key=lambda r: (r.limit or 0) - r.needed,
            default=None,
        )
        text = f"{len(rows) - len(unknown)} metrics have room for every pool at its maximum"
        if tight is not None:
            text += f" (least headroom: {tight.metric} {tight.needed} of {tight.limit:g})"
        if unknown:
            text += f"; not reported by Compute Engine: {', '.join(unknown)}"
        return text

    def _state(self) -> str:
        backend = bootstrap.parse_backend(
            tf.environment_dir(self.project, self.env) / tf.BACKEND_FILE
        )
        bucket, prefix = backend.get("bucket", ""), backend.get("prefix", "")
        wanted = f"{prefix}/default.tfstate"
        try:
            objects = self.live.google.objects(bucket, f"{prefix}/")
        except ApiError as exc:
            remedy = (
                f"the account needs storage.objects.list and get on gs://{bucket} "
                "(the bootstrap grants them to its CI identities and Owners)"
                if exc.code in (401, 403)
                else f"check backend.hcl of terraform/environments/{self.env} against the "
                "bootstrap's state_bucket output"
            )
            raise Fail(f"gs://{bucket}: {exc.said}", remedy) from None
        state = next((o for o in objects if o.get("name") == wanted), None)
        if state is None:
            raise Fail(
                f"gs://{bucket}/{wanted} does not exist: the environment's state was never created",
                f"`kfp-gcp infra bootstrap --env {self.env}` creates it (its last step)",
            )
        return (
            f"gs://{bucket}/{wanted} readable ({int(state.get('size', 0)):,} bytes, "
            f"updated {state.get('updated', '?')})"
        )

    def _outputs(self) -> str:
        if self.outputs_file is not None:
            self.contract = tf.contract(self.project, self.env, self.outputs_file)
            where = str(self.outputs_file)
        else:
            self.contract = tf.outputs(self.project, self.env)
            where = "terraform output"
        contract = self.contract
        if contract.project_id != self.project_id or contract.environment != self.env:
            raise Fail(
                f"the contract ({where}) is for {contract.environment} in "
                f"{contract.project_id}, the settings for {self.env} in {self.project_id}",
                "pass the outputs of this environment (kfp-gcp -o json infra outputs --env "
                f"{self.env})",
            )
        paused = ", paused" if contract.paused else ""
        return (
            f"{where}: cluster {contract.cluster_name} in {contract.cluster_location}, "
            f"access {contract.access}{paused}"
        )

    # The cluster.

    def _contract(self) -> PlatformOutputs:
        assert self.contract is not None
        return self.contract

    def _cluster(self) -> str:
        contract = self._contract()
        self.kubectl = self.stack.enter_context(self.live.session(contract))
        ready = self.kubectl.run(["get", "--raw", "/readyz"], check=False)
        if ready.returncode != 0 or ready.stdout.strip() != "ok":
            said = " ".join((ready.stderr or ready.stdout).split())[-300:]
            raise Fail(
                f"https://{contract.cluster_dns_endpoint} did not answer /readyz: {said}",
                "check the network and your account's roles/container.developer "
                f"(gcloud container clusters get-credentials {contract.cluster_name} "
                f"--location={contract.cluster_location} --dns-endpoint)",
            )
        version = json.loads(self.kubectl.run(["version", "-o", "json"]).stdout)
        server = (version.get("serverVersion") or {}).get("gitVersion", "?")
        return f"https://{contract.cluster_dns_endpoint} answers /readyz: ok (Kubernetes {server})"

    def _node_pools(self) -> str:
        contract = self._contract()
        try:
            self.cluster_info = self.live.google.cluster(
                contract.project_id, contract.cluster_location, contract.cluster_name
            )
        except ApiError as exc:
            raise Fail(
                f"cannot read cluster {contract.cluster_name}: {exc.said}",
                f"the account needs container.clusters.get on {contract.project_id} "
                "(roles/container.viewer)",
            ) from None
        live = {p["name"]: p for p in self.cluster_info.get("nodePools", [])}
        problems, lines = [], []
        status = self.cluster_info.get("status", "?")
        if status != "RUNNING":
            problems.append(f"cluster {status}: {self.cluster_info.get('statusMessage', '')}")
        for name, wanted in sorted(self.sizing.cluster.node_pools.items()):
            pool = live.get(name)
            if pool is None:
                problems.append(f"{name}: missing from the cluster")
                continue
            scaling = pool.get("autoscaling") or {}
            low = int(scaling.get("totalMinNodeCount", scaling.get("minNodeCount", 0)))
            high = int(scaling.get("totalMaxNodeCount", scaling.get("maxNodeCount", 0)))
            machine = (pool.get("config") or {}).get("machineType", "?")
            line = f"{name}: {low}-{high} nodes, {machine}, {pool.get('status', '?')}"
            if pool.get("status") not in ("RUNNING", "RECONCILING"):
                problems.append(f"{line}: {pool.get('statusMessage', '')}".strip(": "))
            elif contract.paused:
                if scaling.get("enabled"):
                    problems.append(f"{name}: autoscaling on while paused")
                line = f"{name}: paused (autoscaling off), {machine}"
            elif not scaling.get("enabled"):
                problems.append(
                    f"{name}: autoscaling is off; the settings say {wanted.min_count}-"
                    f"{wanted.max_count}"
                )
            elif (low, high) != (wanted.min_count, wanted.max_count):
                problems.append(
                    f"{name}: autoscaling {low}-{high} in GKE, {wanted.min_count}-"
                    f"{wanted.max_count} in the settings"
                )
            lines.append(line)
        if problems:
            raise Fail(
                "; ".join(problems),
                f"`kfp-gcp infra plan --env {self.env}` shows the difference with the settings; "
                "apply it (a change made in the console is undone by the next apply)",
            )
        return "; ".join(lines)

    def _kfp_deployments(self) -> list[dict[str, Any]]:
        if self.deployments is None:
            self.deployments = self.kubectl.deployments(self._contract().kfp_namespace)
        return self.deployments

    def _deployments(self) -> str:
        from kfp_gcp.services.cluster.access import unavailable

        namespace = self._contract().kfp_namespace
        deployments = self._kfp_deployments()
        if not deployments:
            raise Fail(
                f"no Deployment in namespace {namespace}: KFP is not installed",
                f"kfp-gcp manifests apply --env {self.env}",
            )
        names = {d["metadata"]["name"] for d in deployments}
        waiting = unavailable(deployments, names)
        if not waiting:
            return f"all {len(names)} available"
        pods = self.kubectl.items("pods", namespace)
        events = self.kubectl.items("events", namespace)
        lines, remedies = [], []
        for name in waiting:
            deployment = next(d for d in deployments if d["metadata"]["name"] == name)
            why, remedy = self._diagnose(deployment, pods, events)
            status = deployment.get("status", {})
            wanted = deployment.get("spec", {}).get("replicas", 1)
            lines.append(f"{name} {status.get('availableReplicas', 0)}/{wanted} available: {why}")
            if remedy not in remedies:
                remedies.append(remedy)
        raise Fail(
            f"{len(waiting)} of {len(names)} not available:\n" + "\n".join(lines),
            "; ".join(remedies),
        )

    def _diagnose(
        self,
        deployment: dict[str, Any],
        pods: list[dict[str, Any]],
        events: list[dict[str, Any]],
    ) -> tuple[str, str]:
        """Why a Deployment is not available, from its pods: image pull, crash loop (with
        the last log lines), or pending for resources (with the scheduler's and the
        autoscaler's words)."""
        namespace = self._contract().kfp_namespace
        selector = (deployment.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        own = [
            p
            for p in pods
            if selector
            and all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        if not own:
            return (
                "no pods (the ReplicaSet could not create them)",
                f"kubectl -n {namespace} describe replicaset -l "
                + ",".join(f"{k}={v}" for k, v in selector.items())
                + " says why (quota, admission)",
            )
        for pod in own:
            name = pod["metadata"]["name"]
            for status in pod.get("status", {}).get("containerStatuses", []) or []:
                waiting = (status.get("state") or {}).get("waiting") or {}
                reason = waiting.get("reason", "")
                if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                    said = _shortened(
                        _last_event(events, name, ("Failed",)) or waiting.get("message", "")
                    )
                    return (
                        f"pod {name}: {reason}: {said}",
                        "the nodes cannot pull the image: check it exists in the registry the "
                        "manifests name (kfp-gcp manifests render --env ENV) and the nodes' "
                        "roles/artifactregistry.reader (docs/images.md)",
                    )
                if reason == "CrashLoopBackOff":
                    last = (status.get("lastState") or {}).get("terminated") or {}
                    logs = self.kubectl.run(
                        ["logs", "-n", namespace, name, "-c", status["name"], "--previous",
                         f"--tail={LOG_LINES}"],
                        check=False,
                    )  # fmt: skip
                    tail = [line for line in logs.stdout.splitlines() if line.strip()][-LOG_LINES:]
                    exit_text = (
                        f"exit code {last.get('exitCode')} ({last.get('reason', '?')})"
                        if last
                        else "restarting"
                    )
                    return (
                        f"pod {name}: container {status['name']} CrashLoopBackOff, "
                        f"{status.get('restartCount', 0)} restarts, {exit_text}; last log lines:\n"
                        + "\n".join(f"  | {line}" for line in tail),
                        f"read the log (kubectl -n {namespace} logs {name} -c {status['name']} "
                        "--previous); database clients depend on the Cloud SQL proxy and the "
                        "KFP user (docs/manifests.md)",
                    )
            conditions = {c.get("type"): c for c in pod.get("status", {}).get("conditions", [])}
            scheduled = conditions.get("PodScheduled", {})
            if (
                pod.get("status", {}).get("phase") == "Pending"
                and scheduled.get("status") == "False"
            ):
                autoscaler = _last_event(
                    events, name, ("NotTriggerScaleUp", "FailedScaleUp", "TriggeredScaleUp")
                )
                return (
                    f"pod {name} pending: {scheduled.get('message', scheduled.get('reason', ''))}"
                    + (f"; autoscaler: {autoscaler}" if autoscaler else ""),
                    "no node can take the pod and the autoscaler cannot add one: check the "
                    f"pool's max_count, quota (kfp-gcp infra quota --env {self.env} --check) "
                    "and Spot capacity",
                )
        first = own[0]["metadata"]["name"]
        phase = own[0].get("status", {}).get("phase", "?")
        return (
            f"pod {first} {phase}, not ready",
            f"kubectl -n {namespace} describe pod {first}",
        )

    def _database(self) -> str:
        from kfp_gcp.services.cluster import deploy
        from kfp_gcp.services.cluster.access import unavailable
        from kfp_gcp.services.ops.db import Target

        contract = self._contract()
        target = Target.of(contract)
        instance = self.live.sql.instance(target.project, target.instance)
        state = instance.get("state", "?")
        policy = (instance.get("settings") or {}).get("activationPolicy", "?")
        if state != "RUNNABLE" or policy != "ALWAYS":
            raise Fail(
                f"instance {target.instance} is {state} (activation policy {policy})",
                f"a stopped instance means the environment is paused: kfp-gcp infra resume "
                f"--env {self.env}; otherwise see Cloud SQL > {target.instance} > Operations",
            )
        deployments = self._kfp_deployments()
        if unavailable(deployments, {PROXY_DEPLOYMENT}):
            raise Fail(
                f"instance {target.instance} RUNNABLE, but the Cloud SQL proxy has no "
                "available replica",
                f"kubectl -n {contract.kfp_namespace} logs deploy/{PROXY_DEPLOYMENT}: its "
                "service account needs roles/cloudsql.client (Workload Identity)",
            )
        password = self.live.secrets.access(contract.cloudsql_password_secret)
        account = deploy.check_database_user(
            self.kubectl, contract, password, self.live.database_query
        )
        return (
            f"instance {target.instance} RUNNABLE ({instance.get('databaseVersion', '?')}); "
            f"the proxy connects and {account} logs in with mysql_native_password"
        )

    def _workload_identity(self) -> str:
        contract = self._contract()
        namespace = contract.kfp_namespace
        gsa = contract.service_accounts.pipeline_runner
        member = f"serviceAccount:{contract.project_id}.svc.id.goog[{namespace}/{RUNNER_KSA}]"
        problems = []
        ksa = self.kubectl.get("serviceaccount", RUNNER_KSA, namespace)
        annotation = ((ksa or {}).get("metadata", {}).get("annotations") or {}).get(
            "iam.gke.io/gcp-service-account", ""
        )
        if ksa is None:
            problems.append(f"no service account {namespace}/{RUNNER_KSA}")
        elif annotation != gsa:
            problems.append(
                f"{namespace}/{RUNNER_KSA} is annotated {annotation or 'with no Google account'}, "
                f"not {gsa}"
            )
        pool = ((self.cluster_info or {}).get("workloadIdentityConfig") or {}).get("workloadPool")
        if self.cluster_info is not None and pool != f"{contract.project_id}.svc.id.goog":
            problems.append(f"the cluster's workload pool is {pool or 'not set'}")
        users = members_with(
            self.live.google.service_account_policy(contract.project_id, gsa),
            {"roles/iam.workloadIdentityUser"},
        )
        if member not in users:
            problems.append(f"{gsa} does not let {member} act as it (workloadIdentityUser)")
        writers = members_with(
            self.live.google.bucket_policy(contract.artifact_bucket), WRITE_ROLES
        )
        if f"serviceAccount:{gsa}" not in writers:
            problems.append(
                f"{gsa} has no role that writes objects in gs://{contract.artifact_bucket}"
            )
        if problems:
            raise Fail(
                "; ".join(problems),
                f"`kfp-gcp infra plan --env {self.env}` and `kfp-gcp infra apply` restore the "
                "bindings (terraform/modules/workload-identity), `kfp-gcp manifests apply` the "
                "annotation",
            )
        return (
            f"{namespace}/{RUNNER_KSA} acts as {gsa}, which may write under "
            f"{contract.pipeline_root} (bindings read, nothing written)"
        )

    def _certificate(self) -> str:
        contract = self._contract()
        certificate = self.kubectl.get("managedcertificate", CERTIFICATE, contract.kfp_namespace)
        if certificate is None:
            raise Fail(
                f"no ManagedCertificate {contract.kfp_namespace}/{CERTIFICATE}",
                f"kfp-gcp manifests apply --env {self.env}",
            )
        status = certificate.get("status") or {}
        state = status.get("certificateStatus", "no status yet")
        domains = ", ".join(
            f"{d.get('domain')}: {d.get('status')}" for d in status.get("domainStatus", [])
        )
        addresses = self.live.resolve(contract.domain)
        problems = []
        if state != "Active":
            problems.append(f"certificate {state}" + (f" ({domains})" if domains else ""))
        if contract.static_ip_address not in addresses:
            problems.append(
                f"{contract.domain} resolves to {', '.join(addresses) or 'nothing'}, not the "
                f"static IP {contract.static_ip_address}"
            )
        if problems:
            remedy = (
                f"point {contract.domain}'s A record at {contract.static_ip_address} "
                "(terraform/README.md, step 8); the certificate is issued within about an hour "
                "after DNS is right"
                if contract.static_ip_address not in addresses
                else "Google is still issuing it (up to an hour after DNS is right); "
                f"kubectl -n {contract.kfp_namespace} describe managedcertificate {CERTIFICATE}"
            )
            raise Fail("; ".join(problems), remedy)
        return f"{state} ({domains}); {contract.domain} -> {contract.static_ip_address}"

    def _iap(self) -> str:
        contract = self._contract()
        ingress = self.kubectl.get("ingress", INGRESS, contract.kfp_namespace)
        annotations = ((ingress or {}).get("metadata") or {}).get("annotations") or {}
        if ingress is None or BACKENDS_ANNOTATION not in annotations:
            raise Fail(
                f"the load balancer of {contract.kfp_namespace}/{INGRESS} has no backends yet",
                f"kubectl -n {contract.kfp_namespace} describe ingress {INGRESS} shows the "
                "Ingress controller's events",
            )
        backends: dict[str, str] = json.loads(annotations[BACKENDS_ANNOTATION])
        problems, lines = [], []
        for name, health in sorted(backends.items()):
            service = self.live.google.backend_service(contract.project_id, name)
            iap = service.get("iap") or {}
            lines.append(f"{name}: {health}, IAP {'on' if iap.get('enabled') else 'off'}")
            if health != "HEALTHY":
                problems.append(f"backend {name} is {health}")
            if not iap.get("enabled"):
                problems.append(f"IAP is off on backend {name}")
        if problems:
            raise Fail(
                "; ".join(problems) + "\n" + "\n".join(lines),
                "IAP off: the BackendConfig and its OAuth Secret (kfp-gcp manifests apply); "
                f"unhealthy: the UI's pods and their readiness (kubectl -n "
                f"{contract.kfp_namespace} get pods -l app=ml-pipeline-ui)",
            )
        return "; ".join(lines)

    def _kfp_api(self) -> str:
        contract = self._contract()
        self.api = self.stack.enter_context(self.live.kfp(contract, self.kubectl, self.kfp_policy))
        self.api.probe()
        count = len(self.api.pipelines())
        how = (
            f"https://{contract.domain} through IAP with an ID token"
            if contract.access == "iap" and contract.domain
            else f"a port-forward to {API_SERVICE}:{API_PORT}"
        )
        return f"{how}: the API answers ({count} pipelines in {contract.kfp_namespace})"

    def _kfp_version(self) -> str:
        from kfp_gcp.services.cluster import deploy
        from kfp_gcp.services.manifests import upstream

        deployed = deploy.deployed_version(self.kubectl, self._contract().kfp_namespace)
        locked = upstream.load_lock(self.project).default
        if not deployed:
            raise Fail(
                f"KFP is not installed (no {deploy.INSTALL_CONFIG})",
                f"kfp-gcp manifests apply --env {self.env}",
            )
        if deployed != locked:
            raise Fail(
                f"{deployed} deployed, {locked} in manifests/versions.yaml",
                f"kfp-gcp manifests apply --env {self.env} (it backs the database up before a "
                "version change; docs/upgrading.md)",
            )
        return f"{deployed}, as manifests/versions.yaml says"

    def _pipelines(self) -> str:
        from kfp_gcp.services.images import registry
        from kfp_gcp.services.kfp import publish
        from kfp_gcp.services.project import select

        assert self.api is not None
        contract = self._contract()
        project, _ = registry.for_environment(self.project, contract, self.live.artifact_registry())
        sources = select(project, "pipeline")
        summary = publish.deploy(
            self.api, project, publish.compile_stream(project, sources), dry_run=True, full=True
        )
        behind = [
            r
            for r in summary.results
            if r.status != "unchanged" or any(s.status.startswith("would-") for s in r.schedules)
        ]
        removed = summary.removed
        if behind or removed:
            lines = [
                f"{r.pipeline}: {r.status} {r.version}".strip()
                + "".join(
                    f", schedule {s.schedule} {s.status}"
                    for s in r.schedules
                    if s.status.startswith("would-")
                )
                for r in behind
            ] + [f"{s.pipeline}/{s.schedule}: {s.status}" for s in removed]
            raise Fail(
                f"{len(behind) + len(removed)} differ from the repository (deploy's dry run):\n"
                + "\n".join(lines),
                f"kfp-gcp pipelines deploy --env {self.env}",
            )
        return f"all {len(summary.results)} pipelines as in the repository (deploy's dry run)"


def _shortened(text: str, head: int = 110, tail: int = 130) -> str:
    """A long message with its middle cut: the image comes first, the cause last."""
    return text if len(text) <= head + tail + 5 else f"{text[:head]} ... {text[-tail:]}"


def _last_event(events: list[dict[str, Any]], pod: str, reasons: tuple[str, ...]) -> str:
    """The newest event about `pod` with one of `reasons`, as its message."""
    found = [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("name") == pod and e.get("reason") in reasons
    ]
    if not found:
        return ""
    newest = max(found, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return f"{newest.get('reason')}: {' '.join(str(newest.get('message', '')).split())}"


def diagnose(
    project: Project,
    env: str,
    live: Live,
    outputs_file: Any = None,
    on_result: Callable[[CheckResult], None] = lambda _r: None,
) -> Report:
    return Doctor(project, env, live, outputs_file).run(on_result)
