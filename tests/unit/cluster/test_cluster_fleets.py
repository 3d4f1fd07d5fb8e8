"""Fleet files (tests/fleets/*.yaml) parse and expand into Node manifests."""

from __future__ import annotations

import datamill_testcluster as tc
import pytest
import yaml


def test_every_shipped_fleet_expands():
    names = sorted(p.stem for p in tc.FLEETS_DIR.glob("*.yaml"))
    assert {"default", "gpu-mixed", "large"} <= set(names)
    for name in names:
        assert tc.load_fleet(name)


def test_default_fleet_is_three_cpu_nodes():
    nodes = tc.load_fleet("default")
    assert [n.name for n in nodes] == ["default-cpu-0", "default-cpu-1", "default-cpu-2"]
    manifest = nodes[0].manifest()
    assert manifest["status"]["allocatable"]["cpu"] == "8"
    assert manifest["status"]["capacity"] == manifest["status"]["allocatable"]
    assert manifest["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert manifest["metadata"]["labels"]["kubernetes.io/hostname"] == "default-cpu-0"
    assert "nvidia.com/gpu" not in manifest["status"]["allocatable"]
    conditions = {c["type"]: c["status"] for c in manifest["status"]["conditions"]}
    assert conditions == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
        "NetworkUnavailable": "False",
    }
    assert manifest["status"]["addresses"][0]["address"].startswith("10.")


def test_node_stage_annotation_leaves_conditions_to_kwok():
    node = tc.NodeSpec("n", annotations={tc.NODE_STAGE_ANNOTATION: "not-ready"}, capacity={"cpu": "1"})
    assert "conditions" not in node.manifest()["status"]


def test_internal_ips_are_stable_and_mostly_distinct():
    ips = {n.internal_ip for n in tc.load_fleet("large")}
    assert len(ips) > 4990
    assert tc.NodeSpec("a").internal_ip == tc.NodeSpec("a").internal_ip


def test_large_fleet_has_5000_nodes():
    assert len(tc.load_fleet("large")) == 5000


def test_gpu_mixed_fleet_gpu_facts():
    nodes = {n.name: n for n in tc.load_fleet("gpu-mixed")}
    gpu = nodes["gpu-mixed-gpu-a100-0"]
    assert gpu.capacity["nvidia.com/gpu"] == "4"
    assert gpu.labels["feature.node.kubernetes.io/pci-10de.present"] == "true"
    assert gpu.labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert gpu.labels["node-role.kubernetes.io/worker"] == ""  # defaults merged
    mig = nodes["gpu-mixed-gpu-a100-mig-0"]
    assert mig.labels["nvidia.com/mig.strategy"] == "mixed"
    assert mig.capacity["nvidia.com/mig-1g.10gb"] == "2"
    assert nodes["gpu-mixed-amd-mi300-0"].capacity["amd.com/gpu"] == "8"
    gke = nodes["gpu-mixed-gke-l4-0"]
    assert gke.labels["cloud.google.com/gke-accelerator"] == "nvidia-l4"
    assert gke.manifest()["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    cpu_nodes = [n for n in nodes.values() if "-cpu-" in n.name]
    assert cpu_nodes and all("nvidia.com/gpu" not in n.capacity for n in cpu_nodes)


def test_group_overrides_defaults_and_prefix():
    fleet = yaml.safe_load(
        """
        name: t
        prefix: x-
        defaults: {cpu: "2", memory: 4Gi, labels: {a: "1"}}
        nodes:
          - {name: small, count: 2}
          - {name: big, cpu: "64", labels: {a: "2", b: "3"}, extended: {nvidia.com/gpu: 2}}
        """
    )
    nodes = tc.expand_fleet(fleet)
    assert [n.name for n in nodes] == ["x-small-0", "x-small-1", "x-big-0"]
    assert nodes[0].capacity["cpu"] == "2"
    assert nodes[2].capacity == {
        "cpu": "64",
        "memory": "4Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": "2",
    }
    assert nodes[2].labels == {"a": "2", "b": "3"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"name": "t", "nodes": []}, "no node groups"),
        ({"name": "t", "nodes": [{"count": 1}]}, "needs a name"),
        ({"name": "t", "nodes": [{"name": "a", "gpus": 1}]}, "unknown keys"),
        ({"name": "t", "flavour": 1, "nodes": [{"name": "a"}]}, "unknown fleet keys"),
        ({"name": "t", "nodes": [{"name": "a", "taints": [{"key": "k", "effect": "Sometimes"}]}]}, "bad taint"),
        ({"name": "t", "nodes": [{"name": "a"}, {"name": "a"}]}, "duplicate node name"),
        ({"name": "t", "nodes": [{"name": "a", "count": -1}]}, "count"),
    ],
)
def test_bad_fleets_are_rejected(doc, message):
    with pytest.raises(tc.ClusterError, match=message):
        tc.expand_fleet(doc)


def test_unknown_fleet_name_lists_known():
    with pytest.raises(tc.ClusterError, match=r"known: .*default"):
        tc.load_fleet("no-such-fleet")


def test_fleet_by_path(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("---\nname: f\nnodes:\n  - name: n\n")
    assert [n.name for n in tc.load_fleet(path)] == ["f-n-0"]
