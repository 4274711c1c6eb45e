"""A monthly estimate of an environment's cost when idle, running and paused, from
terraform/prices.yaml and the environment's terraform.tfvars.json.

Running idle: every node pool at its minimum size (GPU pools at 0), Cloud SQL on, the
load balancer up when a domain is set. Paused: every pool at 0 and Cloud SQL stopped
(settings.paused), so what is left is the cluster's control plane, storage and what
stays configured. Both include what the retention settings make of a steady trickle of
artifacts, backups and logs. Usage (pipeline runs scaling pools up, NAT data, egress) is
not included. Each saving against the modules' defaults is listed with its reason.
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
CLASSES = ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")
MULTI_REGIONS = {"EU", "US", "ASIA"}
# The modules' defaults, the baseline the savings are measured against.
DEFAULT_DISK_GB = 100  # modules/gke node_pools disk_size_gb
DEFAULT_TIER = "db-custom-1-3840"  # modules/cloudsql tier
DEFAULT_RETAINED_BACKUPS = 8  # modules/cloudsql backup.retained_backups
# Alert conditions the monitoring module creates: 3 Cloud SQL, KFP unavailable and
# restarting, failed runs; plus GPU idle with an accelerator pool, LB 5xx with a domain.
BASE_ALERTS = 6
# Managed Prometheus samples while nodes run: Argo's kept metrics (the manifests'
# monitoring component keeps 3 families, ~30 series, scraped every 60 s) and GKE's kube
# state metrics of Deployments (~5 series each for ~25 Deployments, every 30 s).
PROMETHEUS_SAMPLES_PER_MONTH = 30 * 43_800 + 125 * 87_600
# Backups are incremental: the first holds the data, each later one its changes.
DAILY_CHANGE = 0.1


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
    shared_core_vcpus: dict[str, float]
    ssd_gb_per_month: float
    backup_gb_per_month: float
    ha_multiplier: float
    extended_support: _ExtendedSupport


class _Nat(_Strict):
    per_vm_hour: float
    max_per_hour: float
    address_per_hour: float


class _LoadBalancer(_Strict):
    forwarding_rule_per_hour: float


class _Storage(_Strict):
    regional: dict[str, float]
    multi_region: dict[str, float]


class _SecretManager(_Strict):
    active_version_per_month: float


class _Monitoring(_Strict):
    alert_condition_per_month: float
    prometheus_samples_per_million: float


class _Logging(_Strict):
    free_ingestion_gib_per_month: float
    ingestion_per_gib: float
    free_retention_days: int
    retention_per_gib_month: float


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
    monitoring: _Monitoring
    logging: _Logging


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
    disk_size_gb: int = DEFAULT_DISK_GB
    disk_type: str = "pd-balanced"
    accelerator: _Accelerator | None = None
    zones: list[str] | None = None


class _Cluster(_Loose):
    location: str
    gke_free_tier: bool = False
    # Required here although the gke module has default pools: the estimate prices what
    # the environment says, not defaults it would have to copy.
    node_pools: dict[str, _NodePool]


class _Backup(_Loose):
    retained_backups: int | None = None


class _Database(_Loose):
    """Defaults as in terraform/modules/platform and modules/cloudsql."""

    tier: str = DEFAULT_TIER
    ha: bool = False
    disk_size_gb: int = 10
    backup: _Backup = Field(default_factory=_Backup)


class _Ingress(_Loose):
    domain: str = ""


class _StorageSettings(_Loose):
    location: str = "EU"
    lifecycle_storage_class: dict[str, int] = Field(default_factory=dict)


class _MonitoringSettings(_Loose):
    log_retention_days: int = 30


class Sizing(_Loose):
    project_id: str = ""
    region: str
    paused: bool = False
    schedule: dict[str, Any] | None = None
    cluster: _Cluster
    cloudsql: _Database = Field(default_factory=_Database)
    ingress: _Ingress = Field(default_factory=_Ingress)
    storage: _StorageSettings = Field(default_factory=_StorageSettings)
    monitoring: _MonitoringSettings = Field(default_factory=_MonitoringSettings)


@dataclasses.dataclass(frozen=True)
class Usage:
    """What the environment stores and logs: assumptions a team should replace with its own
    figures (the options of `kfp-gcp infra cost`)."""

    artifact_gb_per_month: float = 5  # written to the artifact bucket
    months: int = 12  # priced after this long of steady writing
    database_gb: float = 2  # KFP's three databases together
    log_gib_per_month: float = 10  # GKE system and workload logs of an idle small cluster


@dataclasses.dataclass
class Line:
    item: str
    basis: str
    monthly: float  # running idle
    paused: float  # with every pool at 0 and the database stopped


@dataclasses.dataclass
class Saving:
    what: str
    monthly: float
    why: str


@dataclasses.dataclass
class Estimate:
    environment: str
    currency: str
    prices_as_of: str
    paused_now: bool  # settings.paused (the schedule is not applied here)
    monthly_total: float  # running idle, at list prices
    monthly_after_credits: float  # running idle, minus the credits below
    paused_total: float
    paused_after_credits: float
    scheduled_after_credits: float | None  # the schedule's mix of both, or None
    scheduled_basis: str
    lines: list[Line]
    credits: list[Line]
    savings: list[Saving]
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


@dataclasses.dataclass(frozen=True)
class _DatabaseCost:
    compute: float  # per month
    extended: float  # per month, 0 before extended support started
    vcpus: float
    shape: str


def _database_cost(
    prices: Prices, tier: str, ha: bool, hours: float, today: datetime.date
) -> _DatabaseCost:
    sql = prices.cloudsql
    factor = sql.ha_multiplier if ha else 1
    if custom := re.fullmatch(r"db-custom-(\d+)-(\d+)", tier):
        vcpus, memory_gb = float(custom[1]), int(custom[2]) / 1024
        per_hour = vcpus * sql.vcpu_per_hour + memory_gb * sql.memory_gb_per_hour
        shape = f"{vcpus:g} vCPU, {memory_gb:g} GB"
    else:
        per_hour = _priced(sql.shared_core_per_hour, tier, "Cloud SQL tier")
        vcpus = _priced(sql.shared_core_vcpus, tier, "Cloud SQL shared-core vCPU share")
        shape = f"shared core, {vcpus:g} vCPU share"
    # terraform/modules/cloudsql always runs MYSQL_8_0.
    extended = (
        vcpus * sql.extended_support.vcpu_per_hour * hours * factor
        if today >= sql.extended_support.mysql_8_0_from
        else 0.0
    )
    return _DatabaseCost(per_hour * hours * factor, extended, vcpus, shape)


def artifact_gb_by_class(rate: float, months: int, transitions: dict[str, int]) -> dict[str, float]:
    """GB in each storage class after `months` of writing `rate` GB a month, when objects
    move to colder classes at the given ages (days, 30 to a month). Nothing is deleted."""
    ages = sorted((days, cls) for cls, days in transitions.items())
    edges = [0.0] + [days / 30 for days, _ in ages] + [float("inf")]
    classes = ["STANDARD"] + [cls for _, cls in ages]
    stored = {}
    for cls, start, end in zip(classes, edges, edges[1:], strict=False):
        stored[cls] = rate * max(0.0, min(end, months) - min(start, months))
    return {cls: gb for cls, gb in stored.items() if gb > 0}


def estimate(
    prices: Prices,
    sizing: Sizing,
    env: str,
    usage: Usage | None = None,
    today: datetime.date | None = None,
) -> Estimate:
    usage = usage or Usage()
    hours = prices.hours_per_month
    today = today or datetime.date.today()
    lines: list[Line] = []
    savings: list[Saving] = []
    zonal = is_zone(sizing.cluster.location)

    fee = prices.gke.cluster_fee_per_hour * hours
    where = "zonal" if zonal else "regional"
    lines.append(Line("GKE cluster fee", f"{where} cluster (its control plane stays)", fee, fee))

    nodes = 0
    for name, pool in sorted(sizing.cluster.node_pools.items()):
        count = pool.min_count
        nodes += count
        rate = _priced(prices.machine_types, pool.machine_type, "machine type")
        per_node = (rate.spot if pool.spot else rate.on_demand) * hours
        disk_rate = _priced(prices.disks, pool.disk_type, "disk type")
        basis = (
            f"{count} x {pool.machine_type}{' Spot' if pool.spot else ''}, "
            f"{pool.disk_size_gb} GB {pool.disk_type}, at minimum"
        )
        monthly = count * (per_node + disk_rate * pool.disk_size_gb)
        if pool.accelerator and count:
            gpu = _priced(prices.accelerators, pool.accelerator.type, "accelerator")
            monthly += (
                count * pool.accelerator.count * (gpu.spot if pool.spot else gpu.on_demand) * hours
            )
        if pool.accelerator:
            basis += f"; {pool.accelerator.count} x {pool.accelerator.type} each when running"
        lines.append(Line(f"node pool {name}", basis, monthly, 0.0))
        if count and pool.spot:
            savings.append(
                Saving(
                    f"node pool {name} on Spot",
                    count * (rate.on_demand - rate.spot) * hours,
                    "Spot VMs cost a fraction of on-demand ones; Google can stop one with 30 s "
                    "notice, and the pool's pods restart on a new node a few minutes later "
                    "(set spot to false if that matters more than the money)",
                )
            )
        if count and pool.disk_size_gb < DEFAULT_DISK_GB:
            savings.append(
                Saving(
                    f"node pool {name} boot disk {pool.disk_size_gb} GB",
                    count * (DEFAULT_DISK_GB - pool.disk_size_gb) * disk_rate,
                    f"instead of the gke module's {DEFAULT_DISK_GB} GB: KFP's images and logs "
                    f"fit in {pool.disk_size_gb} GB",
                )
            )

    db = sizing.cloudsql
    database = _database_cost(prices, db.tier, db.ha, hours, today)
    factor = prices.cloudsql.ha_multiplier if db.ha else 1
    lines.append(
        Line(
            "Cloud SQL instance",
            f"{db.tier} ({database.shape}){', HA (regional)' if db.ha else ', zonal'}; "
            "stopped when paused",
            database.compute,
            0.0,
        )
    )
    if database.extended:
        lines.append(
            Line(
                "Cloud SQL extended support",
                f"MySQL 8.0 since {prices.cloudsql.extended_support.mysql_8_0_from}: "
                f"{database.vcpus:g} vCPU{' x 2 for HA' if db.ha else ''}, while it runs",
                database.extended,
                0.0,
            )
        )
    storage = db.disk_size_gb * prices.cloudsql.ssd_gb_per_month * factor
    basis = f"{db.disk_size_gb} GB SSD{' x 2 for HA' if db.ha else ''}"
    lines.append(Line("Cloud SQL storage", basis, storage, storage))
    retained = db.backup.retained_backups or DEFAULT_RETAINED_BACKUPS
    backup_gb = usage.database_gb * (1 + (retained - 1) * DAILY_CHANGE)
    backups = backup_gb * prices.cloudsql.backup_gb_per_month
    lines.append(
        Line(
            "Cloud SQL backups",
            f"{retained} retained of a {usage.database_gb:g} GB database ({backup_gb:.1f} GB)",
            backups,
            backups,
        )
    )
    if db.tier != DEFAULT_TIER and not db.ha:
        default = _database_cost(prices, DEFAULT_TIER, False, hours, today)
        saved = default.compute + default.extended - database.compute - database.extended
        if saved > 0:
            savings.append(
                Saving(
                    f"Cloud SQL {db.tier}",
                    saved,
                    f"instead of {DEFAULT_TIER} (with its extended support): 1.7 GB hold the "
                    "800Mi KFP requests for its own MySQL (upstream third-party/mysql); no SLA, "
                    "so for dev only",
                )
            )
    if retained < DEFAULT_RETAINED_BACKUPS:
        savings.append(
            Saving(
                f"{retained} retained backups",
                (DEFAULT_RETAINED_BACKUPS - retained)
                * usage.database_gb
                * DAILY_CHANGE
                * prices.cloudsql.backup_gb_per_month,
                f"instead of {DEFAULT_RETAINED_BACKUPS}: a shorter history to restore from",
            )
        )

    nat = min(nodes * prices.nat.per_vm_hour, prices.nat.max_per_hour) * hours
    lines.append(Line("Cloud NAT", f"{nodes} VM(s) behind the gateway, no data", nat, 0.0))
    address = prices.nat.address_per_hour * hours if nodes else 0.0
    lines.append(
        Line(
            "Cloud NAT address",
            "1 external IPv4 address in use (allocated automatically, released without VMs)",
            address,
            0.0,
        )
    )

    if sizing.ingress.domain:
        lb = prices.load_balancer.forwarding_rule_per_hour * hours
        basis = f"1 forwarding rule for {sizing.ingress.domain} (stays when paused)"
        lines.append(Line("HTTPS load balancer", basis, lb, lb))

    table = (
        prices.storage.multi_region
        if sizing.storage.location.upper() in MULTI_REGIONS
        else prices.storage.regional
    )
    transitions = sizing.storage.lifecycle_storage_class
    stored = artifact_gb_by_class(usage.artifact_gb_per_month, usage.months, transitions)
    artifacts = sum(gb * _priced(table, cls, "storage class") for cls, gb in stored.items())
    lines.append(
        Line(
            "Artifact storage",
            f"{usage.artifact_gb_per_month:g} GB a month for {usage.months} months in "
            f"{sizing.storage.location}: "
            + ", ".join(f"{gb:g} GB {cls.lower()}" for cls, gb in stored.items()),
            artifacts,
            artifacts,
        )
    )
    if transitions:
        standard_only = usage.artifact_gb_per_month * usage.months * table["STANDARD"]
        savings.append(
            Saving(
                "artifacts to colder classes",
                standard_only - artifacts,
                "lifecycle_storage_class "
                + ", ".join(f"{c.lower()} after {d} days" for c, d in sorted(transitions.items()))
                + ": old artifacts, models included, stay where KFP recorded them and cost "
                "less to keep (a retrieval fee when read)",
            )
        )

    secrets = SECRETS_PER_ENVIRONMENT * prices.secret_manager.active_version_per_month
    lines.append(
        Line(
            "Secret Manager", f"{SECRETS_PER_ENVIRONMENT} active secret versions", secrets, secrets
        )
    )

    gpu_pools = any(p.accelerator for p in sizing.cluster.node_pools.values())
    conditions = BASE_ALERTS + gpu_pools + bool(sizing.ingress.domain)
    alerts = conditions * prices.monitoring.alert_condition_per_month
    samples = PROMETHEUS_SAMPLES_PER_MONTH / 1e6 * prices.monitoring.prometheus_samples_per_million
    lines.append(
        Line(
            "Cloud Monitoring",
            f"{conditions} alert conditions; {PROMETHEUS_SAMPLES_PER_MONTH / 1e6:.1f} M Managed "
            "Prometheus samples while nodes run",
            alerts + samples,
            alerts,
        )
    )
    log = prices.logging
    ingestion = max(0.0, usage.log_gib_per_month - log.free_ingestion_gib_per_month)
    extra_days = max(0, sizing.monitoring.log_retention_days - log.free_retention_days)
    kept = usage.log_gib_per_month * extra_days / 30
    lines.append(
        Line(
            "Cloud Logging",
            f"{usage.log_gib_per_month:g} GiB a month (first {log.free_ingestion_gib_per_month:g}"
            f" free), kept {sizing.monitoring.log_retention_days} days "
            f"(first {log.free_retention_days} free)",
            ingestion * log.ingestion_per_gib + kept * log.retention_per_gib_month,
            kept * log.retention_per_gib_month,
        )
    )

    assumptions = [
        f"List prices from {PRICES_FILE} as of {prices.as_of} ({prices.currency}); "
        "check them before budgeting.",
        f"{hours:g} hours a month. Running idle: every node pool at its minimum size, GPU "
        "pools at 0, Cloud SQL on. Paused: every pool at 0, Cloud SQL stopped (settings.paused "
        "or the schedule; the control plane, storage, backups and alert policies stay).",
        f"Artifacts: {usage.artifact_gb_per_month:g} GB written a month, priced after "
        f"{usage.months} months under the lifecycle settings; retrieval and early-deletion "
        "fees, and deleted Argo logs, are left out. Database "
        f"{usage.database_gb:g} GB, backups growing by {DAILY_CHANGE:.0%} of it a day. "
        f"Logs {usage.log_gib_per_month:g} GiB a month (check Logs Storage in the console).",
        "Not included: pipeline runs (pools scaling up), NAT data processing, egress, "
        "Terraform state and CI.",
    ]
    credits: list[Line] = []
    free_tier = prices.gke.free_zonal_cluster_credit_per_month
    if zonal and sizing.cluster.gke_free_tier:
        credit = -min(free_tier, fee)
        credits.append(
            Line(
                "GKE free tier",
                "one zonal cluster per billing account (settings: cluster.gke_free_tier)",
                credit,
                credit,
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
    if database.extended:
        assumptions.append(
            "Cloud SQL extended support for MySQL 8.0 is billed per vCPU hour while the "
            "instance runs (doubled for HA, like the vCPU charge), until it moves to a version "
            "in regular support; the rate in prices.yaml is unchecked"
            + (
                f", and so is counting {db.tier} as {database.vcpus:g} vCPU."
                if database.shape.startswith("shared")
                else "."
            )
        )
    assumptions.append(
        "Paused, Cloud NAT releases its automatically allocated address and Cloud Monitoring "
        "still bills the (disabled) alert conditions; both to be confirmed on a real project."
    )

    credit_total = sum(c.monthly for c in credits)
    running = sum(line.monthly for line in lines)
    paused = sum(line.paused for line in lines)
    schedule = sizing.schedule
    scheduled, scheduled_basis = None, ""
    if schedule is not None:
        from kfp_gcp.services.infra.pause import schedule_of

        window = schedule_of({"schedule": schedule}, f"the {env} settings")
        assert window is not None
        share = window.running_hours_per_week() / 168
        scheduled = paused + credit_total + share * (running - paused)
        scheduled_basis = (
            f"running {window.describe()} ({window.running_hours_per_week():g} of 168 hours "
            "a week), paused otherwise"
        )
        savings.append(
            Saving(
                "the schedule",
                running - paused - share * (running - paused),
                f"{scheduled_basis}: nobody runs pipelines at night or at weekends",
            )
        )
    savings.append(
        Saving(
            "pausing",
            running - paused,
            "every pool at 0 and Cloud SQL stopped: only the control plane (free tier), "
            "storage, backups and the alert conditions are left",
        )
    )

    def rounded(items: list[Line]) -> list[Line]:
        return [
            dataclasses.replace(i, monthly=round(i.monthly, 2), paused=round(i.paused, 2))
            for i in items
        ]

    return Estimate(
        environment=env,
        currency=prices.currency,
        prices_as_of=prices.as_of,
        paused_now=sizing.paused,
        monthly_total=round(running, 2),
        monthly_after_credits=round(running + credit_total, 2),
        paused_total=round(paused, 2),
        paused_after_credits=round(paused + credit_total, 2),
        scheduled_after_credits=None if scheduled is None else round(scheduled, 2),
        scheduled_basis=scheduled_basis,
        lines=rounded(lines),
        credits=rounded(credits),
        savings=[dataclasses.replace(s, monthly=round(s.monthly, 2)) for s in savings],
        assumptions=assumptions,
    )
