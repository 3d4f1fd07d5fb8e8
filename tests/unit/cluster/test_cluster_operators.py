"""The simulated operators' status logic (pure)."""

from __future__ import annotations

import datamill_testcluster as tc

NOW = "2026-01-01T00:00:00Z"
KAFKA = {"group": "kafka.strimzi.io", "version": "v1", "plural": "kafkas", "conditions": ["Ready"]}
FLINK = {
    "group": "flink.apache.org",
    "version": "v1beta1",
    "plural": "flinkdeployments",
    "status": {"lifecycleState": "STABLE"},
}


def test_table_loads_and_covers_the_operators():
    plurals = {e["plural"] for e in tc.load_sim_operators()}
    assert {
        "kafkas",
        "clusters",
        "rabbitmqclusters",
        "flinkdeployments",
        "sparkapplications",
        "clusterpolicies",
    } <= plurals


def test_new_resource_gets_conditions_and_observed_generation():
    obj = {"metadata": {"name": "k", "generation": 3}}
    patch = tc.desired_status(KAFKA, obj, NOW)
    assert patch["observedGeneration"] == 3
    (cond,) = patch["conditions"]
    assert cond["type"] == "Ready" and cond["status"] == "True" and cond["lastTransitionTime"] == NOW
    assert {"reason", "message"} <= set(cond)


def test_already_reconciled_resource_is_left_alone():
    obj = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert tc.desired_status(KAFKA, obj, NOW) is None
    flink = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "lifecycleState": "STABLE"}}
    assert tc.desired_status(FLINK, flink, NOW) is None


def test_pruned_observed_generation_is_not_chased():
    obj = {"metadata": {"generation": 4}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert tc.desired_status(KAFKA, obj, NOW) is None
    obj["status"]["observedGeneration"] = 3
    assert tc.desired_status(KAFKA, obj, NOW) == {"observedGeneration": 4}


def test_other_conditions_are_kept_and_fields_set():
    obj = {"metadata": {"generation": 1}, "status": {"conditions": [{"type": "Warning", "status": "True"}]}}
    patch = tc.desired_status(KAFKA, obj, NOW)
    assert [c["type"] for c in patch["conditions"]] == ["Warning", "Ready"]
    assert tc.desired_status(FLINK, {"metadata": {}}, NOW) == {"lifecycleState": "STABLE"}
    assert tc.desired_status(FLINK, {"metadata": {"generation": 1}}, NOW) == {
        "observedGeneration": 1,
        "lifecycleState": "STABLE",
    }


def test_broken_annotation_means_never_reconciled():
    obj = {"metadata": {"generation": 1, "annotations": {tc.OPERATOR_ANNOTATION: "broken"}}}
    assert tc.desired_status(KAFKA, obj, NOW) is None
