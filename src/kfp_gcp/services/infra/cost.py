"""A monthly idle-cost estimate of an environment, from terraform/prices.yaml.

Idle means: every node pool at its minimum size (GPU pools at 0), Cloud SQL always on,
the load balancer up when a domain is set, and a small amount of stored artifacts. Usage
(pipeline runs scaling pools up, data processed by NAT, egress) is not included.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kfp_gcp.errors import ConfigError
from kfp_gcp.services.infra.terraform import SETTINGS_FILE, environment_dir
from kfp_gcp.services.project import Project, relative

PRICES_FILE = "terraform/prices.yaml"
SECRETS_PER_ENVIRONMENT = 3  # database password, IAP client id and secret


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rate(_Strict):
    on_demand: float
    spot: float


class _Gke(_Strict):
    cluster_fee_per_hour: float
    free_zonal_cluster_credit_per_month: float


class _ExtendedSupport(_Strict):
    mysql_8_0_from: datetime.date
    vcpu_per_hour: float


class _CloudSql(_Strict):
    vcpu_per_hour: float
    memory_gb_per_hour: float
    shared_core_per_hour: dict[str, float]
    ssd_gb_per_month: float
    ha_multiplier: float
    extended_support: _ExtendedSupport


class _Nat(_Strict):
    per_vm_hour: float
    max_per_hour: float


class _LoadBalancer(_Strict):
    forwarding_rule_per_hour: float


class _Storage(_Strict):
    standard_gb_per_month: float
    multi_region_standard_gb_per_month: float


class _SecretManager(_Strict):
    active_version_per_month: float


class Prices(_Strict):
    as_of: str
    currency: str
    hours_per_month: float
    gke: _Gke
    machine_types: dict[str, _Rate]
    accelerators: dict[str, _Rate]
    disks: dict[str, float]
    cloudsql: _CloudSql
    nat: _Nat
    load_balancer: _LoadBalancer
    storage: _Storage
    secret_manager: _SecretManager


# What the estimate reads from an environment's terraform.tfvars.json; Terraform itself
# validates the full settings, so other keys are ignored here.
class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Accelerator(_Loose):
    type: str
    count: int = 1


class _NodePool(_Loose):
    """Defaults as in terraform/modules/gke (min_count and max_count are for the whole
    pool, all zones)."""

    machine_type: str = "e2-standard-4"
    min_count: int = 0
    max_count: int = 3
    spot: bool = False
    disk_size_gb: int = 100
    disk_type: str = "pd-balanced"
    accelerator: _Accelerator | None = None
    zones: list[str] | None = None


class _Cluster(_Loose):
    location: str
    gke_free_tier: bool = False
    # Required here although the gke module has default pools: the estimate prices what
    # the environment says, not defaults it would have to copy.
    node_pools: dict[str, _NodePool]


class _Database(_Loose):
    """Defaults as in terraform/modules/platform."""

    tier: str = "db-custom-1-3840"
    ha: bool = False
    disk_size_gb: int = 10


class _Ingress(_Loose):
    domain: str = ""


class _StorageSettings(_Loose):
    location: str = "EU"


class Sizing(_Loose):
    project_id: str = ""
    region: str
    cluster: _Cluster
    cloudsql: _Database = Field(default_factory=_Database)
    ingress: _Ingress = Field(default_factory=_Ingress)
    storage: _StorageSettings = Field(default_factory=_StorageSettings)


@dataclasses.dataclass
class Line:
    item: str
    basis: str
    monthly: float


@dataclasses.dataclass
class Estimate:
    environment: str
    currency: str
    prices_as_of: str
    monthly_total: float  # at list prices
    monthly_after_credits: float  # minus the credits below
    lines: list[Line]
    credits: list[Line]
    assumptions: list[str]


def load_prices(project: Project) -> Prices:
    import yaml

    path = project.root / PRICES_FILE
    try:
        return Prices.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{PRICES_FILE} is missing", hint="restore it from git") from None
    except ValidationError as exc:
        raise ConfigError(
            f"{PRICES_FILE}: {_first_problem(exc)}", hint="fix the price table"
        ) from None


def load_sizing(project: Project, env: str) -> Sizing:
    path = environment_dir(project, env) / SETTINGS_FILE
    try:
        settings = json.loads(path.read_text(encoding="utf-8")).get("settings")
        return Sizing.model_validate(settings)
    except FileNotFoundError:
        raise ConfigError(
            f"{relative(project, path)} is missing",
            hint="the environment's settings live there (terraform/README.md)",
        ) from None
    except (json.JSONDecodeError, ValidationError) as exc:
        problem = _first_problem(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(f"{relative(project, path)}: {problem}", hint="fix the setting") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def is_zone(location: str) -> bool:
    return re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", location) is not None


def _priced(table: dict[str, Any], key: str, what: str) -> Any:
    if key not in table:
        raise ConfigError(
            f"no price for {what} {key!r} in {PRICES_FILE}",
            hint=f"add it to {PRICES_FILE} (with its source), or choose one of: "
            + ", ".join(sorted(table)),
        )
    return table[key]


def estimate(
    prices: Prices,
    sizing: Sizing,
    env: str,
    artifact_gb: float = 50,
    today: datetime.date | None = None,
) -> Estimate:
    hours = prices.hours_per_month
    today = today or datetime.date.today()
    lines: list[Line] = []
    zonal = is_zone(sizing.cluster.location)

    fee = prices.gke.cluster_fee_per_hour * hours
    lines.append(Line("GKE cluster fee", f"{'zonal' if zonal else 'regional'} cluster", fee))

    nodes = 0
    for name, pool in sorted(sizing.cluster.node_pools.items()):
        count = pool.min_count
        nodes += count
        rate = _priced(prices.machine_types, pool.machine_type, "machine type")
        per_node = (rate.spot if pool.spot else rate.on_demand) * hours
        disk = _priced(prices.disks, pool.disk_type, "disk type") * pool.disk_size_gb
        basis = f"{count} x {pool.machine_type}{' spot' if pool.spot else ''} at minimum"
        monthly = count * (per_node + disk)
        if pool.accelerator and count:
            gpu = _priced(prices.accelerators, pool.accelerator.type, "accelerator")
            monthly += (
                count * pool.accelerator.count * (gpu.spot if pool.spot else gpu.on_demand) * hours
            )
        if pool.accelerator:
            basis += f", {pool.accelerator.count} x {pool.accelerator.type} each when running"
        lines.append(Line(f"node pool {name}", basis, monthly))

    db = sizing.cloudsql
    if custom := re.fullmatch(r"db-custom-(\d+)-(\d+)", db.tier):
        vcpus, memory_gb = int(custom[1]), int(custom[2]) / 1024
        per_hour = (
            vcpus * prices.cloudsql.vcpu_per_hour + memory_gb * prices.cloudsql.memory_gb_per_hour
        )
        shape = f"{vcpus} vCPU, {memory_gb:g} GB"
    else:
        per_hour = _priced(prices.cloudsql.shared_core_per_hour, db.tier, "Cloud SQL tier")
        shape = "shared core"
    factor = prices.cloudsql.ha_multiplier if db.ha else 1
    lines.append(
        Line(
            "Cloud SQL instance",
            f"{db.tier} ({shape}){', HA (regional)' if db.ha else ', zonal'}",
            per_hour * hours * factor,
        )
    )
    # terraform/modules/cloudsql always runs MYSQL_8_0.
    extended = prices.cloudsql.extended_support
    if custom and today >= extended.mysql_8_0_from:
        lines.append(
            Line(
                "Cloud SQL extended support",
                f"MySQL 8.0 since {extended.mysql_8_0_from}: {vcpus} vCPU"
                f"{' x 2 for HA' if db.ha else ''}",
                vcpus * extended.vcpu_per_hour * hours * factor,
            )
        )
    lines.append(
        Line(
            "Cloud SQL storage",
            f"{db.disk_size_gb} GB SSD{' x 2 for HA' if db.ha else ''}",
            db.disk_size_gb * prices.cloudsql.ssd_gb_per_month * factor,
        )
    )

    nat = min(nodes * prices.nat.per_vm_hour, prices.nat.max_per_hour) * hours
    lines.append(Line("Cloud NAT", f"{nodes} VM(s) behind the gateway, no data", nat))

    if sizing.ingress.domain:
        lb = prices.load_balancer.forwarding_rule_per_hour * hours
        lines.append(
            Line("HTTPS load balancer", f"1 forwarding rule for {sizing.ingress.domain}", lb)
        )

    multi_region = sizing.storage.location.upper() in {"EU", "US", "ASIA"}
    per_gb = (
        prices.storage.multi_region_standard_gb_per_month
        if multi_region
        else prices.storage.standard_gb_per_month
    )
    lines.append(
        Line(
            "Artifact storage",
            f"{artifact_gb:g} GB standard in {sizing.storage.location}",
            artifact_gb * per_gb,
        )
    )
    lines.append(
        Line(
            "Secret Manager",
            f"{SECRETS_PER_ENVIRONMENT} active secret versions",
            SECRETS_PER_ENVIRONMENT * prices.secret_manager.active_version_per_month,
        )
    )

    assumptions = [
        f"List prices from {PRICES_FILE} as of {prices.as_of} ({prices.currency}); "
        "check them before budgeting.",
        f"{hours:g} hours a month; every node pool at its minimum size, GPU pools at 0.",
        "Not included: pipeline runs (pools scaling up), NAT data processing, egress, "
        "logging beyond the free allotment, backups beyond the instance's free allowance, "
        "Terraform state and CI.",
    ]
    credits: list[Line] = []
    free_tier = prices.gke.free_zonal_cluster_credit_per_month
    if zonal and sizing.cluster.gke_free_tier:
        credits.append(
            Line(
                "GKE free tier",
                "one zonal cluster per billing account (settings: cluster.gke_free_tier)",
                -min(free_tier, fee),
            )
        )
    elif zonal:
        assumptions.append(
            f"The GKE free tier credits {free_tier:.2f} a month for one zonal cluster per "
            "billing account; not subtracted: cluster.gke_free_tier is false (another "
            "cluster of the billing account takes it)."
        )
    if not sizing.ingress.domain:
        assumptions.append("No domain: no load balancer (the UI is reached by port-forward).")
    if custom and today >= extended.mysql_8_0_from:
        assumptions.append(
            "Cloud SQL extended support for MySQL 8.0 is billed per vCPU hour (doubled for "
            "HA, like the vCPU charge) until the instance moves to a version in regular "
            "support; the rate in prices.yaml is unchecked."
        )
    total = sum(line.monthly for line in lines)
    rounded = [dataclasses.replace(line, monthly=round(line.monthly, 2)) for line in credits]
    return Estimate(
        environment=env,
        currency=prices.currency,
        prices_as_of=prices.as_of,
        monthly_total=round(total, 2),
        monthly_after_credits=round(total + sum(c.monthly for c in credits), 2),
        lines=[dataclasses.replace(line, monthly=round(line.monthly, 2)) for line in lines],
        credits=rounded,
        assumptions=assumptions,
    )
