"""Benchmarks of the test control plane (tools/cluster): start time, a 5,000-node kwok fleet, memory.

    .venv/bin/python benchmarks/cluster_bench.py [--starts 3] [--fleet large] [--skip-fleet]
    .venv/bin/python benchmarks/cluster_bench.py --cold-build   # also time a cold build (about 10 min)

Prints figures only; nothing here asserts on time. Needs `make cluster-bins`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "cluster"))

import datamill_testcluster as tc  # noqa: E402


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def print_memory(cluster: tc.Cluster, title: str) -> None:
    print(f"  memory {title}:")
    total = 0.0
    for name, pid in cluster.running_components().items():
        rss, peak = rss_mib(pid)
        total += rss
        print(f"    {name:<24} RSS {rss:7.0f} MiB   peak {peak:7.0f} MiB")
    print(f"    {'total':<24} RSS {total:7.0f} MiB")


def bench_starts(count: int) -> None:
    print(f"start time ({count} starts, fresh state dir for the first, etcd data reused after):")
    state = Path(tempfile.mkdtemp(prefix="datamill-bench-start-"))
    api_ready, up = [], []
    try:
        for index in range(count):
            cluster = tc.Cluster(state)
            wall = time.monotonic()
            cluster.up()
            wall = time.monotonic() - wall
            api_ready.append(cluster.timings["api_ready_s"])
            up.append(cluster.timings["up_s"])
            label = "cold (new PKI + etcd)" if index == 0 else "warm"
            print(
                f"  start {index + 1} {label:<22}: API /readyz {api_ready[-1]:5.2f} s, "
                f"controllers ready {up[-1]:5.2f} s, wall {wall:5.2f} s"
            )
            cluster.down()
        if count > 1:
            print(
                f"  warm median: API ready {statistics.median(api_ready[1:]):.2f} s, "
                f"whole cluster {statistics.median(up[1:]):.2f} s (goal <= 20 s)"
            )
    finally:
        tc.stop_from_pid_files(state)
        shutil.rmtree(state, ignore_errors=True)


def bench_fleet(fleet: str) -> None:
    state = Path(tempfile.mkdtemp(prefix="datamill-bench-fleet-"))
    cluster = tc.Cluster(state)
    try:
        cluster.up()
        print_memory(cluster, "idle cluster")
        nodes = tc.load_fleet(fleet)
        print(f"fleet {fleet!r}: {len(nodes)} nodes")
        started = time.monotonic()
        names = cluster.apply_fleet(fleet)
        applied = time.monotonic() - started
        print(f"  Node objects + status written: {applied:6.1f} s ({len(names) / applied:.0f} nodes/s)")
        cluster.wait_nodes_ready(names, timeout=900)
        ready = time.monotonic() - started
        print(f"  all nodes Ready (kwok):         {ready:6.1f} s")
        print_memory(cluster, f"with {len(names)} nodes")
        # A Deployment spread over the fleet: scheduler + controller-manager + kwok at scale.
        api = cluster.api
        api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "bench"}})
        replicas = 500
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "spread"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "spread"}},
                "template": {
                    "metadata": {"labels": {"app": "spread"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}]},
                },
            },
        }
        started = time.monotonic()
        api.request("POST", "/apis/apps/v1/namespaces/bench/deployments", body=deployment)
        while True:
            status = api.get("/apis/apps/v1/namespaces/bench/deployments/spread").get("status", {})
            if status.get("availableReplicas") == replicas:
                break
            if time.monotonic() - started > 600:
                print(f"  Deployment of {replicas}: not available after 600 s ({status})")
                break
            time.sleep(0.5)
        print(f"  Deployment of {replicas} pods Available: {time.monotonic() - started:6.1f} s")
        print_memory(cluster, f"with {len(names)} nodes + {replicas} pods")
    finally:
        cluster.down()
        shutil.rmtree(state, ignore_errors=True)


def bench_cold_build() -> None:
    out = Path(tempfile.mkdtemp(prefix="datamill-bench-bins-"))
    cache = Path(tempfile.mkdtemp(prefix="datamill-bench-gocache-"))
    env = {**os.environ, "GOCACHE": str(cache)}
    print("cold build (empty GOCACHE, module cache kept):")
    started = time.monotonic()
    result = subprocess.run([str(REPO / "tools" / "cluster" / "build_bins.sh"), str(out)], env=env, check=False)
    print(f"  build_bins.sh exit {result.returncode} after {time.monotonic() - started:.0f} s")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--fleet", default="large")
    parser.add_argument("--skip-fleet", action="store_true")
    parser.add_argument("--cold-build", action="store_true")
    args = parser.parse_args()
    try:
        tc.require_binaries()
    except tc.MissingBinariesError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"machine: {os.cpu_count()} CPUs; binaries: {tc.bin_dir()}")
    if args.cold_build:
        bench_cold_build()
    bench_starts(args.starts)
    if not args.skip_fleet:
        bench_fleet(args.fleet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
