"""datamill.platform.component_ready against the real test control plane, run through ansible-playbook.

Deployments, StatefulSets and Jobs are driven by the real kube-controller-manager and scheduler on kwok nodes;
failures are injected with kwok stages (pod annotation ``datamill.test/stage``); custom resources come from
``../shared/crds`` and the test plays the operator with ``kube_cluster.set_status``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.ansible_run import run_module

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.invalid/datamill/app:1"  # never pulled: kwok only simulates containers


def deployment(name: str, replicas: int = 2, stage: str | None = None, gpus: int = 0) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "server", "image": IMAGE, "resources": {"requests": {"cpu": "50m"}}}
    if gpus:
        container["resources"]["limits"] = {"nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name, "app.kubernetes.io/instance": name},
                    "annotations": {"datamill.test/stage": stage} if stage else {},
                },
                "spec": {"containers": [container]},
            },
        },
    }


@pytest.fixture(scope="module")
def nodes(kube_cluster):
    names = kube_cluster.apply_fleet("default")
    kube_cluster.wait_nodes_ready(names)
    return names


@pytest.fixture
def api(kube_cluster):
    return kube_cluster.harness.api


def create(api, namespace: str, obj: dict[str, Any]) -> None:
    from ansible_collections.datamill.platform.plugins.module_utils.kube import BUILTIN_KINDS, Client

    api_version, plural, _namespaced = BUILTIN_KINDS[obj["kind"]]
    api.request("POST", Client.collection_path(api_version, plural, namespace), body=obj)


def auth(kube_cluster) -> dict[str, Any]:
    return {"kubeconfig": str(kube_cluster.kubeconfig)}


def test_deployment_ready_through_controller_manager(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    create(api, k8s_namespace, deployment("web", replicas=3))
    res = run_module(
        "datamill.platform.component_ready",
        {
            **auth(kube_cluster),
            "timeout": 120,
            "components": [
                {"name": "web", "namespace": k8s_namespace, "label_selector": "app.kubernetes.io/instance=web"}
            ],
        },
        tmp_path,
    )
    assert not res.get("failed"), res.get("msg")
    comp = res["components"][0]
    assert comp["status"] == "Current"
    kinds = {o["kind"] for o in comp["objects"]}
    assert "Deployment" in kinds and "Pod" in kinds
    # O(kinds): 7 default kinds listed once + StorageClasses; watches add one call per kind at most per stream
    assert res["api_calls_by_verb"].get("list", 0) <= 8
    assert res["api_calls_by_verb"].get("get", 0) == 0


def test_crashloop_fails_fast_naming_container(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    create(api, k8s_namespace, deployment("api", replicas=1, stage="crashloop"))
    res = run_module(
        "datamill.platform.component_ready",
        {
            **auth(kube_cluster),
            "timeout": 240,
            "components": [
                {
                    "name": "api",
                    "namespace": k8s_namespace,
                    "resources": [{"api_version": "apps/v1", "kind": "Deployment", "name": "api"}],
                }
            ],
        },
        tmp_path,
    )
    assert res["failed"]
    assert res["timed_out"] is False
    assert "CrashLoopBackOff" in res["msg"]
    assert "container server" in res["msg"]
    assert "Deployment" in res["msg"] and "api" in res["msg"]
    assert res["components"][0]["status"] == "Failed"


def test_gpu_pod_unschedulable_quotes_scheduler(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    create(api, k8s_namespace, deployment("trainer", replicas=1, gpus=64))
    res = run_module(
        "datamill.platform.component_ready",
        {
            **auth(kube_cluster),
            "timeout": 120,
            "unschedulable_grace": 0,
            "components": [{"name": "trainer", "namespace": k8s_namespace, "label_selector": "app=trainer"}],
        },
        tmp_path,
    )
    assert res["failed"]
    assert "Unschedulable" in res["msg"]
    assert "Insufficient nvidia.com/gpu" in res["msg"]


def test_job_complete_mode_and_failed_job(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    def job(name: str, stage: str | None) -> dict[str, Any]:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "metadata": {"annotations": {"datamill.test/stage": stage} if stage else {}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": IMAGE}]},
                },
            },
        }

    create(api, k8s_namespace, job("migrate", None))
    create(api, k8s_namespace, job("broken", "fail"))
    res = run_module(
        "datamill.platform.component_ready",
        {
            **auth(kube_cluster),
            "timeout": 120,
            "wait_for": "complete",
            "components": [
                {
                    "name": "migrate",
                    "namespace": k8s_namespace,
                    "resources": [{"api_version": "batch/v1", "kind": "Job", "name": "migrate"}],
                },
                {
                    "name": "broken",
                    "namespace": k8s_namespace,
                    "resources": [{"api_version": "batch/v1", "kind": "Job", "name": "broken"}],
                },
            ],
        },
        tmp_path,
    )
    verdicts = {c["name"]: c for c in res["components"]}
    assert verdicts["migrate"]["status"] == "Current", verdicts["migrate"]
    assert verdicts["broken"]["status"] == "Failed", verdicts["broken"]
    assert res["failed"] and "broken" in res["msg"] and "migrate" not in res["msg"]


def test_custom_resource_watched_until_operator_reports_ready(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    kube_cluster.install_crds("strimzi-1.2.0")
    api.request(
        "POST",
        f"/apis/kafka.strimzi.io/v1/namespaces/{k8s_namespace}/kafkatopics",
        body={
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {"name": "events", "labels": {"strimzi.io/cluster": "kafka"}},
            "spec": {"partitions": 3, "replicas": 1},
        },
    )

    def operator():
        time.sleep(4.0)
        kube_cluster.set_status(
            "kafka.strimzi.io/v1",
            "KafkaTopic",
            k8s_namespace,
            "events",
            {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
        )

    thread = threading.Thread(target=operator)
    thread.start()
    try:
        res = run_module(
            "datamill.platform.component_ready",
            {
                **auth(kube_cluster),
                "timeout": 120,
                "components": [
                    {
                        "name": "topics",
                        "namespace": k8s_namespace,
                        "resources": [{"api_version": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "name": "events"}],
                    }
                ],
            },
            tmp_path,
        )
    finally:
        thread.join()
    assert not res.get("failed"), res.get("msg")
    assert res["components"][0]["status"] == "Current"
    assert res["api_calls_by_verb"].get("watch", 0) >= 1  # it watched rather than polled
    assert res["api_calls_by_verb"].get("get", 0) == 0


def test_check_mode_reports_without_waiting(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    create(api, k8s_namespace, deployment("slow", replicas=1, stage="never-ready"))
    res = run_module(
        "datamill.platform.component_ready",
        {
            **auth(kube_cluster),
            "timeout": 300,
            "components": [{"name": "slow", "namespace": k8s_namespace, "label_selector": "app=slow"}],
        },
        tmp_path,
        check=True,
    )
    assert not res.get("failed"), res.get("msg")
    assert res["components"][0]["status"] == "InProgress"
    assert res["elapsed"] < 60
    assert "watch" not in res["api_calls_by_verb"]


def test_bad_input_gives_clear_errors(kube_cluster, k8s_namespace, nodes, tmp_path):
    bad_selector = run_module(
        "datamill.platform.component_ready",
        {**auth(kube_cluster), "components": [{"name": "x", "namespace": k8s_namespace, "label_selector": "a b=c"}]},
        tmp_path,
    )
    assert bad_selector["failed"] and "components[0] (x)" in bad_selector["msg"] and "a b" in bad_selector["msg"]

    missing_crd = run_module(
        "datamill.platform.component_ready",
        {
            **auth(kube_cluster),
            "timeout": 30,
            "components": [
                {
                    "name": "ghost",
                    "namespace": k8s_namespace,
                    "resources": [{"api_version": "ghosts.example.com/v1", "kind": "Ghost", "name": "g"}],
                }
            ],
        },
        tmp_path,
    )
    assert missing_crd["failed"]
    assert "ghosts.example.com/v1 is not served" in missing_crd["msg"] and "Ghost" in missing_crd["msg"]
    assert missing_crd["timed_out"] is False

    unreachable = run_module(
        "datamill.platform.component_ready",
        {
            "host": "https://127.0.0.1:1",
            "api_key": "x",
            "validate_certs": False,
            "components": [{"name": "x", "namespace": "default"}],
        },
        tmp_path,
    )
    assert unreachable["failed"] and "cannot reach the Kubernetes API" in unreachable["msg"]
    assert "Traceback" not in json.dumps(unreachable)


def test_rollout_fixing_a_crashloop_becomes_current(kube_cluster, k8s_namespace, nodes, api, tmp_path):
    create(api, k8s_namespace, deployment("fixme", replicas=2, stage="crashloop"))
    args = {
        **auth(kube_cluster),
        "timeout": 120,
        "components": [
            {
                "name": "fixme",
                "namespace": k8s_namespace,
                "resources": [{"api_version": "apps/v1", "kind": "Deployment", "name": "fixme"}],
            }
        ],
    }
    broken = run_module("datamill.platform.component_ready", args, tmp_path)
    assert broken["failed"] and "CrashLoopBackOff" in broken["msg"]
    # the fix: a new pod template without the crash; old crash-looping pods linger during the rollout
    api.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{k8s_namespace}/deployments/fixme",
        body={"spec": {"template": {"metadata": {"annotations": {"datamill.test/stage": None}}}}},
        content_type="application/merge-patch+json",
    )
    fixed = run_module("datamill.platform.component_ready", args, tmp_path)
    assert not fixed.get("failed"), fixed.get("msg")
    assert fixed["components"][0]["status"] == "Current"
