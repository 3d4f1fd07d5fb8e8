"""k8s_local (k3s) and k3s_cluster: rendered config, drop-ins, secrets, unit, kubeconfig, idempotence, check mode.

Hosts are localhost with connection local and a path prefix (k8s_local_root / k3s_cluster_root), the binary
comes from an air-gap directory holding a fake k3s whose sha256 the test pins, so the checksum path is real.
"""

from __future__ import annotations

import hashlib
import stat
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from cluster_roles_support import local_inventory, run_playbook

LOCAL = """---
- name: Local cluster
  hosts: k8s_local
  gather_facts: true
  gather_subset: [min]
  roles:
    - role: datamill.platform.k8s_local
"""

K3S_YAML = """apiVersion: v1
kind: Config
clusters:
- name: default
  cluster: {certificate-authority-data: Q0E=, server: 'https://127.0.0.1:6443'}
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
contexts:
- name: default
  context: {cluster: default, user: default}
current-context: default
"""


def _airgap(tmp_path: Path) -> tuple[Path, str]:
    airgap = tmp_path / "airgap"
    airgap.mkdir()
    binary = airgap / "k3s"
    binary.write_bytes(b"#!/bin/sh\necho fake k3s\n")
    (airgap / "k3s-airgap-images-amd64.tar.zst").write_bytes(b"images")
    return airgap, "sha256:" + hashlib.sha256(binary.read_bytes()).hexdigest()


def _local_extra(tmp_path: Path, **more) -> dict:
    airgap, checksum = _airgap(tmp_path) if not (tmp_path / "airgap").exists() else (tmp_path / "airgap", None)
    root = tmp_path / "root"
    (root / "etc/rancher/k3s").mkdir(parents=True, exist_ok=True)
    (root / "etc/rancher/k3s/k3s.yaml").write_text(K3S_YAML)
    (tmp_path / "sys").mkdir(exist_ok=True)
    extra = {
        "datamill_cluster_type": "k3s",
        "datamill_cluster_name": "laptop",
        "datamill_kubeconfig": str(tmp_path / "kube" / "config"),
        "k8s_local_root": str(root),
        "k8s_local_airgap_dir": str(airgap),
        "k8s_local_sysfs_root": str(tmp_path / "sys"),
        "k8s_local_procfs_root": str(tmp_path / "proc"),
        "k8s_local_node_labels": {"datamill.io/role": "all-in-one"},
        "k8s_local_node_taints": ["dedicated=data:NoSchedule"],
        "k8s_local_k3s_disable": ["traefik"],
        "k8s_local_k3s_dropins": {"50-registry": {"embedded-registry": True}},
        "k8s_local_k3s_secret_config": {"token": "s3cr3t-token-never-printed"},
    }
    if checksum:
        extra["k8s_local_k3s_checksum"] = checksum
    extra.update(more)
    return extra


def test_k3s_local_renders_and_is_idempotent(tmp_path):
    extra = _local_extra(tmp_path)
    first = run_playbook(tmp_path, LOCAL, local_inventory(), extra)
    assert first.rc == 0, first.out[-4000:]
    root = tmp_path / "root"
    config = yaml.safe_load((root / "etc/rancher/k3s/config.yaml").read_text())
    assert config == {
        "write-kubeconfig-mode": "0600",
        "node-name": "localhost",
        "node-label": ["datamill.io/role=all-in-one"],
        "node-taint": ["dedicated=data:NoSchedule"],
        "disable": ["traefik"],
    }
    assert yaml.safe_load((root / "etc/rancher/k3s/config.yaml.d/50-registry.yaml").read_text()) == {
        "embedded-registry": True
    }
    secret = root / "etc/rancher/k3s/config.yaml.d/90-datamill-secret.yaml"
    assert yaml.safe_load(secret.read_text()) == {"token": "s3cr3t-token-never-printed"}
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "s3cr3t-token-never-printed" not in first.out
    unit = (root / "etc/systemd/system/k3s.service").read_text()
    assert "ExecStart=/usr/local/bin/k3s server" in unit and "Type=notify" in unit
    assert (root / "usr/local/bin/k3s").read_bytes().startswith(b"#!/bin/sh")
    assert (root / "var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst").exists()
    kubeconfig = yaml.safe_load((tmp_path / "kube/config").read_text())
    assert kubeconfig["current-context"] == "datamill-laptop"
    assert [c["name"] for c in kubeconfig["contexts"]] == ["datamill-laptop"]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert stat.S_IMODE((tmp_path / "kube/config").stat().st_mode) == 0o600

    second = run_playbook(tmp_path, LOCAL, local_inventory(), extra)
    assert second.rc == 0, second.out[-3000:]
    assert second.changed() == 0, second.out[-3000:]


def test_k3s_check_diff_shows_config_without_writing(tmp_path):
    extra = _local_extra(tmp_path)
    run = run_playbook(tmp_path, LOCAL, local_inventory(), extra, args=("--check", "--diff"))
    assert run.rc == 0, run.out[-4000:]
    assert not (tmp_path / "root/etc/rancher/k3s/config.yaml").exists()
    assert "+node-label:" in run.out and "+- datamill.io/role=all-in-one" in run.out
    assert "+disable:" in run.out
    assert "s3cr3t-token-never-printed" not in run.out


