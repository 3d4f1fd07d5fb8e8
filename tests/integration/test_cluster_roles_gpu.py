"""gpu_stack and the debug playbook against the test control plane, in rehearsal.

A fleet whose NVIDIA nodes are labelled by NFD but advertise no nvidia.com/gpu (no driver/device plugin yet)
makes gpu_stack plan the GPU Operator; in rehearsal the Helm release is recorded and the privileged namespace
is really applied. A fleet without GPUs installs nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.ansible_run import recap, run_sim_playbook

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

GPU_ROLE = """---
- name: GPU stack
  hosts: localhost
  gather_facts: false
  roles:
    - role: datamill.platform.gpu_stack
"""

BARE_GPU_FLEET = """---
name: baregpu
defaults:
  cpu: "32"
  memory: 128Gi
  pods: 110
nodes:
  - name: l4
    count: 2
    labels:
      feature.node.kubernetes.io/pci-10de.present: "true"
      feature.node.kubernetes.io/pci-0302_10de.present: "true"
"""


def run(cluster, tmp_path, playbook_text, *extra):
    book = tmp_path / "play.yml"
    book.write_text(playbook_text)
    return run_sim_playbook(cluster, str(book), *extra, timeout=600)


def changed(out):
    return recap(out)["changed"]


def test_gpu_operator_planned_for_bare_nvidia_nodes(kube_cluster, tmp_path):
    fleet = tmp_path / "baregpu.yaml"
    fleet.write_text(BARE_GPU_FLEET)
    nodes = kube_cluster.apply_fleet(fleet)
    try:
        kube_cluster.wait_nodes_ready(nodes)
        rc, out = run(kube_cluster, tmp_path, GPU_ROLE)
        assert rc == 0, out[-4000:]
        flat = " ".join(out.split())
        assert "GPU: operator - no NVIDIA driver on the hosts" in flat
        assert (
            "REHEARSAL: would install chart gpu-operator version v26.7.0 from https://helm.ngc.nvidia.com/nvidia"
            in flat
        )
        assert '"driver": {"enabled": true}' in flat
        from kubernetes import client, config

        core = client.CoreV1Api(config.new_client_from_config(config_file=str(kube_cluster.kubeconfig)))
        ns = core.read_namespace("gpu-operator")
        assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "privileged"
        rc2, out2 = run(kube_cluster, tmp_path, GPU_ROLE)
        assert rc2 == 0 and changed(out2) == 0, out2[-3000:]

        rc3, out3 = run(kube_cluster, tmp_path, GPU_ROLE, "-e", "gpu_stack_host_driver=true")
        assert rc3 == 0, out3[-3000:]
        assert "GPU: device_plugin - drivers and the container toolkit are on the hosts" in " ".join(out3.split())
        assert "chart nvidia-device-plugin version 0.20.0" in " ".join(out3.split())

        # k3s: the nvidia RuntimeClass is applied and the device plugin pods use it
        rc4, out4 = run(
            kube_cluster, tmp_path, GPU_ROLE, "-e", "gpu_stack_host_driver=true", "-e", "gpu_stack_cluster_type=k3s"
        )
        assert rc4 == 0, out4[-3000:]
        assert '"runtimeClassName": "nvidia"' in " ".join(out4.split())
        node_api = client.NodeV1Api(config.new_client_from_config(config_file=str(kube_cluster.kubeconfig)))
        assert node_api.read_runtime_class("nvidia").handler == "nvidia"
    finally:
        kube_cluster.delete_nodes(nodes)


def test_debug_pod_net_and_removal(kube_cluster, tmp_path):
    nodes = kube_cluster.apply_fleet("default")
    kube_cluster.wait_nodes_ready(nodes)
    rc, out = run_sim_playbook(kube_cluster, "playbooks/debug.yml", "-e", "debug_kind=net", timeout=600)
    assert rc == 0, out[-4000:]
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kube_cluster.kubeconfig)))
    pod = core.read_namespaced_pod("datamill-debug-net", "datamill-debug")
    assert pod.spec.containers[0].image == "docker.io/nicolaka/netshoot:v0.15"
    assert "NET_ADMIN" in pod.spec.containers[0].security_context.capabilities.add
    assert "exec -it datamill-debug-net" in out
    rc, out = run_sim_playbook(
        kube_cluster, "playbooks/debug.yml", "-e", "debug_kind=net", "-e", "debug_state=absent", timeout=600
    )
    assert rc == 0, out[-3000:]
