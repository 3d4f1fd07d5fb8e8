"""Readiness benchmark: datamill.platform.component_ready vs kubernetes.core.k8s ``wait: true``, same objects, same run.

    .venv/bin/python benchmarks/readiness_bench.py [--reps 3] [--peer-timeout 30] [--kubeconfig PATH]

Scenarios (both waiters are real ansible-playbook runs started together; each playbook records the wall clock
right after its task returns):

1. ready latency, custom resource: a KafkaTopic's Ready condition is flipped by the benchmark ("the operator")
   at a random moment; latency = task return - flip.
2. ready latency, Deployments: three Deployments whose pods wait for a node label; the benchmark adds the label,
   the real scheduler/controller-manager/kwok make them Available; latency = task return - moment the last
   Deployment was observed Available (own watch).
3. CrashLoopBackOff: time from the container first reported in CrashLoopBackOff to each task returning
   (kubernetes.core has no failed state: it returns at its timeout).
4. API requests per check for 20 Deployments: ours (module's own count) vs the peer (apiserver /metrics delta).

Prints figures only (ratios vs the peer). Uses DATAMILL_TEST_KUBECONFIG / --kubeconfig, else starts a private
test cluster (needs `make cluster-bins`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "cluster"))
sys.path.insert(0, str(REPO / ".collections"))

import datamill_testcluster as tc  # noqa: E402

from ansible_collections.datamill.platform.plugins.module_utils import kube, readiness  # noqa: E402

PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
IMAGE = "registry.invalid/datamill/app:1"


class Runner:
    """Start one module task as an ansible-playbook process; ``result()`` returns (result, returned_at)."""

    def __init__(self, workdir: Path, module: str, args: dict[str, Any]):
        tag = secrets.token_hex(4)
        self.out = workdir / f"{tag}.json"
        self.stamp = workdir / f"{tag}.ts"
        play = [
            {
                "name": "Bench",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "tasks": [
                    {"name": "Waiter", module: args, "register": "datamill_r", "ignore_errors": True},
                    {
                        "name": "Stamp",
                        "ansible.builtin.copy": {"content": "{{ now().timestamp() }}", "dest": str(self.stamp)},
                    },
                    {
                        "name": "Save",
                        "ansible.builtin.copy": {"content": "{{ datamill_r | to_json }}", "dest": str(self.out)},
                    },
                ],
            }
        ]
        book = workdir / f"{tag}.yml"
        book.write_text(json.dumps(play))
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
        self.proc = subprocess.Popen(
            [str(PLAYBOOK), str(book)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def result(self) -> tuple[dict[str, Any], float]:
        out, _err = self.proc.communicate(timeout=900)
        if not self.stamp.exists():
            raise RuntimeError(f"playbook failed:\n{out.decode(errors='replace')[-3000:]}")
        return json.loads(self.out.read_text()), float(self.stamp.read_text())


def ours(kubeconfig: Path, components: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"kubeconfig": str(kubeconfig), "components": components, **extra}


def peer(kubeconfig: Path, definition: Any, timeout: int, condition: dict[str, str] | None = None) -> dict[str, Any]:
    args = {
        "kubeconfig": str(kubeconfig),
        "state": "present",
        "definition": definition,
        "wait": True,
        "wait_timeout": timeout,
    }
    if condition:
        args["wait_condition"] = condition
    return args


def namespace(api: tc.Api, prefix: str) -> str:
    name = f"bench-{prefix}-{secrets.token_hex(3)}"
    api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name


def deployment(name: str, *, stage: str | None = None, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"bench": "1"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name, "bench": "1"},
                    "annotations": {"datamill.test/stage": stage} if stage else {},
                },
                "spec": {
                    "nodeSelector": selector or {},
                    "containers": [{"name": "server", "image": IMAGE, "resources": {"requests": {"cpu": "10m"}}}],
                },
            },
        },
    }


def fmt(values: list[float]) -> str:
    return f"p50 {statistics.median(values):6.2f}s  max {max(values):6.2f}s  (n={len(values)})"


class Observer:
    """Own WATCH on a collection, recording when each object was first seen Current / in CrashLoopBackOff."""

    def __init__(self, client: kube.Client, path: str):
        self.client, self.path = client, path
        self.current: dict[str, float] = {}
        self.crash: dict[str, float] = {}
        self.stop = threading.Event()
        _items, self.rv = client.list_all(path)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for _etype, obj in self.client.watch_stream(self.path, self.rv, timeout_seconds=60):
                    self.rv = obj.get("metadata", {}).get("resourceVersion", self.rv)
                    now = time.time()
                    name = obj.get("metadata", {}).get("name", "")
                    if readiness.compute(obj, now)["status"] == readiness.CURRENT:
                        self.current.setdefault(name, now)
                    for cs in obj.get("status", {}).get("containerStatuses") or []:
                        if (cs.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                            self.crash.setdefault(name, now)
                    if self.stop.is_set():
                        return
            except kube.KubeError:
                time.sleep(0.2)


def metrics_total(api: tc.Api, resource: str) -> dict[str, int]:
    """apiserver_request_total for one resource, summed per verb."""
    _status, text = api.request("GET", "/metrics", accept="text/plain")
    totals: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{") or f'resource="{resource}"' not in line:
            continue
        verb = re.search(r'verb="([A-Z]+)"', line)
        if verb:
            totals[verb.group(1)] = totals.get(verb.group(1), 0) + int(float(line.rsplit(" ", 1)[1]))
    return totals


def scenario_cr(cluster, client, work: Path, reps: int, peer_timeout: int) -> tuple[list[float], list[float]]:
    cluster.install_crds("strimzi-1.2.0")
    api = cluster.harness.api
    mine, theirs = [], []
    for _rep in range(reps):
        ns = namespace(api, "cr")
        topic = {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {"name": "events", "namespace": ns, "labels": {"strimzi.io/cluster": "kafka"}},
            "spec": {"partitions": 1, "replicas": 1},
        }
        api.request("POST", f"/apis/kafka.strimzi.io/v1/namespaces/{ns}/kafkatopics", body=topic)
        ref = {"api_version": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "name": "events"}
        a = Runner(
            work,
            "datamill.platform.component_ready",
            ours(cluster.kubeconfig, [{"name": "t", "namespace": ns, "resources": [ref]}]),
        )
        b = Runner(
            work, "kubernetes.core.k8s", peer(cluster.kubeconfig, topic, 120, {"type": "Ready", "status": "True"})
        )
        time.sleep(8.0 + random.uniform(0, 5))  # both are waiting by now; random phase vs the peer's 5 s poll
        flip = time.time()
        cluster.set_status(
            "kafka.strimzi.io/v1", "KafkaTopic", ns, "events", {"conditions": [{"type": "Ready", "status": "True"}]}
        )
        (ra, ta), (rb, tb) = a.result(), b.result()
        if ra.get("failed") or rb.get("failed"):
            raise RuntimeError(f"unexpected failure: ours={ra.get('msg')} peer={rb.get('msg')}")
        mine.append(ta - flip)
        theirs.append(tb - flip)
        api.request("DELETE", f"/api/v1/namespaces/{ns}", ok=(200, 202))
    return mine, theirs


def scenario_deployments(cluster, client, work: Path, reps: int, nodes: list[str]) -> tuple[list[float], list[float]]:
    api = cluster.harness.api
    mine, theirs = [], []
    for _rep in range(reps):
        ns = namespace(api, "deploy")
        hold = {"datamill.bench/release": secrets.token_hex(3)}
        deps = [deployment(f"svc{i}", selector=hold) for i in range(3)]
        for dep in deps:
            api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body=dep)
        observer = Observer(client, f"/apis/apps/v1/namespaces/{ns}/deployments")
        comp = [{"name": "svc", "namespace": ns, "label_selector": "bench=1", "kinds": ["Deployment", "Pod"]}]
        a = Runner(work, "datamill.platform.component_ready", ours(cluster.kubeconfig, comp, unschedulable_grace=600))
        b = Runner(
            work,
            "kubernetes.core.k8s",
            peer(cluster.kubeconfig, [dict(d, metadata=dict(d["metadata"], namespace=ns)) for d in deps], 120),
        )
        time.sleep(8.0 + random.uniform(0, 5))
        node = nodes[0]
        key, value = next(iter(hold.items()))
        api.request(
            "PATCH",
            f"/api/v1/nodes/{node}",
            body={"metadata": {"labels": {key: value}}},
            content_type="application/merge-patch+json",
        )
        (ra, ta), (rb, tb) = a.result(), b.result()
        observer.stop.set()
        api.request(
            "PATCH",
            f"/api/v1/nodes/{node}",
            body={"metadata": {"labels": {key: None}}},
            content_type="application/merge-patch+json",
        )
        if ra.get("failed") or rb.get("failed"):
            raise RuntimeError(f"unexpected failure: ours={ra.get('msg')} peer={rb.get('msg')}")
        if len(observer.current) < 3:
            raise RuntimeError(f"observer saw only {observer.current}")
        last_ready = max(observer.current.values())
        mine.append(ta - last_ready)
        theirs.append(tb - last_ready)
        api.request("DELETE", f"/api/v1/namespaces/{ns}", ok=(200, 202))
    return mine, theirs


def scenario_crashloop(cluster, client, work: Path, reps: int, peer_timeout: int) -> tuple[list[float], list[float]]:
    api = cluster.harness.api
    mine, theirs = [], []
    for _rep in range(reps):
        ns = namespace(api, "crash")
        dep = deployment("api", stage="crashloop")
        observer = Observer(client, f"/api/v1/namespaces/{ns}/pods")
        comp = [
            {
                "name": "api",
                "namespace": ns,
                "resources": [{"api_version": "apps/v1", "kind": "Deployment", "name": "api"}],
            }
        ]
        a = Runner(work, "datamill.platform.component_ready", ours(cluster.kubeconfig, comp, timeout=peer_timeout))
        b = Runner(
            work,
            "kubernetes.core.k8s",
            peer(cluster.kubeconfig, dict(dep, metadata=dict(dep["metadata"], namespace=ns)), peer_timeout),
        )
        (ra, ta), (_rb, tb) = a.result(), b.result()
        observer.stop.set()
        if not observer.crash:
            raise RuntimeError("no CrashLoopBackOff observed")
        first = min(observer.crash.values())
        assert ra.get("failed") and "CrashLoopBackOff" in ra.get("msg", ""), ra.get("msg")
        mine.append(ta - first)
        theirs.append(tb - first)
        api.request("DELETE", f"/api/v1/namespaces/{ns}", ok=(200, 202))
    return mine, theirs


def scenario_api_calls(cluster, work: Path, count: int) -> tuple[dict[str, int], dict[str, int]]:
    api = cluster.harness.api
    ns = namespace(api, "calls")
    deps = [deployment(f"svc{i}") for i in range(count)]
    for dep in deps:
        api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body=dep)
    time.sleep(5)
    comp = [{"name": "svc", "namespace": ns, "label_selector": "bench=1"}]
    ra, _stamp = Runner(work, "datamill.platform.component_ready", ours(cluster.kubeconfig, comp, timeout=120)).result()
    before = metrics_total(api, "deployments")
    rb, _stamp = Runner(
        work,
        "kubernetes.core.k8s",
        peer(cluster.kubeconfig, [dict(d, metadata=dict(d["metadata"], namespace=ns)) for d in deps], 120),
    ).result()
    after = metrics_total(api, "deployments")
    api.request("DELETE", f"/api/v1/namespaces/{ns}", ok=(200, 202))
    if ra.get("failed") or rb.get("failed"):
        raise RuntimeError(f"unexpected failure: ours={ra.get('msg')} peer={rb.get('msg')}")
    delta = {verb: after.get(verb, 0) - before.get(verb, 0) for verb in after}
    return ra["api_calls_by_verb"], {k: v for k, v in delta.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peer-timeout", type=int, default=30, help="kubernetes.core wait_timeout for the crashloop")
    parser.add_argument("--objects", type=int, default=20, help="Deployments in the API-call scenario")
    parser.add_argument("--kubeconfig", default=os.environ.get("DATAMILL_TEST_KUBECONFIG"))
    args = parser.parse_args()

    state = None
    if args.kubeconfig:
        harness = tc.Cluster.attach(args.kubeconfig)
    else:
        tc.require_binaries()
        state = Path(tempfile.mkdtemp(prefix="datamill-bench-ready-"))
        harness = tc.Cluster(state, tie_to_parent=True)
        harness.up()

    class Facade:
        def __init__(self, h):
            self.harness, self.kubeconfig = h, h.kubeconfig

        def install_crds(self, folder):
            return self.harness.install_crds(folder)

        def set_status(self, *a):
            return self.harness.set_status(*a)

    cluster = Facade(harness)
    client = kube.Client(kube.build_configuration({"kubeconfig": str(harness.kubeconfig)}))
    nodes = harness.apply_fleet("default")
    harness.wait_nodes_ready(nodes)
    work = Path(tempfile.mkdtemp(prefix="datamill-bench-work-"))
    try:
        print("readiness benchmark: datamill.platform.component_ready (watch) vs kubernetes.core.k8s wait: true")
        print(f"  ansible-playbook per waiter, both started together; {args.reps} repetitions per scenario\n")
        m, p = scenario_cr(cluster, client, work, args.reps, args.peer_timeout)
        print("1. last object Ready -> task returns (KafkaTopic Ready condition flipped by the 'operator')")
        print(f"   ours            {fmt(m)}")
        print(f"   kubernetes.core {fmt(p)}")
        print(f"   ratio (p50)     {statistics.median(p) / max(statistics.median(m), 1e-3):.1f}x faster\n")
        m, p = scenario_deployments(cluster, client, work, args.reps, nodes)
        print("2. last Deployment Available -> task returns (3 Deployments x 2 pods, released by a node label)")
        print(f"   ours            {fmt(m)}")
        print(f"   kubernetes.core {fmt(p)}")
        print(f"   ratio (p50)     {statistics.median(p) / max(statistics.median(m), 1e-3):.1f}x faster\n")
        m, p = scenario_crashloop(cluster, client, work, args.reps, args.peer_timeout)
        print(f"3. CrashLoopBackOff first reported -> task returns failed (peer wait_timeout {args.peer_timeout}s)")
        print(f"   ours            {fmt(m)}")
        print(f"   kubernetes.core {fmt(p)}  (no failed state: returns at its timeout)\n")
        mine, theirs = scenario_api_calls(cluster, work, args.objects)
        print(f"4. API requests for one check of {args.objects} ready Deployments (+ their pods for ours)")
        print(f"   ours            {sum(mine.values())} total {mine}  (O(kinds): 7 kinds listed once + StorageClasses)")
        print(f"   kubernetes.core {sum(theirs.values())} on deployments {theirs}  (apiserver_request_total delta)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if state is not None:
            harness.down()
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
