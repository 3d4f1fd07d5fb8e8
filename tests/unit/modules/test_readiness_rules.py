"""Readiness rules on YAML fixtures (kstatus cases, fail-fast extras, operator custom resources)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.datamill.platform.plugins.module_utils import readiness as rd

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readiness"
NOW = rd.parse_time("2026-01-01T00:10:00Z")


def _cases():
    for path in sorted(FIXTURES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            yield pytest.param(case, id=f"{path.stem}:{case['name']}")


@pytest.mark.parametrize("case", list(_cases()))
def test_fixture_case(case):
    rules = rd.merge_rules(case.get("rules"))
    now = rd.parse_time(case["now"]) if case.get("now") else NOW
    res = rd.compute(case["object"], now, case.get("options"), rules, case.get("context"))
    expect = case["expect"]
    assert res["status"] == expect["status"], res
    if "reason" in expect:
        assert res["reason"] == expect["reason"], res
    if "container" in expect:
        assert res.get("container") == expect["container"], res
    if "message_contains" in expect:
        assert expect["message_contains"] in res["message"], res


def test_not_found():
    assert rd.compute(None, NOW)["status"] == rd.NOT_FOUND


def _deploy(ready=0):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "apps", "generation": 1},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}}},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": ready},
    }


def _pod(name, waiting=None, labels=None, ready=False):
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if waiting:
        status["containerStatuses"] = [{"name": "server", "ready": False, "state": {"waiting": {"reason": waiting}}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "apps",
            "labels": labels or {"app": "api"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "api-1", "controller": True}],
        },
        "status": status,
    }


def test_controller_with_crashlooping_pod_is_failed():
    res = rd.aggregate([{"obj": _deploy()}, {"obj": _pod("api-1-x", "CrashLoopBackOff")}], NOW)
    assert res["status"] == rd.FAILED
    deploy = res["objects"][0]
    assert deploy["status"] == rd.FAILED
    assert deploy["reason"] == "CrashLoopBackOff"
    assert "api-1-x" in deploy["message"] and "server" in deploy["message"]
    assert "CrashLoopBackOff" in res["message"]


def test_controlled_pods_not_ready_do_not_block_a_current_controller():
    deploy = _deploy(ready=1)
    deploy["status"].update(
        availableReplicas=1,
        conditions=[
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            {"type": "Available", "status": "True"},
        ],
    )
    # an old pod still shutting down (not ready) must not block
    res = rd.aggregate([{"obj": deploy}, {"obj": _pod("api-old", None)}], NOW)
    assert res["status"] == rd.CURRENT, res


def test_unrelated_failing_pod_does_not_fail_other_controller():
    res = rd.aggregate(
        [{"obj": _deploy()}, {"obj": _pod("other", "CrashLoopBackOff", labels={"app": "other"})}],
        NOW,
    )
    assert res["objects"][0]["status"] == rd.IN_PROGRESS
    # but the failing pod itself is part of the component and fails it
    assert res["status"] == rd.FAILED


def test_missing_ref_in_progress_and_empty_component():
    res = rd.aggregate([{"ref": {"kind": "Kafka", "namespace": "s", "name": "k"}, "obj": None}], NOW)
    assert res["status"] == rd.IN_PROGRESS
    assert res["objects"][0]["status"] == rd.NOT_FOUND
    assert rd.aggregate([], NOW)["message"] == "no objects found yet"


def test_next_deadline_for_grace_periods():
    pod = _pod("p")
    pod["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastTransitionTime": "2026-01-01T00:09:55Z",
            }
        ],
    }
    assert rd.next_deadline([{"obj": pod}], NOW) == pytest.approx(NOW + 10)
    assert rd.next_deadline([{"obj": pod}], NOW, {"unschedulable_grace": 1}) is None


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}, {"tier": "api"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, {"tier": "web"}, False),
        ({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, {}, True),
        ({}, {"a": "1"}, False),
    ],
)
def test_selector_matches(selector, labels, expected):
    assert rd.selector_matches(selector, labels) is expected


@pytest.mark.parametrize(
    "text",
    ["app=web", "app==web,tier!=db", "env in (prod, staging)", "!canary", "gpu", "app.kubernetes.io/name=x"],
)
def test_valid_selectors(text):
    assert rd.parse_label_selector(text)


@pytest.mark.parametrize("text", ["app=", "a b=c", "env in prod", "app=web,", "x=(y", "bad key!=v", "k=v v"])
def test_invalid_selectors(text):
    if text == "app=":
        # empty value is valid in Kubernetes
        assert rd.parse_label_selector(text) == [("app", "=", [""])]
        return
    with pytest.raises(ValueError, match="label selector"):
        rd.parse_label_selector(text)


def test_merge_rules_rejects_bad_data():
    with pytest.raises(ValueError, match="unknown keys"):
        rd.merge_rules({"example.com/Widget": {"ready": True}})
    with pytest.raises(ValueError, match="path, in"):
        rd.merge_rules({"example.com/Widget": {"fields": [{"path": "status.x"}]}})
    merged = rd.merge_rules({"Widget": {"fields": [{"path": "status.phase", "in": ["Up"]}]}})
    assert "kafka.strimzi.io/Kafka" in merged and "Widget" in merged


def test_builtin_rules_cover_the_brief():
    keys = set(rd.BUILTIN_RULES)
    for key in (
        "kafka.strimzi.io/Kafka",
        "kafka.strimzi.io/KafkaTopic",
        "kafka.strimzi.io/KafkaUser",
        "kafka.strimzi.io/KafkaConnect",
        "kafka.strimzi.io/KafkaConnector",
        "rabbitmq.com/RabbitmqCluster",
        "postgresql.cnpg.io/Cluster",
        "registry.apicur.io/ApicurioRegistry3",
        "flink.apache.org/FlinkDeployment",
        "sparkoperator.k8s.io/SparkApplication",
        "kubernetes.dask.org/DaskCluster",
        "serving.kserve.io/InferenceService",
        "elasticsearch.k8s.elastic.co/Elasticsearch",
        "kibana.k8s.elastic.co/Kibana",
        "nvidia.com/ClusterPolicy",
        "minio.min.io/Tenant",
    ):
        assert key in keys


def _rollout(new_hash="new1"):
    deploy = _deploy(ready=0)
    deploy["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "True",
            "reason": "ReplicaSetUpdated",
            "message": f'ReplicaSet "api-{new_hash}" is progressing.',
        }
    ]
    return deploy


def _hashed_pod(name, pod_hash, waiting=None):
    pod = _pod(name, waiting)
    pod["metadata"]["labels"] = {"app": "api", "pod-template-hash": pod_hash}
    return pod


def test_rollout_away_from_crashlooping_pods_is_not_failed():
    entries = [
        {"obj": _rollout()},
        {"obj": _hashed_pod("api-old1-a", "old1", "CrashLoopBackOff")},
        {"obj": _hashed_pod("api-new1-b", "new1")},
    ]
    res = rd.aggregate(entries, NOW)
    assert res["status"] == rd.IN_PROGRESS, res
    old = next(o for o in res["objects"] if o["name"] == "api-old1-a")
    assert old["status"] == rd.FAILED and "old revision, ignored" in old["message"]


def test_new_revision_crashloop_still_fails():
    entries = [{"obj": _rollout()}, {"obj": _hashed_pod("api-new1-b", "new1", "CrashLoopBackOff")}]
    res = rd.aggregate(entries, NOW)
    assert res["status"] == rd.FAILED
    assert res["objects"][0]["reason"] == "CrashLoopBackOff"


def test_statefulset_revision_from_status():
    sts = {"kind": "StatefulSet", "status": {"updateRevision": "db-7c9"}}
    assert rd.current_revision(sts) == ("controller-revision-hash", "db-7c9")
    assert rd.current_revision({"kind": "DaemonSet"}) is None


def test_pods_of_a_controller_with_unobserved_spec_are_ignored():
    deploy = _rollout(new_hash="old1")
    deploy["metadata"]["generation"] = 2  # fix just applied; the controller still reports generation 1
    entries = [{"obj": deploy}, {"obj": _hashed_pod("api-old1-a", "old1", "CrashLoopBackOff")}]
    res = rd.aggregate(entries, NOW)
    assert res["status"] == rd.IN_PROGRESS, res
    assert res["objects"][0]["reason"] == "LatestGenerationNotObserved"
