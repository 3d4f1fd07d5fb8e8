"""GPU detection benchmark: normalizing a 5,000-node fleet, and gpu_nodes end to end against the test cluster.

    .venv/bin/python benchmarks/gpu_bench.py                 # pure: 5,000 synthetic Node objects (no cluster)
    .venv/bin/python benchmarks/gpu_bench.py --cluster       # also apply tests/fleets/large.yaml and run gpu_nodes
    .venv/bin/python benchmarks/gpu_bench.py --cluster --kubeconfig PATH   # attach instead of starting a cluster

Prints figures only. The cluster run needs `make cluster-bins` (or DATAMILL_TEST_KUBECONFIG).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "cluster"))
sys.path.insert(0, str(REPO / ".collections"))

import datamill_testcluster as tc  # noqa: E402

from ansible_collections.datamill.platform.plugins.module_utils import gpu, kube  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "gpu"


def synthetic_fleet(count: int) -> list[dict]:
    """Node objects shaped like the label sets in tests/fixtures/gpu/nodes, repeated to ``count``."""
    cases = yaml.safe_load((FIXTURES / "nodes" / "label_sets.yaml").read_text())
    nodes = []
    for index in range(count):
        base = json.loads(json.dumps(cases[index % len(cases)]["node"]))
        base["metadata"]["name"] = f"node-{index}"
        nodes.append(base)
    return nodes


def bench_pure(count: int, reps: int) -> None:
    nodes = synthetic_fleet(count)
    times = []
    for _rep in range(reps):
        start = time.perf_counter()
        records = [gpu.node_record(n) for n in nodes]
        totals = gpu.summarize(records)
        times.append(time.perf_counter() - start)
    print(f"normalize {count} Node objects (NFD/GFD/MIG/AMD/Intel/GKE/kops label sets), {reps} runs:")
    print(
        f"  p50 {statistics.median(times) * 1000:7.1f} ms   per node {statistics.median(times) / count * 1e6:6.1f} us"
    )
    print(
        f"  gpu_nodes={totals['gpu_nodes']} gpus={totals['gpus']} problems={sum(len(r['problems']) for r in records)}"
    )


def bench_host(reps: int) -> None:
    spec = importlib.util.spec_from_file_location("hosttree", FIXTURES / "hosttree.py")
    hosttree = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hosttree)
    doc = yaml.safe_load((FIXTURES / "hosts" / "dgx-a100.yaml").read_text())
    root = Path(tempfile.mkdtemp(prefix="datamill-gpu-host-"))
    try:
        roots = hosttree.materialize(doc, root)
        times = []
        for _rep in range(reps):
            start = time.perf_counter()
            facts = gpu.host_facts(**roots)
            times.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"host scan of a DGX-like sysfs tree ({len(doc['pci_devices'])} PCI functions), {reps} runs:")
    print(f"  p50 {statistics.median(times) * 1000:7.2f} ms   found {facts['count']} {facts['vendor']} GPUs")


def bench_cluster(kubeconfig: str | None, fleet: str) -> None:
    state = None
    if kubeconfig:
        harness = tc.Cluster.attach(kubeconfig)
    else:
        tc.require_binaries()
        state = Path(tempfile.mkdtemp(prefix="datamill-bench-gpu-"))
        harness = tc.Cluster(state, tie_to_parent=True)
        harness.up()
    names: list[str] = []
    try:
        start = time.monotonic()
        names = harness.apply_fleet(fleet)
        print(f"applied fleet {fleet}: {len(names)} nodes in {time.monotonic() - start:.1f}s")
        client = kube.Client(kube.build_configuration({"kubeconfig": str(harness.kubeconfig)}))
        times = []
        for _rep in range(3):
            client.calls = 0
            start = time.perf_counter()
            nodes, _rv = client.list_all("/api/v1/nodes", limit=500)
            listed = time.perf_counter()
            records = [gpu.node_record(n) for n in nodes]
            totals = gpu.summarize(records)
            times.append((listed - start, time.perf_counter() - listed, client.calls))
        print(f"gpu_nodes logic in-process over {len(nodes)} nodes (paginated LIST, limit 500), 3 runs:")
        for lst, norm, calls in times:
            print(f"  LIST {lst:6.2f}s  normalize {norm:6.2f}s  total {lst + norm:6.2f}s  API calls {calls}")
        print(f"  totals: nodes={totals['nodes']} gpu_nodes={totals['gpu_nodes']} gpus={totals['gpus']}")
        book = Path(tempfile.mkdtemp(prefix="datamill-bench-play-")) / "play.yml"
        play = [
            {
                "name": "GPU inventory",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "tasks": [
                    {"name": "Inventory", "datamill.platform.gpu_nodes": {"kubeconfig": str(harness.kubeconfig)}},
                ],
            }
        ]
        book.write_text(json.dumps(play))
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
        start = time.monotonic()
        proc = subprocess.run(
            [str(REPO / ".venv" / "bin" / "ansible-playbook"), str(book)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - start
        shutil.rmtree(book.parent, ignore_errors=True)
        print(
            f"ansible-playbook with one gpu_nodes task over {len(nodes)} nodes: {wall:.2f}s wall (rc={proc.returncode})"
        )
    finally:
        if names and kubeconfig:
            harness.delete_nodes(names)
        if state is not None:
            harness.down()
            shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cluster", action="store_true", help="also run against the test control plane")
    parser.add_argument("--fleet", default="large")
    parser.add_argument("--kubeconfig", default=os.environ.get("DATAMILL_TEST_KUBECONFIG"))
    args = parser.parse_args()
    bench_pure(args.nodes, args.reps)
    bench_host(args.reps * 20)
    if args.cluster:
        bench_cluster(args.kubeconfig, args.fleet)


if __name__ == "__main__":
    main()
