"""Unit tests for the catalog data and the planner (pure; no cluster)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.datamill.platform.plugins.module_utils import catalog as cat
from ansible_collections.datamill.platform.plugins.module_utils import planner

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "catalog"
STREAMING_ON = {"kafka": {"enabled": True}, "rabbitmq": {"enabled": True}, "schema-registry": {"enabled": True}}


@pytest.fixture(scope="module")
def catalog():
    return cat.load_catalog_dir(str(REPO / "roles" / "catalog"))


def load(name):
    return yaml.safe_load((FIXTURES / name).read_text())


def names(plan):
    return [c["name"] for c in plan["components"]]


def comp(plan, name):
    return next(c for c in plan["components"] if c["name"] == name)


def dig(data, dotted):
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


# --- catalog data -----------------------------------------------------------------------------------------------


def test_shipped_catalog_is_valid(catalog):
    assert cat.validate_catalog(catalog) is catalog


def test_every_component_file_holds_exactly_its_own_entry():
    for path in sorted((REPO / "roles/catalog/files/components").glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        assert list(data) == [path.stem], f"{path} must define only {path.stem!r}"


def test_required_profiles_exist(catalog):
    assert {"minimal", "datalake", "datawarehouse", "ds", "streaming", "full"} <= set(catalog["profiles"])


@pytest.mark.parametrize(
    ("component", "version"),
    [
        ("strimzi-operator", "1.2.0"),
        ("rabbitmq-operator", "2.22.3"),
        ("seaweedfs", "4.44.0"),
        ("lakefs", "1.12.16"),
        ("cnpg-operator", "0.29.0"),
        ("apicurio-operator", "3.2.6"),
    ],
)
def test_pins(catalog, component, version):
    assert catalog["components"][component]["source"]["version"] == version


def test_strimzi_is_oci_and_minio_is_opt_in(catalog):
    comps = catalog["components"]
    assert comps["strimzi-operator"]["source"]["repo"] == "oci://quay.io/strimzi-helm"
    assert comps["minio"].get("opt_in") is True
    assert "minio" not in planner.build_plan(catalog, "full", {}, "small")["waves"][0]


def test_catalog_rejects_unpinned_version(catalog):
    broken = copy.deepcopy(catalog)
    broken["components"]["lakefs"]["source"]["version"] = "latest"
    with pytest.raises(cat.CatalogError, match=r"lakefs.*exact pinned version"):
        cat.validate_catalog(broken)


def test_catalog_rejects_unknown_dependency_and_missing_sizes(catalog):
    broken = copy.deepcopy(catalog)
    broken["components"]["lakefs"]["depends_on"].append("hdfs")
    del broken["components"]["kafka"]["requests"]["standard"]
    with pytest.raises(cat.CatalogError) as info:
        cat.validate_catalog(broken)
    text = str(info.value)
    assert "'hdfs'" in text
    assert "requests.standard is missing" in text


def test_readiness_specs_match_component_ready_option(catalog):
    plan = planner.build_plan(catalog, "full", {}, "small")
    allowed = {"name", "namespace", "label_selector", "kinds", "resources", "wait_for"}
    for component in plan["components"]:
        spec = component["readiness"]
        assert set(spec) <= allowed
        assert spec["name"] == component["name"]
        for ref in spec["resources"]:
            assert set(ref) == {"api_version", "kind", "name", "namespace"}


# --- quantities ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "milli"), [("500m", 500), ("2", 2000), (1.5, 1500), (2, 2000), ("0.25", 250)])
def test_parse_cpu(raw, milli):
    assert cat.parse_cpu(raw) == milli


@pytest.mark.parametrize(("raw", "num"), [("1Gi", 2**30), ("512Mi", 2**29), ("1G", 10**9), (1024, 1024)])
def test_parse_memory(raw, num):
    assert cat.parse_memory(raw) == num


@pytest.mark.parametrize("raw", ["lots", "1 Gi", "-1", True])
def test_parse_memory_rejects(raw):
    with pytest.raises(ValueError):
        cat.parse_memory(raw)


# --- resolution ------------------------------------------------------------------------------------------------


def test_datalake_pulls_dependencies(catalog):
    plan = planner.build_plan(catalog, "datalake", {}, "small")
    assert set(names(plan)) == {"seaweedfs", "lakefs", "postgres", "cnpg-operator"}
    assert comp(plan, "postgres")["enabled_by"] == "dependency of lakefs"
    assert plan["bindings"]["s3"] == "seaweedfs"


def test_waves_respect_dependencies(catalog):
    plan = planner.build_plan(catalog, "datalake", STREAMING_ON, "small")
    wave = {c["name"]: c["wave"] for c in plan["components"]}
    for component in plan["components"]:
        for dep in component["depends_on"]:
            assert wave[dep] < wave[component["name"]], (component["name"], dep)
    assert plan["waves"][0][:2] == ["cnpg-operator", "seaweedfs"]  # storage before ingestion inside a wave
    assert "lakefs" in plan["waves"][2] and "schema-registry" in plan["waves"][2]


def test_unknown_component_suggests_fix(catalog):
    with pytest.raises(planner.PlanError, match=r"unknown component 'lakfs'.*Did you mean 'lakefs'"):
        planner.build_plan(catalog, "datalake", {"lakfs": {"enabled": True}}, "small")


def test_unknown_profile_and_size(catalog):
    with pytest.raises(planner.PlanError, match=r"unknown profile 'datalak'.*Did you mean 'datalake'"):
        planner.build_plan(catalog, "datalak", {}, "small")
    with pytest.raises(planner.PlanError, match=r"invalid size 'huge'.*datamill_size"):
        planner.build_plan(catalog, "datalake", {}, "huge")


def test_unknown_override_key(catalog):
    with pytest.raises(planner.PlanError, match=r"datamill_components.lakefs.value is not a known key.*'values'"):
        planner.build_plan(catalog, "datalake", {"lakefs": {"value": {}}}, "small")


def test_disabled_dependency_is_refused_with_fix(catalog):
    with pytest.raises(planner.PlanError, match=r"lakefs needs postgres, which .* disables.*also disable lakefs"):
        planner.build_plan(catalog, "datalake", {"postgres": {"enabled": False}}, "small")


def test_capability_switches_provider(catalog):
    overrides = {"seaweedfs": {"enabled": False}, "minio": {"enabled": True}}
    plan = planner.build_plan(catalog, "datalake", overrides, "small")
    assert "seaweedfs" not in names(plan)
    assert plan["bindings"]["s3"] == "minio"
    assert "minio" in comp(plan, "lakefs")["depends_on"]
    assert "http://minio.datamill-minio.svc:80" in comp(plan, "lakefs")["values"]["lakefsConfig"]


def test_s3_without_any_provider_is_refused(catalog):
    with pytest.raises(planner.PlanError, match=r"missing dependency: lakefs needs 's3'.*enable one of \['minio'\]"):
        planner.build_plan(catalog, "datalake", {"seaweedfs": {"enabled": False}}, "small")


def test_cycle_is_reported_with_path():
    with pytest.raises(planner.PlanError, match=r"dependency cycle: alpha -> beta -> gamma -> alpha"):
        planner.build_plan(load("cycle.yml"), "all-three", {}, "small")


def test_invalid_names_are_refused(catalog):
    overrides = {
        "seaweedfs": {"settings": {"buckets": ["Bad_Bucket"]}},
        "kafka": {"enabled": True, "settings": {"topics": [{"name": "ok.topic"}, {"name": "bad topic"}]}},
    }
    with pytest.raises(planner.PlanError) as info:
        planner.build_plan(catalog, "datalake", overrides, "small")
    text = str(info.value)
    assert "'Bad_Bucket' is not a valid S3 bucket name" in text
    assert "'bad topic' is not a valid Kafka topic name" in text
    with pytest.raises(planner.PlanError, match=r"'Storage' is not a valid namespace name"):
        planner.build_plan(catalog, "datalake", {"lakefs": {"namespace": "Storage"}}, "small")


def test_topic_name_collision(catalog):
    topics = [{"name": "orders_v1"}, {"name": "orders.v1"}]
    with pytest.raises(planner.PlanError, match=r"both map to the KafkaTopic 'orders-v1'"):
        planner.build_plan(catalog, "streaming", {"kafka": {"settings": {"topics": topics}}}, "small")


def test_undeployable_components_are_marked_not_hidden(catalog):
    plan = planner.build_plan(catalog, "datawarehouse", {}, "small")
    assert {"spark-operator", "superset", "kube-prometheus-stack"} <= set(plan["undeployable"])
    assert "not deployable yet: the processing layer has no role" in comp(plan, "spark-operator")["reason"]
    assert "NO (layer role missing)" in plan["table"]
    assert comp(plan, "lakefs")["deployable"]


# --- values, settings, sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", load("expected_values.yml"), ids=lambda c: f"{c['profile']}-{c['size']}-{c['component']}"
)
def test_value_rendering_per_profile(catalog, case):
    plan = planner.build_plan(catalog, case["profile"], {}, case["size"])
    values = comp(plan, case["component"])["values"]
    for path, expected in case["expect"].items():
        assert dig(values, path) == expected, path


def test_user_values_override_catalog_and_size(catalog):
    overrides = {"lakefs": {"values": {"replicaCount": 5, "resources": {"requests": {"cpu": "1"}}}}}
    plan = planner.build_plan(catalog, "datalake", overrides, "small")
    values = comp(plan, "lakefs")["values"]
    assert values["replicaCount"] == 5
    assert values["resources"]["requests"] == {"cpu": "1", "memory": "256Mi"}
    assert values["existingSecret"] == "lakefs-env"


def test_settings_by_size_and_inventory(catalog):
    small = comp(planner.build_plan(catalog, "streaming", {}, "small"), "kafka")["settings"]
    standard = comp(planner.build_plan(catalog, "streaming", {}, "standard"), "kafka")["settings"]
    assert (small["replicas"], small["dual_role"]) == (1, True)
    assert (standard["replicas"], standard["controllers"], standard["dual_role"]) == (3, 3, False)
    topics = [{"name": "events", "partitions": 3}]
    mine = comp(planner.build_plan(catalog, "streaming", {"kafka": {"settings": {"topics": topics}}}, "small"), "kafka")
    assert mine["settings"]["topics"] == topics


def test_namespace_override_flows_into_placeholders(catalog):
    plan = planner.build_plan(catalog, "streaming", {"kafka": {"namespace": "events"}}, "small")
    assert comp(plan, "strimzi-operator")["values"]["watchNamespaces"] == ["events"]
    assert comp(plan, "kafka")["endpoints"]["bootstrap"] == "datamill-kafka-bootstrap.events.svc:9092"
    assert comp(plan, "kafka")["readiness"]["resources"][0]["namespace"] == "events"


# --- capacity --------------------------------------------------------------------------------------------------


def test_capacity_fits_and_table(catalog):
    plan = planner.build_plan(catalog, "datalake", {}, "small", capacity=load("fleet_small.yml"))
    assert plan["fits"] is True
    assert plan["capacity"]["cpu"] == 4000
    assert "| CPU " in plan["capacity_table"] and "ok" in plan["capacity_table"]


def test_capacity_refuses_with_table(catalog):
    plan = planner.build_plan(catalog, "datalake", STREAMING_ON, "standard", capacity=load("fleet_small.yml"))
    assert plan["fits"] is False
    assert "TOO BIG" in plan["capacity_table"]
    assert any(s.startswith("CPU: the plan requests") for s in plan["shortfalls"])
    assert "Fix: use a smaller profile or size" in plan["capacity_table"]


def test_capacity_headroom_and_totals_shape(catalog):
    big = load("fleet_large.yml")
    plan = planner.build_plan(catalog, "full", {}, "standard", capacity=big, headroom=0.2)
    assert plan["capacity"]["gpu"] == 1
    assert plan["usable"]["cpu"] == 38400
    assert plan["totals"]["cpu"] == sum(c["requests"]["cpu"] for c in plan["components"])


def test_gpu_required_without_gpu(catalog):
    gpu_catalog = copy.deepcopy(catalog)
    gpu_catalog["components"]["lakefs"]["gpu"] = "required"
    plan = planner.build_plan(gpu_catalog, "datalake", {}, "small", capacity={"cpu": "64", "memory": "256Gi"})
    assert plan["fits"] is False
    assert "lakefs require a GPU node" in plan["shortfalls"][0]


def test_requests_override(catalog):
    plan = planner.build_plan(catalog, "minimal", {"seaweedfs": {"requests": {"cpu": "3", "gpu": 1}}}, "small")
    assert comp(plan, "seaweedfs")["requests"] == {"cpu": 3000, "memory": 640 * 2**20, "gpu": 1}


def test_summary_is_json_friendly(catalog):
    import json

    plan = planner.build_plan(catalog, "full", {}, "small")
    digest = planner.plan_summary(plan)
    assert json.loads(json.dumps(digest))["waves"] == plan["waves"]


def test_skip_undeployable_drops_them_from_waves_and_totals(catalog):
    full = planner.build_plan(catalog, "datawarehouse", {}, "small")
    plan = planner.build_plan(catalog, "datawarehouse", {}, "small", skip_undeployable=True)
    assert set(plan["skipped"]) == set(full["undeployable"])
    assert plan["undeployable"] == []
    assert all(c["deployable"] for c in plan["components"])
    assert plan["totals"]["cpu"] < full["totals"]["cpu"]
    assert [c["wave"] for c in plan["components"]] == sorted(c["wave"] for c in plan["components"])
    assert "skipped (datamill_skip_undeployable): superset" in plan["table"]


def test_readiness_kinds_always_include_pods(catalog):
    plan = planner.build_plan(catalog, "datalake", {}, "small")
    assert comp(plan, "lakefs")["readiness"]["kinds"] == ["Deployment", "Pod"]
    assert "kinds" not in comp(plan, "postgres")["readiness"]


def test_secrets_listed_for_consumers(catalog):
    users = [{"name": "ingest-app"}]
    plan = planner.build_plan(catalog, "streaming", {"kafka": {"settings": {"users": users}}}, "small")
    assert comp(plan, "kafka")["secrets"] == ["datamill-cluster-ca-cert", "ingest-app"]
    assert comp(plan, "rabbitmq")["secrets"] == ["datamill-rabbitmq-default-user"]
    lake = planner.build_plan(catalog, "datalake", {}, "small")
    assert comp(lake, "lakefs")["secrets"] == ["lakefs-auth"]


def test_lakefs_repository_names(catalog):
    bad = {"lakefs": {"settings": {"repositories": [{"name": "Data Lake"}]}}}
    with pytest.raises(planner.PlanError, match=r"'Data Lake' is not a valid lakeFS repository name"):
        planner.build_plan(catalog, "datalake", bad, "small")
    ok = {"lakefs": {"settings": {"repositories": [{"name": "raw-zone", "bucket": "raw"}]}}}
    assert (
        comp(planner.build_plan(catalog, "datalake", ok, "small"), "lakefs")["settings"]["repositories"][0]["bucket"]
        == "raw"
    )
