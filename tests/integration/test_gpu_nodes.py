"""datamill.platform.gpu_nodes over a mixed kwok fleet and gpu_host_facts on fixture trees, via ansible-playbook."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import pytest
import yaml
from helpers.ansible_run import run_module_output as run_module

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "gpu"


@pytest.fixture(scope="module")
def own_fleet(kube_cluster, tmp_path_factory):
    """A private mixed fleet (unique label) so label/taint changes never touch other tests' nodes."""
    tag = f"gpu{secrets.token_hex(3)}"
    fleet = {
        "name": tag,
        "defaults": {"cpu": "16", "memory": "64Gi", "pods": 110, "labels": {"datamill.test/fleet": tag}},
        "nodes": [
            {"name": "cpu", "count": 2},
            {
                "name": "a100",
                "count": 2,
                "cpu": "64",
                "memory": "512Gi",
                "labels": {
                    "feature.node.kubernetes.io/pci-10de.present": "true",
                    "nvidia.com/gpu.present": "true",
                    "nvidia.com/gpu.count": "4",
                    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                    "nvidia.com/gpu.memory": "81920",
                },
                "extended": {"nvidia.com/gpu": 4},
            },
            {
                "name": "mig",
                "count": 1,
                "labels": {
                    "nvidia.com/gpu.present": "true",
                    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                    "nvidia.com/gpu.count": "1",
                    "nvidia.com/mig.strategy": "mixed",
                    "nvidia.com/mig-1g.10gb.count": "2",
                    "nvidia.com/mig-3g.40gb.count": "1",
                },
                "extended": {"nvidia.com/mig-1g.10gb": 2, "nvidia.com/mig-3g.40gb": 1},
            },
            {
                "name": "amd",
                "count": 1,
                "labels": {"amd.com/gpu.product-name": "AMD_Instinct_MI300X", "amd.com/gpu.vram": "192G"},
                "extended": {"amd.com/gpu": 8},
            },
            {
                "name": "nfd-only",
                "count": 1,
                "labels": {"feature.node.kubernetes.io/pci-0302_10de.present": "true"},
            },
        ],
    }
    path = tmp_path_factory.mktemp("fleet") / f"{tag}.yaml"
    path.write_text(yaml.safe_dump(fleet))
    names = kube_cluster.apply_fleet(path)
    kube_cluster.wait_nodes_ready(names)
    yield tag, names
    kube_cluster.delete_nodes(names)


def test_mixed_fleet_inventory(kube_cluster, own_fleet, tmp_path):
    tag, names = own_fleet
    res, _out = run_module(
        "datamill.platform.gpu_nodes",
        {"kubeconfig": str(kube_cluster.kubeconfig), "label_selector": f"datamill.test/fleet={tag}", "page_size": 2},
        tmp_path,
    )
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is False
    by_name = {n["name"]: n for n in res["nodes"]}
    assert set(by_name) == set(names)
    assert res["api_calls"] == 4  # 7 nodes, page_size 2: paginated LIST with continue tokens
    assert res["totals"]["nodes"] == 7
    assert res["totals"]["gpu_nodes"] == 5
    assert res["totals"]["gpus"] == {"nvidia": 11, "amd": 8}
    assert res["totals"]["cpu"] == sum(n["allocatable"]["cpu"] for n in res["nodes"])
    a100 = by_name[f"{tag}-a100-0"]
    assert (a100["vendor"], a100["product"], a100["count"], a100["allocatable"]["gpus"]) == (
        "nvidia",
        "NVIDIA-A100-SXM4-80GB",
        4,
        4,
    )
    assert by_name[f"{tag}-mig-0"]["mig"]["devices"] == {"1g.10gb": 2, "3g.40gb": 1}
    assert by_name[f"{tag}-amd-0"]["memory"] == 192 * 1024
    cpu = by_name[f"{tag}-cpu-0"]
    assert cpu["gpu"] is False and cpu["allocatable"] == {"cpu": 16000, "memory": 64 * 2**30, "pods": 110, "gpus": 0}
    assert any(f"{tag}-nfd-only-0" in p and "0 allocatable" in p for p in res["problems"])


def test_label_and_taint_idempotent_with_check_and_diff(kube_cluster, own_fleet, tmp_path):
    tag, _names = own_fleet
    args = {
        "kubeconfig": str(kube_cluster.kubeconfig),
        "label_selector": f"datamill.test/fleet={tag}",
        "label": True,
        "taint": True,
    }
    preview, out = run_module("datamill.platform.gpu_nodes", args, tmp_path, check=True, diff=True)
    assert preview["changed"] is True
    assert len(preview["changes"]) == 5  # GPU nodes only
    assert "datamill.io/gpu" in out  # diff shown
    first, _out = run_module("datamill.platform.gpu_nodes", args, tmp_path)
    assert first["changed"] is True and len(first["changes"]) == 5
    by_name = {n["name"]: n for n in first["nodes"]}
    second, _out = run_module("datamill.platform.gpu_nodes", args, tmp_path)
    assert second["changed"] is False, second["changes"]
    nodes = {n["name"]: n for n in second["nodes"]}
    a100 = nodes[f"{tag}-a100-0"]
    assert a100["labels"]["datamill.io/gpu"] == "true"
    assert a100["labels"]["datamill.io/gpu.vendor"] == "nvidia"
    assert a100["labels"]["datamill.io/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in a100["taints"]
    assert {"key": "amd.com/gpu", "value": "present", "effect": "NoSchedule"} in nodes[f"{tag}-amd-0"]["taints"]
    assert nodes[f"{tag}-cpu-0"]["taints"] == [] and "datamill.io/gpu" not in nodes[f"{tag}-cpu-0"]["labels"]
    assert by_name  # first run returned records too


def test_gpu_host_facts_via_ansible(tmp_path):
    spec = importlib.util.spec_from_file_location("datamill_gpu_hosttree", FIXTURES / "hosttree.py")
    hosttree = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hosttree)
    materialize = hosttree.materialize
    doc = yaml.safe_load((FIXTURES / "hosts" / "dgx-a100.yaml").read_text())
    roots = materialize(doc, tmp_path / "host")
    res, _out = run_module("datamill.platform.gpu_host_facts", {**roots, "nvidia_smi": False}, tmp_path)
    assert not res.get("failed"), res.get("msg")
    facts = res["ansible_facts"]["datamill_gpu"]
    assert (facts["present"], facts["vendor"], facts["count"], facts["driver_loaded"]) == (True, "nvidia", 8, True)

    missing, _out = run_module("datamill.platform.gpu_host_facts", {"sysfs_root": str(tmp_path / "nope")}, tmp_path)
    assert missing["failed"] and "is not a directory" in missing["msg"]
