"""GPU detection: sysfs fixture trees (host side) and real node label sets (cluster side)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from ansible_collections.datamill.platform.plugins.module_utils import gpu

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "gpu"


def _load_hosttree():
    spec = importlib.util.spec_from_file_location("datamill_gpu_hosttree", FIXTURES / "hosttree.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


materialize = _load_hosttree().materialize


def _hosts():
    for path in sorted((FIXTURES / "hosts").glob("*.yaml")):
        yield pytest.param(yaml.safe_load(path.read_text()), id=path.stem)


@pytest.mark.parametrize("doc", list(_hosts()))
def test_host_fixture(doc, tmp_path):
    facts = gpu.host_facts(**materialize(doc, tmp_path))
    expect = doc["expect"]
    for key in ("present", "vendor", "count", "counts", "driver_loaded"):
        assert facts[key] == expect[key], (key, facts)
    assert len(facts["problems"]) == expect["problems"], facts["problems"]
    if expect.get("problem_contains"):
        assert any(expect["problem_contains"] in p for p in facts["problems"]), facts["problems"]
    if expect.get("nvidia_version"):
        assert facts["drivers"]["nvidia"]["version"] == expect["nvidia_version"]


def test_dgx_devices_and_runtime_hints(tmp_path):
    doc = yaml.safe_load((FIXTURES / "hosts" / "dgx-a100.yaml").read_text())
    roots = materialize(doc, tmp_path)
    etc = Path(roots["etc_root"])
    (etc / "containerd").mkdir()
    (etc / "containerd" / "config.toml").write_text(
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]\n'
        'BinaryName = "/usr/bin/nvidia-container-runtime"\n'
    )
    (etc / "cdi").mkdir()
    (etc / "cdi" / "nvidia.yaml").write_text("---\n")
    facts = gpu.host_facts(**roots, paths={"nvidia-ctk": "/usr/bin/nvidia-ctk"})
    first = facts["devices"][0]
    assert first == {
        "address": "0000:07:00.0",
        "vendor": "nvidia",
        "vendor_id": "0x10de",
        "device_id": "0x20b2",
        "class": "0x030200",
        "class_name": "3d",
        "driver": "nvidia",
        "numa_node": 0,
    }
    # NVSwitch bridges (class 0x0680) and the ASPEED BMC VGA are not GPUs
    assert all(d["class_name"] == "3d" for d in facts["devices"])
    runtime = facts["container_runtime"]
    assert runtime["containerd_nvidia_runtime"] is True
    assert runtime["cdi_specs"] == ["nvidia.yaml"]
    assert runtime["needs_toolkit"] is False
    assert runtime["runtime_class"] == "nvidia"
    assert runtime["device_plugin_resource"] == "nvidia.com/gpu"


def test_nvidia_smi_parse_and_mismatch(tmp_path):
    doc = yaml.safe_load((FIXTURES / "hosts" / "dgx-a100.yaml").read_text())
    smi = "\n".join(
        f"{i}, NVIDIA A100-SXM4-80GB, 81920, 570.124.06, 00000000:07:00.0, GPU-{i:04d}, Disabled" for i in range(7)
    )
    facts = gpu.host_facts(**materialize(doc, tmp_path), nvidia_smi_output=smi)
    assert len(facts["nvidia_smi"]) == 7
    assert facts["nvidia_smi"][0]["memory_mib"] == 81920
    assert facts["nvidia_smi"][0]["mig_mode"] == "Disabled"
    assert any("nvidia-smi sees 7 GPU(s) but the PCI bus has 8" in p for p in facts["problems"])


def test_nvidia_smi_runs_only_for_nvidia_hosts_and_failures_are_problems(tmp_path):
    calls = []

    def failing():
        calls.append("smi")
        return 9, "", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\n"

    dgx = yaml.safe_load((FIXTURES / "hosts" / "dgx-a100.yaml").read_text())
    facts = gpu.host_facts(**materialize(dgx, tmp_path / "dgx"), run_nvidia_smi=failing)
    assert calls == ["smi"]
    assert facts["nvidia_smi"] == []
    assert "nvidia-smi failed (rc=9): NVIDIA-SMI has failed because it couldn't communicate" in facts["problems"][0]

    amd = yaml.safe_load((FIXTURES / "hosts" / "amd-mi300x.yaml").read_text())
    gpu.host_facts(**materialize(amd, tmp_path / "amd"), run_nvidia_smi=failing)
    assert calls == ["smi"], "no NVIDIA device on the bus: nvidia-smi is not run"


def test_missing_sysfs_is_reported(tmp_path):
    facts = gpu.host_facts(sysfs_root=str(tmp_path / "nope"), procfs_root=str(tmp_path), etc_root=str(tmp_path))
    assert facts["present"] is False
    assert "cannot read" in facts["scan_error"]


def _label_sets():
    for case in yaml.safe_load((FIXTURES / "nodes" / "label_sets.yaml").read_text()):
        yield pytest.param(case, id=case["name"])


@pytest.mark.parametrize("case", list(_label_sets()))
def test_node_label_sets(case):
    rec = gpu.node_record(case["node"])
    expect = case["expect"]
    for key in ("gpu", "vendor", "product", "count", "memory", "family", "schedulable", "sources"):
        if key in expect:
            assert rec[key] == expect[key], (key, rec)
    for key, val in (expect.get("allocatable") or {}).items():
        assert rec["allocatable"][key] == val, (key, rec["allocatable"])
    if "mig_strategy" in expect:
        assert rec["mig"]["strategy"] == expect["mig_strategy"]
    if "mig_devices" in expect:
        assert rec["mig"]["devices"] == expect["mig_devices"]
    if "shared" in expect:
        assert rec["sharing"]["shared"] is expect["shared"]
        assert rec["sharing"]["replicas"] == expect["replicas"]
    if "driver_full" in expect:
        assert rec["driver"]["full"] == expect["driver_full"]
    if expect.get("problems") == []:
        assert rec["problems"] == []
    for text in expect.get("problems") or []:
        assert any(text in p for p in rec["problems"]), rec["problems"]
    assert set(rec["allocatable"]) == {"cpu", "memory", "pods", "gpus"}


def test_totals_over_label_sets():
    records = [gpu.node_record(c["node"]) for c in yaml.safe_load((FIXTURES / "nodes" / "label_sets.yaml").read_text())]
    totals = gpu.summarize(records)
    assert totals["nodes"] == len(records)
    assert totals["gpu_nodes"] == len(records) - 1
    # cordoned and NotReady nodes are excluded from schedulable capacity
    assert totals["gpus"]["nvidia"] > totals["gpus_schedulable"]["nvidia"]
    assert totals["gpus"]["amd"] == 8
    assert totals["cpu"] == sum(r["allocatable"]["cpu"] for r in records if r["schedulable"])


@pytest.mark.parametrize(
    ("text", "value"),
    [("100m", 0.1), ("2", 2), ("1Ki", 1024), ("16Gi", 16 * 2**30), ("1.5G", 1.5e9), ("1e3", 1000), ("250n", 2.5e-7)],
)
def test_parse_quantity(text, value):
    assert float(gpu.parse_quantity(text)) == pytest.approx(value)


def test_parse_quantity_rejects_garbage():
    with pytest.raises(ValueError, match="invalid quantity"):
        gpu.parse_quantity("12 cores")


def _node(labels=None, taints=None, alloc_gpus=2):
    return {
        "metadata": {"name": "n1", "resourceVersion": "42", "labels": labels or {}},
        "spec": {"taints": taints} if taints else {},
        "status": {
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": str(alloc_gpus)},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def test_label_patch_is_idempotent():
    node = _node({"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA A100 (80GB)"})
    rec = gpu.node_record(node)
    patch, before, _after = gpu.label_patch(node, rec, "datamill.io/gpu")
    assert patch == {
        "metadata": {
            "labels": {
                "datamill.io/gpu": "true",
                "datamill.io/gpu.vendor": "nvidia",
                "datamill.io/gpu.product": "NVIDIA-A100-80GB",
            }
        }
    }
    assert before == {}
    node["metadata"]["labels"].update(patch["metadata"]["labels"])
    assert gpu.label_patch(node, gpu.node_record(node), "datamill.io/gpu")[0] is None


def test_label_patch_removes_our_labels_from_non_gpu_nodes():
    node = {"metadata": {"name": "cpu", "labels": {"datamill.io/gpu": "true", "datamill.io/gpu.vendor": "nvidia"}}}
    patch, before, after = gpu.label_patch(node, gpu.node_record(node), "datamill.io/gpu")
    assert patch == {"metadata": {"labels": {"datamill.io/gpu": None, "datamill.io/gpu.vendor": None}}}
    assert (before, after) == (node["metadata"]["labels"], {})


def test_taint_patch_adds_once_and_keeps_others():
    node = _node(
        {"nvidia.com/gpu.present": "true"}, taints=[{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]
    )
    rec = gpu.node_record(node)
    patch, _before, after = gpu.taint_patch(node, rec)
    assert patch["metadata"]["resourceVersion"] == "42"
    assert {"key": "dedicated", "value": "ml", "effect": "NoSchedule"} in after
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in after
    node["spec"]["taints"] = after
    assert gpu.taint_patch(node, gpu.node_record(node))[0] is None
    cpu = {"metadata": {"name": "cpu"}, "status": {"allocatable": {"cpu": "1"}}}
    assert gpu.taint_patch(cpu, gpu.node_record(cpu))[0] is None


def test_label_value_sanitizing():
    assert gpu.label_value("NVIDIA A100 (80GB)") == "NVIDIA-A100-80GB"
    assert len(gpu.label_value("x" * 100)) == 63