def test_k3s_airgap_checksum_mismatch_refused(tmp_path):
    extra = _local_extra(tmp_path, k8s_local_k3s_checksum="sha256:" + "0" * 64)
    run = run_playbook(tmp_path, LOCAL, local_inventory(), extra)
    assert run.rc != 0
    flat = " ".join(run.out.split())
    assert "must hold the k3s v1.36.2+k3s1 binary" in flat and "sha256:" + "0" * 64 in flat
    assert not (tmp_path / "root/usr/local/bin/k3s").exists()


def test_k3s_pinned_checksum_for_amd64():
    defaults = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/k8s_local/defaults/main.yml").read_text())
    assert defaults["k8s_local_k3s_version"] == "v1.36.2+k3s1"
    assert defaults["k8s_local_k3s_checksums"]["amd64"] == (
        "sha256:65a55ec56c24eab44383086166ec620a491952b7e23941a49ddca6e8a4c4b4de"
    )


def test_k3s_unpinned_arch_needs_checksum(tmp_path):
    extra = _local_extra(tmp_path, k8s_local_k3s_arch="s390x")
    extra.pop("k8s_local_k3s_checksum")
    run = run_playbook(tmp_path, LOCAL, local_inventory(), extra)
    assert run.rc != 0
    assert "No sha256 is pinned for k3s v1.36.2+k3s1 on s390x" in " ".join(run.out.split())


MULTI = """---
- name: k3s nodes
  hosts: server:agent
  gather_facts: true
  gather_subset: [min]
  roles:
    - role: datamill.platform.k3s_cluster
"""


def test_k3s_multi_ha_servers_and_agents(tmp_path):
    airgap, checksum = _airgap(tmp_path)
    (tmp_path / "sys").mkdir()
    hosts = {}
    for name in ("s1", "s2", "s3", "a1"):
        root = tmp_path / "nodes" / name
        (root / "etc/rancher/k3s").mkdir(parents=True)
        hosts[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "ansible_host": f"10.0.0.{len(hosts) + 1}",
            "k3s_cluster_root": str(root),
        }
    (tmp_path / "nodes/s1/etc/rancher/k3s/k3s.yaml").write_text(K3S_YAML)
    hosts["a1"]["k3s_cluster_node_labels"] = {"datamill.io/pool": "gpu"}
    inventory = {
        "all": {
            "children": {
                "server": {"hosts": {h: hosts[h] for h in ("s1", "s2", "s3")}},
                "agent": {"hosts": {"a1": hosts["a1"]}},
            }
        }
    }
    extra = {
        "datamill_cluster_type": "k3s_multi",
        "datamill_cluster_name": "metal",
        "datamill_kubeconfig": str(tmp_path / "kube/config"),
        "k3s_cluster_ha": True,
        "k3s_cluster_api_endpoint": "10.0.0.100",
        "k3s_cluster_token": "join-token-0123456789abcdef",
        "k3s_cluster_airgap_dir": str(airgap),
        "k8s_local_k3s_checksum": checksum,
        "k8s_local_sysfs_root": str(tmp_path / "sys"),
        "k3s_cluster_server_config": {"secrets-encryption": True},
    }
    run = run_playbook(tmp_path, MULTI, inventory, extra)
    assert run.rc == 0, run.out[-5000:]
    assert "join-token-0123456789abcdef" not in run.out

    def cfg(host, name="config.yaml"):
        return yaml.safe_load((tmp_path / "nodes" / host / "etc/rancher/k3s" / name).read_text())

    first = cfg("s1")
    assert first["cluster-init"] is True and first["tls-san"] == ["10.0.0.100"] and first["secrets-encryption"] is True
    assert "server" not in first
    for other in ("s2", "s3"):
        joined = cfg(other)
        assert joined["server"] == "https://10.0.0.1:6443" and "cluster-init" not in joined
    agent = cfg("a1")
    assert agent["server"] == "https://10.0.0.100:6443"
    assert agent["node-label"] == ["datamill.io/pool=gpu"]
    assert "write-kubeconfig-mode" not in agent
    for host in ("s1", "s2", "s3", "a1"):
        assert cfg(host, "config.yaml.d/90-datamill-secret.yaml") == {"token": "join-token-0123456789abcdef"}
    assert (
        "ExecStart=/usr/local/bin/k3s agent" in (tmp_path / "nodes/a1/etc/systemd/system/k3s-agent.service").read_text()
    )
    kubeconfig = yaml.safe_load((tmp_path / "kube/config").read_text())
    assert kubeconfig["current-context"] == "datamill-metal"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://10.0.0.100:6443"

    again = run_playbook(tmp_path, MULTI, inventory, extra)
    assert again.rc == 0 and again.changed() == 0, again.out[-3000:]
