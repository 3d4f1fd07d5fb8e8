"""The storage + ingestion layers end to end on the test control plane, in rehearsal (inventories/sim).

No operator runs in the test cluster: the upstream CRDs are installed from ../shared/crds and
``SimulatedOperators`` marks our custom resources ready the way each operator would. Every write goes through
server-side apply with ``fieldValidation=Strict`` (tests/integration/strict/sitecustomize.py), so a field that
is not in the real CRD schema fails the run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from pathlib import Path

import pytest
from helpers.ansible_run import ansible_env, recap, run_sim_playbook
from helpers.sim_operators import SimulatedOperators, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STRICT = Path(__file__).resolve().parent / "strict"


def run_layers(cluster, *extra, timeout=1500, result_format=None):
    env = ansible_env(PYTHONPATH=os.pathsep.join(filter(None, [str(STRICT), os.environ.get("PYTHONPATH", "")])))
    if result_format:
        env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = result_format
    return run_sim_playbook(
        cluster, "playbooks/layers.yml", "-e", "datamill_rehearsal=true", *extra, timeout=timeout, env=env
    )


def secret_data(core, namespace, name):
    data = core.read_namespaced_secret(name, namespace).data or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


@pytest.fixture(scope="module")
def api(cluster):
    from kubernetes import client

    api_client = cluster.api_client()
    return {
        "client": api_client,
        "core": client.CoreV1Api(api_client),
        "custom": client.CustomObjectsApi(api_client),
        "net": client.NetworkingV1Api(api_client),
    }


@pytest.fixture(scope="module")
def converged(cluster, api):
    """Converge twice (the second time with -vvv) with the simulated operators running; keep outputs and Secrets."""
    with SimulatedOperators(api["client"]) as operators:
        rc1, out1 = run_layers(cluster)
        secrets1 = (
            {
                name: secret_data(api["core"], ns, name)
                for ns, name in [
                    ("datamill-storage", "seaweedfs-s3-admin"),
                    ("datamill-storage", "lakefs-auth"),
                    ("datamill-storage", "datamill-pg-lakefs"),
                ]
            }
            if rc1 == 0
            else {}
        )
        # The second run is as verbose as Ansible gets: generated secrets must not show up even with -vvv.
        rc2, out2 = run_layers(cluster, "-vvv")
    return {"rc1": rc1, "out1": out1, "rc2": rc2, "out2": out2, "secrets1": secrets1, "marked": operators.marked}


def test_first_run_converges_in_rehearsal(converged):
    assert converged["rc1"] == 0, converged["out1"][-6000:]
    out = converged["out1"]
    assert "REHEARSAL: would install chart seaweedfs version 4.44.0" in out
    assert "REHEARSAL: would install chart lakefs version 1.12.16" in out
    assert "REHEARSAL: would install chart strimzi-kafka-operator version 1.2.0 from oci://quay.io/strimzi-helm" in out
    assert (
        "REHEARSAL: would apply manifest https://github.com/rabbitmq/cluster-operator/releases/download/v2.22.3" in out
    )
    assert "REHEARSAL summary: 6 releases recorded" in out
    waves = [out.index(f"Wave {i}: ") for i in range(3)]
    assert waves == sorted(waves)
    assert "Wave 2: lakefs, schema-registry" in out


def test_second_run_changes_nothing(converged):
    assert converged["rc2"] == 0, converged["out2"][-6000:]
    assert recap(converged["out2"])["changed"] == 0, converged["out2"][-6000:]


def test_generated_credentials_are_kept_and_never_printed(converged, api):
    assert converged["secrets1"], "first run failed"
    for key, before in converged["secrets1"].items():
        ns = "datamill-storage"
        assert secret_data(api["core"], ns, key) == before, f"{key} was regenerated"
        for value in before.values():
            if len(value) >= 16:
                assert value not in converged["out1"] and value not in converged["out2"]


def test_namespaces_and_network_policies(converged, api):
    ns = api["core"].read_namespace("datamill-storage")
    labels = ns.metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["app.kubernetes.io/part-of"] == "datamill"
    policies = {p.metadata.name: p for p in api["net"].list_namespaced_network_policy("datamill-ingestion").items}
    assert {
        "datamill-default-deny",
        "datamill-allow-dns",
        "datamill-kafka-ingress",
        "datamill-rabbitmq-ingress",
    } <= set(policies)
    deny = policies["datamill-default-deny"].spec
    assert deny.pod_selector.match_labels is None and set(deny.policy_types) == {"Ingress", "Egress"}
    mqtt_ports = {p.port for p in policies["datamill-rabbitmq-ingress"].spec.ingress[0].ports}
    assert {5672, 1883, 15675} <= mqtt_ports
    operator_policies = [p.metadata.name for p in api["net"].list_namespaced_network_policy("cnpg-system").items]
    assert "datamill-cnpg-operator-apiserver" in operator_policies


def test_custom_resources(converged, api):
    custom = api["custom"]
    kafka = custom.get_namespaced_custom_object("kafka.strimzi.io", "v1", "datamill-ingestion", "kafkas", "datamill")
    assert [lst["name"] for lst in kafka["spec"]["kafka"]["listeners"]] == ["plain", "tls"]
    pool = custom.get_namespaced_custom_object("kafka.strimzi.io", "v1", "datamill-ingestion", "kafkanodepools", "dual")
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"] and pool["spec"]["replicas"] == 1
    topic = custom.get_namespaced_custom_object(
        "kafka.strimzi.io", "v1", "datamill-ingestion", "kafkatopics", "sensor-readings"
    )
    assert topic["spec"]["topicName"] == "sensor_readings"
    user = custom.get_namespaced_custom_object(
        "kafka.strimzi.io", "v1", "datamill-ingestion", "kafkausers", "ingest-app"
    )
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    rabbit = custom.get_namespaced_custom_object(
        "rabbitmq.com", "v1beta1", "datamill-ingestion", "rabbitmqclusters", "datamill-rabbitmq"
    )
    assert rabbit["spec"]["rabbitmq"]["additionalPlugins"] == ["rabbitmq_mqtt", "rabbitmq_web_mqtt"]
    registry = custom.get_namespaced_custom_object(
        "registry.apicur.io", "v1", "datamill-ingestion", "apicurioregistries3", "datamill-registry"
    )
    kafkasql = registry["spec"]["app"]["storage"]["kafkasql"]
    assert kafkasql["bootstrapServers"] == "datamill-kafka-bootstrap.datamill-ingestion.svc:9093"
    assert kafkasql["tls"]["truststoreSecretRef"]["name"] == "datamill-cluster-ca-cert"
    pg = custom.get_namespaced_custom_object("postgresql.cnpg.io", "v1", "datamill-storage", "clusters", "datamill-pg")
    assert pg["spec"]["managed"]["roles"][0]["passwordSecret"]["name"] == "datamill-pg-lakefs"
    db = custom.get_namespaced_custom_object(
        "postgresql.cnpg.io", "v1", "datamill-storage", "databases", "datamill-pg-lakefs"
    )
    assert db["spec"]["owner"] == "lakefs"


def test_wiring_goes_through_secrets(converged, api):
    env = secret_data(api["core"], "datamill-storage", "lakefs-env")
    login = secret_data(api["core"], "datamill-storage", "datamill-pg-lakefs")
    assert env["database_connection_string"].startswith(f"postgres://lakefs:{login['password']}@datamill-pg-rw.")
    s3 = secret_data(api["core"], "datamill-storage", "seaweedfs-s3-admin")
    extra = secret_data(api["core"], "datamill-storage", "lakefs-extra-env")
    assert extra["LAKEFS_BLOCKSTORE_S3_CREDENTIALS_ACCESS_KEY_ID"] == s3["access_key"]
    config = json.loads(secret_data(api["core"], "datamill-storage", "seaweedfs-s3-config")["seaweedfs_s3_config"])
    assert config["identities"][0]["credentials"][0]["secretKey"] == s3["secret_key"]
    registry = api["core"].read_namespaced_config_map("datamill-endpoints", "datamill-system").data
    assert json.loads(registry["lakefs"])["secrets"] == ["lakefs-auth"]
    assert json.loads(registry["kafka"])["endpoints"]["bootstrap"].startswith("datamill-kafka-bootstrap.")


def test_too_big_profile_is_refused_before_any_change(cluster, api):
    namespace = f"datamill-refused-{secrets.token_hex(3)}"
    overrides = {
        "datamill_profile": "minimal",
        "datamill_components": {"seaweedfs": {"namespace": namespace, "requests": {"cpu": "1000", "memory": "4Ti"}}},
    }
    rc, out = run_layers(cluster, "-e", json.dumps(overrides))
    assert rc != 0
    assert "Refusing to deploy: the plan does not fit the cluster (nothing was changed)" in out
    assert "TOO BIG" in out
    assert recap(out)["changed"] == 0
    names = [n.metadata.name for n in api["core"].list_namespace().items]
    assert namespace not in names


def test_crashlooping_component_fails_its_wave_while_others_finish(converged, cluster, api):
    from kubernetes import client

    pod_name = "lakefs-crashloop-test"
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=pod_name,
            labels={"app.kubernetes.io/instance": "lakefs"},
            annotations={"datamill.test/stage": "crashloop"},
        ),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="lakefs", image="docker.io/treeverse/lakefs:1.84.0")]
        ),
    )
    core = api["core"]
    core.create_namespaced_pod("datamill-storage", pod)
    try:

        def crashlooping():
            statuses = core.read_namespaced_pod(pod_name, "datamill-storage").status.container_statuses or []
            return any(s.state and s.state.waiting and s.state.waiting.reason == "CrashLoopBackOff" for s in statuses)

        assert wait_for(crashlooping, timeout=60), "kwok did not crash-loop the planted pod"
        only = {"datamill_only_components": ["lakefs", "schema-registry"]}
        with SimulatedOperators(api["client"]):
            rc, out = run_layers(cluster, "-e", json.dumps(only), result_format="json")
        assert rc != 0
        # The failed wait's result, printed by the default callback as JSON after "FAILED! => ".
        failures = [json.JSONDecoder().raw_decode(out[m.end() :].lstrip())[0] for m in re.finditer(r"FAILED! => ", out)]
        waits = [f for f in failures if "components" in f]
        assert waits, out[-3000:]
        verdict = {c["name"]: c for c in waits[-1]["components"]}
        assert set(verdict) == {"lakefs", "schema-registry"}
        assert verdict["schema-registry"]["status"] == "Current", verdict
        lakefs = verdict["lakefs"]
        assert lakefs["status"] == "Failed"
        assert pod_name in lakefs["message"] and "CrashLoopBackOff" in lakefs["message"], lakefs
        assert any(o["name"] == pod_name and o.get("container") == "lakefs" for o in lakefs["objects"]), lakefs
        assert "CrashLoopBackOff" in waits[-1]["msg"] and pod_name in waits[-1]["msg"]
    finally:
        core.delete_namespaced_pod(pod_name, "datamill-storage", grace_period_seconds=0)
