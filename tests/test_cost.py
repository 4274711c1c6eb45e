"""`kfp-gcp infra cost`: the arithmetic, checked by hand on round prices, and the real
price table against the real environments."""

import datetime
import json

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError
from kfp_gcp.services.infra.cost import Prices, Sizing, estimate, load_prices, load_sizing
from kfp_gcp.services.infra.terraform import environments

ROUND_PRICES = Prices.model_validate(
    {
        "as_of": "2026-01-01",
        "currency": "USD",
        "hours_per_month": 100,
        "gke": {
            "cluster_fee_per_hour": 0.1,
            "free_zonal_cluster_credit_per_month": 7,
        },
        "machine_types": {"m-small": {"on_demand": 1.0, "spot": 0.25}},
        "accelerators": {"gpu-a": {"on_demand": 2.0, "spot": 0.5}},
        "disks": {"pd-balanced": 0.1, "pd-standard": 0.05},
        "cloudsql": {
            "vcpu_per_hour": 0.1,
            "memory_gb_per_hour": 0.01,
            "shared_core_per_hour": {"db-f1-micro": 0.02},
            "ssd_gb_per_month": 0.2,
            "ha_multiplier": 2,
            "extended_support": {"mysql_8_0_from": "2026-07-01", "vcpu_per_hour": 0.5},
        },
        "nat": {"per_vm_hour": 0.01, "max_per_hour": 0.02},
        "load_balancer": {"forwarding_rule_per_hour": 0.03},
        "storage": {"standard_gb_per_month": 0.02, "multi_region_standard_gb_per_month": 0.03},
        "secret_manager": {"active_version_per_month": 0.5},
    }
)


def sizing(**overrides):
    base = {
        "region": "europe-west1",
        "cluster": {
            "location": "europe-west1-b",
            "node_pools": {
                "system": {"machine_type": "m-small", "min_count": 1, "disk_size_gb": 10},
                "gpu": {
                    "machine_type": "m-small",
                    "min_count": 0,
                    "spot": True,
                    "accelerator": {"type": "gpu-a", "count": 1},
                },
            },
        },
        "cloudsql": {"tier": "db-custom-2-4096", "ha": False, "disk_size_gb": 10},
        "ingress": {"domain": ""},
        "storage": {"location": "europe-west1"},
        "unrelated_setting": "ignored",
    }
    base.update(overrides)
    return Sizing.model_validate(base)


def lines(result):
    return {line.item: line.monthly for line in result.lines}


BEFORE_EXTENDED_SUPPORT = datetime.date(2026, 6, 30)


def test_zonal_dev_sized_environment_by_hand():
    result = estimate(ROUND_PRICES, sizing(), "dev", artifact_gb=100, today=BEFORE_EXTENDED_SUPPORT)
    assert lines(result) == {
        "GKE cluster fee": 10.0,  # 0.1 x 100 h
        "node pool gpu": 0.0,  # at 0 when idle
        "node pool system": 101.0,  # 1 node x (1.0 x 100 h + 10 GB x 0.1)
        "Cloud SQL instance": 24.0,  # (2 x 0.1 + 4 GB x 0.01) x 100 h
        "Cloud SQL storage": 2.0,  # 10 GB x 0.2
        "Cloud NAT": 1.0,  # 1 VM x 0.01 x 100 h
        "Artifact storage": 2.0,  # 100 GB x 0.02 (regional)
        "Secret Manager": 1.5,  # 3 x 0.5
    }
    assert result.monthly_total == 141.5
    # Zonal, but the settings do not claim the free tier: mentioned, not subtracted.
    assert result.credits == []
    assert result.monthly_after_credits == 141.5
    assert any("free tier" in a and "not subtracted" in a for a in result.assumptions)


def test_free_tier_is_subtracted_when_the_settings_claim_it_showing_both_totals():
    claimed = sizing(cluster={**sizing().cluster.model_dump(), "gke_free_tier": True})
    result = estimate(ROUND_PRICES, claimed, "dev", artifact_gb=100, today=BEFORE_EXTENDED_SUPPORT)
    assert result.monthly_total == 141.5  # list prices, unchanged
    assert [(c.item, c.monthly) for c in result.credits] == [("GKE free tier", -7.0)]
    assert result.monthly_after_credits == 134.5  # the 7.00 credit, under the 10.00 fee


def test_free_tier_never_exceeds_the_cluster_fee():
    generous = ROUND_PRICES.model_copy(
        update={
            "gke": ROUND_PRICES.gke.model_copy(update={"free_zonal_cluster_credit_per_month": 50})
        }
    )
    claimed = sizing(cluster={**sizing().cluster.model_dump(), "gke_free_tier": True})
    result = estimate(generous, claimed, "dev", today=BEFORE_EXTENDED_SUPPORT)
    assert [c.monthly for c in result.credits] == [-10.0]  # the fee, 0.1 x 100 h


