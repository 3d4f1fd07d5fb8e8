"""Benchmarks of the planner and of the storage + ingestion layers.

    .venv/bin/python benchmarks/plan_bench.py                 # planning only (pure Python, a second or two)
    .venv/bin/python benchmarks/plan_bench.py --layers        # also converge + no-op rerun on a test cluster

Planning: time to validate the catalog and plan the ``full`` profile (19 components, capacity check, tables),
against the ``minimal`` profile as the peer in the same process, and the catalog validation alone.
Layers: start the test control plane (tools/cluster), install the CRDs, converge datalake + ingestion in
rehearsal (inventories/sim) with the simulated operators, then time a no-op rerun (changed=0 expected); the
first converge is the peer. Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / ".collections"))
sys.path.insert(0, str(REPO / "tools" / "cluster"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from ansible_collections.datamill.platform.plugins.module_utils import catalog as cat  # noqa: E402
from ansible_collections.datamill.platform.plugins.module_utils import planner  # noqa: E402

FLEET = {"totals": {"cpu": 48000, "memory": 192 * 2**30, "pods": 330, "gpus": {"nvidia": 1}}}
CRDS = ["strimzi-1.2.0", "cloudnative-pg-1.30.0", "rabbitmq-cluster-operator-2.22.3", "apicurio-registry-operator"]


def timeit(func, repeat):
    samples = []
    for _round in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def bench_planning(repeat):
    catalog = cat.load_catalog_dir(str(REPO / "roles" / "catalog"))

    def full():
        planner.build_plan(catalog, "full", {}, "standard", capacity=FLEET)

    def minimal():
        planner.build_plan(catalog, "minimal", {}, "small", capacity=FLEET)

    def validate():
        cat.validate_catalog(catalog)

    full_med, full_min = timeit(full, repeat)
    min_med = timeit(minimal, repeat)[0]
    val_med = timeit(validate, repeat)[0]
    plan = planner.build_plan(catalog, "full", {}, "standard", capacity=FLEET)
    print(f"catalog: {len(catalog['components'])} components, {len(catalog['profiles'])} profiles")
    print(
        f"plan full/standard: {len(plan['components'])} components in {len(plan['waves'])} waves: "
        f"median {full_med * 1000:.2f} ms, best {full_min * 1000:.2f} ms ({repeat} runs)"
    )
    print(f"plan minimal/small (peer): median {min_med * 1000:.2f} ms; full/minimal ratio {full_med / min_med:.1f}x")
    print(f"catalog validation alone: median {val_med * 1000:.2f} ms ({val_med / full_med * 100:.0f}% of a full plan)")


def run_layers(kubeconfig):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [
        str(REPO / ".venv" / "bin" / "ansible-playbook"),
        "-i",
        "inventories/sim",
        "playbooks/layers.yml",
        "-e",
        f"datamill_kubeconfig={kubeconfig}",
        "-e",
        "datamill_rehearsal=true",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    recap = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    return elapsed, proc.returncode, recap[-1] if recap else None, proc.stdout


def bench_layers():
    import datamill_testcluster as tc
    from helpers.sim_operators import SimulatedOperators
    from kubernetes import config

    with tempfile.TemporaryDirectory(prefix="datamill-plan-bench-") as tmp:
        cluster = tc.Cluster(Path(tmp))
        cluster.up()
        try:
            for folder in CRDS:
                cluster.install_crds(folder)
            cluster.wait_nodes_ready(cluster.apply_fleet("default"))
            with SimulatedOperators(config.new_client_from_config(config_file=str(cluster.kubeconfig))):
                first, rc1, recap1, out1 = run_layers(cluster.kubeconfig)
                second, rc2, recap2, out2 = run_layers(cluster.kubeconfig)
        finally:
            cluster.down(purge=True)
    if rc1 or rc2:
        print("layers: a run failed; last lines:\n" + (out1 if rc1 else out2)[-2000:])
        return
    tasks = int(recap2[0])
    print(f"layers converge (datalake + ingestion, rehearsal): {first:.1f} s, recap ok={recap1[0]} changed={recap1[1]}")
    print(
        f"layers no-op rerun: {second:.1f} s, recap ok={recap2[0]} changed={recap2[1]}; "
        f"{second / tasks * 1000:.0f} ms per task; rerun/converge ratio {second / first:.2f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--layers", action="store_true", help="also time converge + no-op rerun on a test cluster")
    args = parser.parse_args()
    bench_planning(args.repeat)
    if args.layers:
        bench_layers()
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (the machine is shared; compare ratios)")


if __name__ == "__main__":
    main()
