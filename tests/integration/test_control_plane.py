"""The test control plane itself: real controllers and scheduler on kwok nodes, CRDs validated server-side."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Callable

import pytest
import yaml

pytestmark = pytest.mark.integration

IMAGE = "registry.invalid/datamill/app:1"  # never pulled: kwok only simulates the container


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


@pytest.fixture(scope="module")
def default_nodes(kube_cluster):
    names = kube_cluster.apply_fleet("default")
    kube_cluster.wait_nodes_ready(names)
    return names


def _pod(name: str, *, gpus: int = 0, selector: dict[str, str] | None = None, stage: str | None = None) -> dict:
    container: dict[str, Any] = {"name": "main", "image": IMAGE, "resources": {"requests": {"cpu": "100m"}}}
    if gpus:
        container["resources"]["limits"] = {"nvidia.com/gpu": str(gpus)}
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": {"datamill.test/stage": stage} if stage else {}},
        "spec": {"containers": [container], "nodeSelector": selector or {}},
    }
    return pod


def test_deployment_becomes_available_through_controller_manager(kube_cluster, k8s_namespace, default_nodes):
    from kubernetes import client

    apps = client.AppsV1Api(kube_cluster.api_client())
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        k8s_namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": IMAGE}]},
                },
            },
        },
    )

    def available():
        dep = apps.read_namespaced_deployment_status("web", k8s_namespace)
        conditions = {c.type: c.status for c in dep.status.conditions or []}
        return dep.status.available_replicas == 3 and conditions.get("Available") == "True" and dep

    dep = wait_for(available, 90, "Deployment web Available with 3 replicas")
    assert dep.status.ready_replicas == 3
    core = client.CoreV1Api(kube_cluster.api_client())
    pods = core.list_namespaced_pod(k8s_namespace, label_selector="app=web").items
    assert len(pods) == 3
    assert {p.spec.node_name for p in pods} <= set(default_nodes)
    assert all(p.status.phase == "Running" and p.status.pod_ip for p in pods)


def test_gpu_pod_lands_only_on_gpu_node_and_waits_when_none_is_free(kube_cluster, k8s_namespace, tmp_path):
    from kubernetes import client

    pool = f"gpu-sched-{secrets.token_hex(3)}"
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        yaml.safe_dump(
            {
                "name": pool,
                "defaults": {"cpu": "16", "memory": "64Gi", "labels": {"datamill.test/pool": pool}},
                "nodes": [
                    {"name": "cpu", "count": 3},
                    {
                        "name": "gpu",
                        "count": 1,
                        "labels": {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-L4"},
                        "extended": {"nvidia.com/gpu": 2},
                    },
                ],
            }
        )
    )
    names = kube_cluster.apply_fleet(fleet)
    try:
        kube_cluster.wait_nodes_ready(names)
        core = client.CoreV1Api(kube_cluster.api_client())
        selector = {"datamill.test/pool": pool}
        for index in range(2):
            core.create_namespaced_pod(k8s_namespace, _pod(f"gpu-{index}", gpus=1, selector=selector))
        core.create_namespaced_pod(k8s_namespace, _pod("cpu-only", selector=selector))

        def running(name):
            pod = core.read_namespaced_pod(name, k8s_namespace)
            return pod.status.phase == "Running" and pod

        for index in range(2):
            pod = wait_for(lambda i=index: running(f"gpu-{i}"), 60, f"gpu-{index} Running")
            assert pod.spec.node_name == f"{pool}-gpu-0"
        assert wait_for(lambda: running("cpu-only"), 60, "cpu-only Running").spec.node_name in names

        # Both GPUs are taken now: the real scheduler must leave the third GPU pod Pending/Unschedulable.
        core.create_namespaced_pod(k8s_namespace, _pod("gpu-2", gpus=1, selector=selector))

        def unschedulable():
            pod = core.read_namespaced_pod("gpu-2", k8s_namespace)
            cond = next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)
            return cond is not None and cond.status == "False" and cond.reason == "Unschedulable" and (pod, cond)

        pod, cond = wait_for(unschedulable, 60, "gpu-2 Unschedulable")
        assert pod.status.phase == "Pending"
        assert pod.spec.node_name is None
        assert "nvidia.com/gpu" in cond.message

        # Freeing a GPU lets the scheduler place it on the GPU node.
        core.delete_namespaced_pod("gpu-0", k8s_namespace, grace_period_seconds=0)
        assert wait_for(lambda: running("gpu-2"), 90, "gpu-2 Running").spec.node_name == f"{pool}-gpu-0"
    finally:
        kube_cluster.delete_nodes(names)


def test_custom_resource_strict_validation_and_operator_status(kube_cluster, k8s_namespace):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    names = kube_cluster.install_crds("strimzi-1.2.0")
    assert "kafkatopics.kafka.strimzi.io" in names
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    group, version, plural = "kafka.strimzi.io", "v1", "kafkatopics"

    def topic(name: str, spec: dict) -> dict:
        return {
            "apiVersion": f"{group}/{version}",
            "kind": "KafkaTopic",
            "metadata": {"name": name, "labels": {"strimzi.io/cluster": "events"}},
            "spec": spec,
        }

    with pytest.raises(ApiException) as excinfo:
        custom.create_namespaced_custom_object(
            group,
            version,
            k8s_namespace,
            plural,
            topic("bad", {"partitions": 3, "replicas": 1, "retentionDays": 7}),
            field_validation="Strict",
        )
    assert excinfo.value.status == 400
    message = json.loads(excinfo.value.body)["message"]
    assert 'strict decoding error: unknown field "spec.retentionDays"' in message

    with pytest.raises(ApiException) as excinfo:
        custom.create_namespaced_custom_object(
            group, version, k8s_namespace, plural, topic("bad-type", {"partitions": "three"}), field_validation="Strict"
        )
    assert excinfo.value.status == 422

    created = custom.create_namespaced_custom_object(
        group,
        version,
        k8s_namespace,
        plural,
        topic("orders", {"partitions": 3, "replicas": 1, "config": {"retention.ms": 604800000}}),
        field_validation="Strict",
    )
    assert created["spec"]["partitions"] == 3

    # Play the topic operator: set the status subresource.
    kube_cluster.set_status(
        f"{group}/{version}",
        "KafkaTopic",
        k8s_namespace,
        "orders",
        {"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": created["metadata"]["generation"]},
    )
    got = custom.get_namespaced_custom_object(group, version, k8s_namespace, plural, "orders")
    assert got["status"]["conditions"][0] == {"type": "Ready", "status": "True"}


@pytest.mark.parametrize(
    "case",
    [
        ("crashloop", "Running", "CrashLoopBackOff"),
        ("imagepull", "Pending", "ImagePullBackOff"),
        ("never-ready", "Running", None),
        ("fail", "Failed", None),
    ],
    ids=lambda case: case[0],
)
def test_failure_stages_selected_by_annotation(kube_cluster, k8s_namespace, default_nodes, case):
    from kubernetes import client

    stage, phase, waiting_reason = case
    core = client.CoreV1Api(kube_cluster.api_client())
    core.create_namespaced_pod(k8s_namespace, _pod("p", stage=stage))

    def settled():
        pod = core.read_namespaced_pod("p", k8s_namespace)
        return pod.status.container_statuses and pod.status.phase == phase and pod

    pod = wait_for(settled, 60, f"pod in stage {stage}")
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    assert conditions.get("Ready") != "True"
    status = pod.status.container_statuses[0]
    assert status.ready is False
    if waiting_reason:
        assert status.state.waiting.reason == waiting_reason
    if stage == "never-ready":
        assert status.state.running is not None
    time.sleep(1.5)  # nothing flips it to Ready later
    assert core.read_namespaced_pod("p", k8s_namespace).status.phase == phase


def test_node_stage_annotation_keeps_a_node_not_ready(kube_cluster, tmp_path):
    from kubernetes import client

    name = f"flaky-{secrets.token_hex(3)}"
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        yaml.safe_dump(
            {"name": name, "nodes": [{"name": "n", "annotations": {"datamill.test/node-stage": "not-ready"}}]}
        )
    )
    names = kube_cluster.apply_fleet(fleet)
    try:
        core = client.CoreV1Api(kube_cluster.api_client())

        def ready_status():
            node = core.read_node(names[0])
            return next((c.status for c in node.status.conditions or [] if c.type == "Ready"), None)

        assert wait_for(lambda: ready_status() == "False", 60, "node NotReady")
        time.sleep(1.5)
        assert ready_status() == "False"
    finally:
        kube_cluster.delete_nodes(names)


def test_simulated_operators_mark_custom_resources_reconciled(kube_cluster, k8s_namespace):
    from kubernetes import client

    kube_cluster.install_crds("strimzi-1.2.0")
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    for name, notes in (("ok", {}), ("stuck", {"datamill.test/operator": "broken"})):
        custom.create_namespaced_custom_object(
            "kafka.strimzi.io",
            "v1",
            k8s_namespace,
            "kafkausers",
            {
                "apiVersion": "kafka.strimzi.io/v1",
                "kind": "KafkaUser",
                "metadata": {"name": name, "annotations": notes, "labels": {"strimzi.io/cluster": "events"}},
                "spec": {"authentication": {"type": "scram-sha-512"}},
            },
        )
    patched = kube_cluster.harness.play_operators()
    assert f"kafkausers/{k8s_namespace}/ok" in patched
    assert f"kafkausers/{k8s_namespace}/stuck" not in patched
    ok = custom.get_namespaced_custom_object("kafka.strimzi.io", "v1", k8s_namespace, "kafkausers", "ok")
    assert ok["status"]["observedGeneration"] == ok["metadata"]["generation"]
    assert [(c["type"], c["status"]) for c in ok["status"]["conditions"]] == [("Ready", "True")]
    stuck = custom.get_namespaced_custom_object("kafka.strimzi.io", "v1", k8s_namespace, "kafkausers", "stuck")
    assert "status" not in stuck or not stuck["status"].get("conditions")
    assert f"kafkausers/{k8s_namespace}/ok" not in kube_cluster.harness.play_operators()  # idempotent
