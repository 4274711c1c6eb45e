"""The Compute Engine quota an environment needs at its largest, from its settings, and the
project's live quotas to compare it with (the Compute Engine API, through one seam).

At its largest means: every node pool at max_count, plus one surge node per pool and zone
while GKE upgrades it (GKE's default surge upgrade: max surge 1, max unavailable 0), and
Cloud NAT's external addresses. A new project has no GPU quota (GPUS_ALL_REGIONS is 0) and
little CPU and SSD quota; a pool that cannot get it never scales up, and the only trace is
an autoscaler event, so this is worth checking before the first pipeline needs a GPU.

Metric names are the Compute Engine API's (`Quota.metric` of the Region and Project
resources: cloud.google.com/compute/docs/reference/rest/v1/regions/get, projects/get).
Spot VMs count against the PREEMPTIBLE_* metric when the project has that quota, else
against the regular one (Compute Engine "Preemptible quotas"); the check applies that rule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.infra.cost import Sizing, is_zone

COMPUTE = "https://compute.googleapis.com"

# vCPU quota per machine family: E2 and N1 count against CPUS; the others have their own.
CPU_METRICS = {
    "e2": "CPUS",
    "n1": "CPUS",
    "n2": "N2_CPUS",
    "n2d": "N2D_CPUS",
    "c2": "C2_CPUS",
    "c2d": "C2D_CPUS",
    "c3": "C3_CPUS",
    "a2": "A2_CPUS",
    "m1": "M1_CPUS",
    "m2": "M2_CPUS",
    "t2d": "T2D_CPUS",
}
GPU_METRICS = {
    "nvidia-tesla-t4": "NVIDIA_T4_GPUS",
    "nvidia-tesla-p4": "NVIDIA_P4_GPUS",
    "nvidia-tesla-p100": "NVIDIA_P100_GPUS",
    "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
    "nvidia-l4": "NVIDIA_L4_GPUS",
    "nvidia-tesla-a100": "NVIDIA_A100_GPUS",
    "nvidia-a100-80gb": "NVIDIA_A100_80GB_GPUS",
    "nvidia-h100-80gb": "NVIDIA_H100_GPUS",
}
DISK_METRICS = {
    "pd-balanced": "SSD_TOTAL_GB",
    "pd-ssd": "SSD_TOTAL_GB",
    "pd-standard": "DISKS_TOTAL_GB",
}
# Regional clusters put their nodes in three zones unless told otherwise (GKE default).
REGIONAL_ZONES = 3
# Cloud NAT: ports per VM (modules/network nat.min_ports_per_vm) and per external address.
NAT_PORTS_PER_VM = 64
NAT_PORTS_PER_ADDRESS = 64_512
GLOBAL = "global"


@dataclasses.dataclass
class Need:
    metric: str
    where: str  # a region, or "global" for the project-wide quotas
    amount: int
    basis: list[str]
    # Spot capacity: the regular metric it counts against when the project has no quota
    # for the PREEMPTIBLE_* one.
    fallback: str | None = None


@dataclasses.dataclass
class Quota:
    limit: float
    usage: float


@dataclasses.dataclass
class Row:
    metric: str
    where: str
    needed: int
    basis: str
    limit: float | None = None
    usage: float | None = None
    status: str = "unchecked"  # ok | short | unknown | unchecked


def vcpus(machine_type: str) -> int:
    match = re.fullmatch(r"[a-z0-9]+-(?:standard|highmem|highcpu)-(\d+)", machine_type)
    if not match:
        raise ConfigError(
            f"cannot tell the vCPUs of machine type {machine_type!r}",
            hint="the quota estimate knows <family>-standard|highmem|highcpu-<vCPUs> types; "
            "check this one's quota by hand (terraform/README.md, Quotas)",
        )
    return int(match[1])


def needs(sizing: Sizing) -> list[Need]:
    """What the environment needs at its largest, per metric and region."""
    region = sizing.region
    zonal = is_zone(sizing.cluster.location)
    found: dict[tuple[str, str, str | None], Need] = {}

    def add(metric: str, where: str, amount: int, basis: str, fallback: str | None = None) -> None:
        if amount <= 0:
            return
        need = found.setdefault((metric, where, fallback), Need(metric, where, 0, [], fallback))
        need.amount += amount
        need.basis.append(basis)

    nodes_total = 0
    for name, pool in sorted(sizing.cluster.node_pools.items()):
        zones = len(pool.zones) if pool.zones else (1 if zonal else REGIONAL_ZONES)
        # One surge node per zone while GKE upgrades the pool (counted per zone: the
        # conservative reading for pools that span zones).
        nodes = pool.max_count + zones
        nodes_total += nodes
        label = f"{name}: {pool.max_count} + {zones} surge x {pool.machine_type}"
        family = pool.machine_type.split("-", 1)[0]
        cpus = nodes * vcpus(pool.machine_type)
        cpu_metric = CPU_METRICS.get(family, f"{family.upper()}_CPUS (check the name)")
        if pool.spot:
            add("PREEMPTIBLE_CPUS", region, cpus, label + " (Spot)", fallback=cpu_metric)
        else:
            add(cpu_metric, region, cpus, label)
        add("CPUS_ALL_REGIONS", GLOBAL, cpus, label)
        disk_metric = DISK_METRICS.get(pool.disk_type, f"disk type {pool.disk_type} (check)")
        add(
            disk_metric,
            region,
            nodes * pool.disk_size_gb,
            f"{label}, {pool.disk_size_gb} GB boot disks",
        )
        if pool.accelerator:
            gpus = nodes * pool.accelerator.count
            gpu_metric = GPU_METRICS.get(
                pool.accelerator.type, f"{pool.accelerator.type} (check the name)"
            )
            gpu_label = f"{name}: {nodes} nodes x {pool.accelerator.count} {pool.accelerator.type}"
            if pool.spot:
                add(f"PREEMPTIBLE_{gpu_metric}", region, gpus, gpu_label + " (Spot)", gpu_metric)
            else:
                add(gpu_metric, region, gpus, gpu_label)
            add("GPUS_ALL_REGIONS", GLOBAL, gpus, gpu_label)
    addresses = max(1, math.ceil(nodes_total * NAT_PORTS_PER_VM / NAT_PORTS_PER_ADDRESS))
    add("IN_USE_ADDRESSES", region, addresses, f"Cloud NAT for {nodes_total} nodes")
    return sorted(found.values(), key=lambda n: (n.where == GLOBAL, n.metric))


# The seam: the Compute Engine API.

TokenProvider = Callable[[], str]


class ComputeQuotas:
    """Quotas from the Compute Engine API: a Region's and the Project's `quotas` lists."""

    def __init__(
        self, token: TokenProvider | None = None, base_url: str | None = None, attempts: int = 4
    ) -> None:
        self.token = token or _adc_token
        self.base_url = (base_url or COMPUTE).rstrip("/")
        self.attempts = attempts
        self.warnings: list[str] = []

    def region(self, project: str, region: str) -> dict[str, Quota]:
        return self._quotas(f"projects/{project}/regions/{region}", f"region {region}")

    def project(self, project: str) -> dict[str, Quota]:
        return self._quotas(f"projects/{project}", f"project {project}")

    def _quotas(self, path: str, what: str) -> dict[str, Quota]:
        body = self._get(f"{self.base_url}/compute/v1/{path}", what)
        # Set when Compute could not read every quota (regions.get: quotaStatusWarning).
        if warning := body.get("quotaStatusWarning"):
            self.warnings.append(f"{what}: {warning.get('message', warning.get('code', ''))}")
        return {
            q["metric"]: Quota(float(q.get("limit", 0)), float(q.get("usage", 0)))
            for q in body.get("quotas", [])
        }

    def _get(self, url: str, what: str) -> dict[str, Any]:
        for attempt in range(self.attempts):
            request = urllib.request.Request(  # noqa: S310 (https, or a test server)
                url, headers={"Authorization": f"Bearer {self.token()}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    data: dict[str, Any] = json.loads(response.read())
                    return data
            except urllib.error.HTTPError as exc:
                reason = _reason(exc)
                if exc.code == 403 and reason == "accessNotConfigured":
                    raise ConfigError(
                        f"the Compute Engine API is not enabled for {what}",
                        hint="enable compute.googleapis.com (terraform/bootstrap does)",
                    ) from None
                if exc.code == 403:
                    raise ConfigError(
                        f"not allowed to read the quotas of {what}",
                        hint="use an identity with compute.regions.get and compute.projects.get "
                        "(roles/compute.viewer), or your own: gcloud auth "
                        "application-default login",
                    ) from None
                if exc.code == 404:
                    raise ConfigError(
                        f"Compute Engine does not know {what}",
                        hint="check project_id and region in the environment's "
                        "terraform.tfvars.json",
                    ) from None
                if exc.code not in (429, 500, 502, 503, 504) or attempt == self.attempts - 1:
                    raise RunError(
                        f"Compute Engine answered {exc.code} for {what}", hint="try again later"
                    ) from None
            except urllib.error.URLError as exc:
                if attempt == self.attempts - 1:
                    raise RunError(
                        f"cannot reach Compute Engine: {exc.reason}", hint="check the network"
                    ) from None
            time.sleep(min(2**attempt, 8) * 0.5)
        raise AssertionError("unreachable")


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read())["error"]
        return str(error.get("errors", [{}])[0].get("reason") or error.get("status", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _adc_token() -> str:
    from kfp_gcp.services.cluster.access import adc_token

    return adc_token()


def rows(found: list[Need]) -> list[Row]:
    return [Row(n.metric, n.where, n.amount, "; ".join(n.basis)) for n in found]


def check(
    found: list[Need], regional: dict[str, Quota], project_wide: dict[str, Quota]
) -> list[Row]:
    """Each need against the live limit. Spot needs whose PREEMPTIBLE_* limit is 0 count
    against their regular metric instead, added to what on-demand pools need of it."""
    live = {GLOBAL: project_wide}
    totals: dict[tuple[str, str], Need] = {}
    for need in found:
        quotas = live.get(need.where, regional)
        metric, basis = need.metric, list(need.basis)
        if need.fallback and quotas.get(need.metric, Quota(0, 0)).limit == 0:
            metric = need.fallback
            basis = [f"{b}, counted as {need.fallback}: {need.metric} is 0" for b in basis]
        total = totals.setdefault((metric, need.where), Need(metric, need.where, 0, []))
        total.amount += need.amount
        total.basis.extend(basis)
    result = []
    for need in sorted(totals.values(), key=lambda n: (n.where == GLOBAL, n.metric)):
        quota = live.get(need.where, regional).get(need.metric)
        row = Row(need.metric, need.where, need.amount, "; ".join(need.basis))
        if quota is None:
            row.status = "unknown"
        else:
            row.limit, row.usage = quota.limit, quota.usage
            row.status = "ok" if quota.limit >= need.amount else "short"
        result.append(row)
    return result