def test_a_regional_cluster_gets_no_free_tier_even_if_claimed():
    regional = sizing(
        cluster={**sizing().cluster.model_dump(), "location": "europe-west1", "gke_free_tier": True}
    )
    result = estimate(ROUND_PRICES, regional, "prod", today=BEFORE_EXTENDED_SUPPORT)
    assert result.credits == []
    assert result.monthly_after_credits == result.monthly_total


def test_mysql_8_0_extended_support_is_charged_from_its_start_date():
    before = estimate(ROUND_PRICES, sizing(), "dev", today=BEFORE_EXTENDED_SUPPORT)
    assert "Cloud SQL extended support" not in lines(before)
    after = estimate(ROUND_PRICES, sizing(), "dev", today=datetime.date(2026, 7, 1))
    assert lines(after)["Cloud SQL extended support"] == 100.0  # 2 vCPU x 0.5 x 100 h
    assert after.monthly_total == before.monthly_total + 100.0
    ha = sizing(cloudsql={"tier": "db-custom-2-4096", "ha": True, "disk_size_gb": 10})
    assert (
        lines(estimate(ROUND_PRICES, ha, "prod", today=datetime.date(2026, 7, 1)))[
            "Cloud SQL extended support"
        ]
        == 200.0
    )  # doubled for HA, like the vCPU charge


def test_regional_ha_environment_with_a_domain_by_hand():
    result = estimate(
        ROUND_PRICES,
        sizing(
            cluster={
                "location": "europe-west1",
                "node_pools": {
                    "system": {
                        "machine_type": "m-small",
                        "min_count": 3,
                        "disk_size_gb": 10,
                        "disk_type": "pd-standard",
                    },
                    "gpu": {
                        "machine_type": "m-small",
                        "min_count": 3,
                        "spot": True,
                        "disk_size_gb": 10,
                        "accelerator": {"type": "gpu-a", "count": 2},
                    },
                },
            },
            cloudsql={"tier": "db-f1-micro", "ha": True, "disk_size_gb": 10},
            ingress={"domain": "kfp.example.com"},
            storage={"location": "EU"},
        ),
        "prod",
        artifact_gb=100,
        today=BEFORE_EXTENDED_SUPPORT,
    )
    got = lines(result)
    assert got["node pool system"] == 301.5  # 3 nodes x (100 + 10 GB x 0.05)
    # 3 nodes x (spot 0.25 x 100 + 1.0 disk + 2 GPUs x spot 0.5 x 100)
    assert got["node pool gpu"] == 3 * (25 + 1 + 100)
    assert got["Cloud SQL instance"] == 4.0  # 0.02 x 100 h x 2 (HA)
    assert got["Cloud SQL storage"] == 4.0  # 10 GB x 0.2 x 2
    assert got["Cloud NAT"] == 2.0  # 6 VMs hit the 0.02/h cap
    assert got["HTTPS load balancer"] == 3.0
    assert got["Artifact storage"] == 3.0  # multi-region EU
    assert not any("free tier" in a for a in result.assumptions)


def test_unknown_machine_type_names_the_table_and_the_choices():
    bad = sizing(
        cluster={
            "location": "europe-west1-b",
            "node_pools": {"x": {"machine_type": "a3-megagpu-8g", "min_count": 1}},
        }
    )
    with pytest.raises(ConfigError) as error:
        estimate(ROUND_PRICES, bad, "dev")
    assert "a3-megagpu-8g" in error.value.message
    assert "m-small" in (error.value.hint or "")


def test_committed_price_table_is_dated_and_complete(repo):
    prices = load_prices(repo)
    assert prices.as_of >= "2026-01-01"
    for env in environments(repo):
        sizing_ = load_sizing(repo, env)
        for pool in sizing_.cluster.node_pools.values():
            assert pool.machine_type in prices.machine_types, (env, pool.machine_type)
            if pool.accelerator:
                assert pool.accelerator.type in prices.accelerators


def test_cli_cost_for_every_environment(repo):
    envs = environments(repo)
    assert {"dev", "prod"} <= set(envs)
    totals = {}
    for env in envs:
        result = CliRunner().invoke(
            app, ["--project-dir", str(repo.root), "-o", "json", "infra", "cost", "--env", env]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["monthly_total"] == pytest.approx(
            sum(line["monthly"] for line in report["lines"]), abs=0.05
        )
        assert report["monthly_after_credits"] == pytest.approx(
            report["monthly_total"] + sum(c["monthly"] for c in report["credits"]), abs=0.05
        )
        totals[env] = report["monthly_total"]
    assert totals["dev"] < totals["prod"]  # dev is the small, cheap one


def test_committed_prices_date_mysql_8_0_extended_support(repo):
    assert load_prices(repo).cloudsql.extended_support.mysql_8_0_from == datetime.date(2026, 7, 1)


def test_cli_shows_both_totals_when_the_free_tier_applies(repo):
    result = CliRunner().invoke(
        app, ["--project-dir", str(repo.root), "infra", "cost", "--env", "dev"]
    )
    assert result.exit_code == 0, result.output
    assert "Total at list prices" in result.stdout
    assert "GKE free tier" in result.stdout
    assert "Total after credits" in result.stdout
