"""ReadinessWaiter with an in-memory API: O(kinds) LISTs, watch-driven return, 410 re-list, per-component verdicts."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from ansible_collections.datamill.platform.plugins.module_utils import kube
from ansible_collections.datamill.platform.plugins.module_utils import readiness as rd


class FakeClient:
    """Serves LIST from a dict of path -> items and WATCH from per-path queues of events (or exceptions)."""

    def __init__(self, collections, served=None):
        self.collections = collections  # path -> list of objects
        self.served = served or {}  # api_version -> {kind: (plural, namespaced)}
        self.streams = {}
        self.calls = 0
        self.calls_by_verb = {}
        self.lock = threading.Lock()

    def _count(self, verb):
        with self.lock:
            self.calls += 1
            self.calls_by_verb[verb] = self.calls_by_verb.get(verb, 0) + 1

    def stream(self, path):
        return self.streams.setdefault(path, queue.Queue())

    def resource(self, api_version, kind):
        builtin = kube.BUILTIN_KINDS.get(kind)
        if builtin and (not api_version or api_version == builtin[0]):
            return builtin
        self._count("discovery")
        if api_version not in self.served:
            raise kube.KubeError(
                f"{api_version} is not served by the API server (is the CRD for {kind} installed?)",
                status=404,
                reason="KindNotServed",
            )
        plural, namespaced = self.served[api_version][kind]
        return api_version, plural, namespaced

    def list_all(self, path, label_selector=None, field_selector=None, limit=500):
        self._count("list")
        items = list(self.collections.get(path, []))
        if field_selector and field_selector.startswith("metadata.name="):
            name = field_selector.split("=", 1)[1]
            items = [i for i in items if i["metadata"]["name"] == name]
        return items, "100"

    def watch_stream(self, path, resource_version, label_selector=None, field_selector=None, timeout_seconds=300):
        self._count("watch")
        events = self.stream(path)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                item = events.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, Exception):
                raise item
            yield item


def deploy(name, ready):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "generation": 1},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1 if ready else 0,
            "availableReplicas": 1 if ready else 0,
            "conditions": [{"type": "Available", "status": "True" if ready else "False"}],
        },
    }


def topic(ready):
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "events", "namespace": "ns", "uid": "uid-t", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


DEPLOYS = "/apis/apps/v1/namespaces/ns/deployments"
PODS = "/api/v1/namespaces/ns/pods"
TOPICS = "/apis/kafka.strimzi.io/v1/namespaces/ns/kafkatopics"
SERVED = {"kafka.strimzi.io/v1": {"KafkaTopic": ("kafkatopics", True)}}


def comp(name, **kw):
    base = {"name": name, "namespace": "ns", "label_selector": None, "kinds": [], "resources": [], "wait_for": "ready"}
    base.update(kw)
    return base


def test_check_mode_lists_each_kind_once():
    client = FakeClient({DEPLOYS: [deploy(f"d{i}", True) for i in range(50)]})
    kinds = [(None, k) for k in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod", "Service")]
    waiter = kube.ReadinessWaiter(client, [comp("many", label_selector="tier=web", kinds=kinds)])
    res = waiter.run(10, wait=False)
    assert res["components"][0]["status"] == rd.CURRENT
    assert client.calls_by_verb == {"list": 6}  # O(kinds), not O(objects)


def test_watch_event_ends_the_wait():
    client = FakeClient({TOPICS: [topic(False)]}, SERVED)
    ref = {"api_version": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "name": "events", "namespace": "ns"}
    waiter = kube.ReadinessWaiter(client, [comp("t", resources=[ref])])

    def operator():
        time.sleep(0.3)
        client.stream(TOPICS).put(("MODIFIED", topic(True)))

    threading.Thread(target=operator, daemon=True).start()
    start = time.monotonic()
    res = waiter.run(10)
    assert res["components"][0]["status"] == rd.CURRENT
    assert time.monotonic() - start < 3
    assert client.calls_by_verb.get("watch") == 1


def test_expired_watch_relists():
    client = FakeClient({TOPICS: [topic(False)]}, SERVED)
    ref = {"api_version": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "name": "events", "namespace": "ns"}
    waiter = kube.ReadinessWaiter(client, [comp("t", resources=[ref])])

    def expire_then_ready():
        time.sleep(0.2)
        client.collections[TOPICS] = [topic(True)]  # changed while the watch was broken
        client.stream(TOPICS).put(kube.KubeError("too old resource version", status=410, reason="Expired"))

    threading.Thread(target=expire_then_ready, daemon=True).start()
    res = waiter.run(10)
    assert res["components"][0]["status"] == rd.CURRENT
    assert res["relists"] == 1
    assert client.calls_by_verb["list"] == 2


def test_independent_verdicts_and_missing_crd():
    client = FakeClient({DEPLOYS: [deploy("ok", True)]})
    ghost = {"api_version": "ghosts.example.com/v1", "kind": "Ghost", "name": "g", "namespace": "ns"}
    ok_ref = {"api_version": "apps/v1", "kind": "Deployment", "name": "ok", "namespace": "ns"}
    waiter = kube.ReadinessWaiter(client, [comp("ghost", resources=[ghost]), comp("ok", resources=[ok_ref])])
    res = waiter.run(5)
    verdicts = {c["name"]: c for c in res["components"]}
    assert verdicts["ok"]["status"] == rd.CURRENT
    assert verdicts["ghost"]["status"] == rd.FAILED
    assert "ghosts.example.com/v1 is not served" in verdicts["ghost"]["message"]
    assert res["timed_out"] is False


def test_timeout_names_what_is_missing():
    client = FakeClient({DEPLOYS: [deploy("slow", False)]})
    ref = {"api_version": "apps/v1", "kind": "Deployment", "name": "slow", "namespace": "ns"}
    res = kube.ReadinessWaiter(client, [comp("slow", resources=[ref])]).run(0.5)
    assert res["timed_out"] is True
    assert res["components"][0]["status"] == rd.IN_PROGRESS
    assert res["components"][0]["message"].startswith("timed out after 0.5s")
    assert "Deployment ns/slow" in res["components"][0]["message"]


def test_namespaced_ref_without_namespace_is_reported():
    client = FakeClient({})
    ref = {"api_version": "apps/v1", "kind": "Deployment", "name": "x", "namespace": None}
    res = kube.ReadinessWaiter(client, [comp("x", namespace=None, resources=[ref])]).run(1, wait=False)
    assert res["components"][0]["status"] == rd.FAILED
    assert "set its namespace" in res["components"][0]["message"]


def test_failing_pod_of_referenced_deployment_fails_fast():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "api-1",
            "namespace": "ns",
            "uid": "p1",
            "labels": {"app": "api"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "api-x", "controller": True}],
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "server", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        },
    }
    other = dict(pod, metadata=dict(pod["metadata"], name="other", uid="p2", labels={"app": "other"}))
    client = FakeClient({DEPLOYS: [deploy("api", False)], PODS: [pod, other]})
    ref = {"api_version": "apps/v1", "kind": "Deployment", "name": "api", "namespace": "ns"}
    res = kube.ReadinessWaiter(client, [comp("api", resources=[ref])]).run(5)
    result = res["components"][0]
    assert result["status"] == rd.FAILED
    assert "container server" in result["message"] and "CrashLoopBackOff" in result["message"]
    assert {o["name"] for o in result["objects"]} == {"api", "api-1"}  # the unrelated pod is not pulled in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Deployment", (None, "Deployment")),
        ("kafka.strimzi.io/v1/Kafka", ("kafka.strimzi.io/v1", "Kafka")),
        ("v1/Pod", ("v1", "Pod")),
    ],
)
def test_parse_kind(text, expected):
    from ansible_collections.datamill.platform.plugins.modules.component_ready import parse_kind

    assert parse_kind(text) == expected


def test_custom_kind_by_name_uses_rules_and_discovery():
    class Discovering(FakeClient):
        def preferred_version(self, group):
            self._count("discovery")
            return {"kafka.strimzi.io": "kafka.strimzi.io/v1"}.get(group)

    client = Discovering({TOPICS: [topic(True)]}, SERVED)
    res = kube.ReadinessWaiter(client, [comp("t", label_selector="a=b", kinds=[(None, "KafkaTopic")])]).run(1)
    assert res["components"][0]["status"] == rd.CURRENT
    unknown = kube.ReadinessWaiter(client, [comp("w", label_selector="a=b", kinds=[(None, "Widget")])]).run(1)
    assert unknown["components"][0]["status"] == rd.FAILED
    assert "give it as group/version/Kind" in unknown["components"][0]["message"]
