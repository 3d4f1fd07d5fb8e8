"""kops_cluster and gke_cluster against fake kops/aws/gcloud CLIs.

The fakes log every argv and keep state (bucket, versioning, cluster, pending changes) in a directory, so the
tests check the rendered specs, the exact commands, and that a second run changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from cluster_roles_support import fake_cli, local_inventory, read_log, run_playbook

KUBECONFIG_TEXT = (
    "apiVersion: v1\\nkind: Config\\nclusters:\\n- name: c\\n  cluster: {server: 'https://api.example:443'}\\n"
    "users:\\n- name: u\\n  user: {token: abc}\\ncontexts:\\n- name: x\\n  context: {cluster: c, user: u}\\n"
    "current-context: x\\n"
)

KOPS = f"""
def opt(prefix):
    return next((a.split("=", 1)[1] for a in args if a.startswith(prefix)), None)
cmd = args[:2]
if args[:1] == ["version"]:
    print("1.36.2 (git-v1.36.2)")
elif cmd == ["get", "cluster"]:
    if not has("cluster"):
        sys.stderr.write("cluster not found\\n"); sys.exit(1)
    print(open(os.path.join(state, "cluster")).read())
elif cmd[0] in ("create", "replace") and cmd[1] == "-f":
    put("cluster", open(args[2]).read()); put("pending")
    if cmd[0] == "replace":
        put("replaced")
elif cmd == ["create", "sshpublickey"]:
    put("sshkey")
elif cmd == ["update", "cluster"]:
    if "--yes" in args:
        if has("pending"):
            os.remove(os.path.join(state, "pending"))
        if has("replaced"):
            os.remove(os.path.join(state, "replaced"))
            put("roll")
        print("Cluster changes have been applied to the cloud.")
    elif has("pending"):
        print("Will create resources:\\n  AutoscalingGroup/nodes\\n\\nMust specify --yes to apply changes")
    else:
        print("No changes need to be applied")
elif cmd == ["rolling-update", "cluster"]:
    if "--yes" in args:
        os.remove(os.path.join(state, "roll"))
    elif has("roll"):
        print("NAME  STATUS  NEEDUPDATE\\nnodes NeedsUpdate 2\\n\\nMust specify --yes to rolling-update.")
    else:
        print("No rolling-update required.")
elif cmd == ["export", "kubecfg"]:
    open(opt("--kubeconfig="), "w").write("{KUBECONFIG_TEXT}")
elif cmd == ["validate", "cluster"]:
    print("Your cluster is ready")
elif cmd == ["delete", "cluster"]:
    os.remove(os.path.join(state, "cluster"))
else:
    sys.stderr.write("unexpected kops call\\n"); sys.exit(2)
"""

AWS = """
cmd = args[:2]
if cmd == ["sts", "get-caller-identity"]:
    print('{"Account": "123456789012"}')
elif cmd == ["s3api", "head-bucket"]:
    sys.exit(0 if has("bucket") else 254)
elif cmd == ["s3api", "create-bucket"]:
    put("bucket")
elif cmd == ["s3api", "put-public-access-block"]:
    put("public-block")
elif cmd == ["s3api", "get-bucket-versioning"]:
    print('{"Status": "Enabled"}' if has("versioning") else "")
elif cmd == ["s3api", "put-bucket-versioning"]:
    put("versioning")
else:
    sys.stderr.write("unexpected aws call\\n"); sys.exit(2)
"""

GCLOUD = f"""
import json
def opt(prefix):
    return next((a.split("=", 1)[1] for a in args if a.startswith(prefix)), None)
cmd = args[:3]
if args[:2] == ["auth", "list"]:
    print("ops@example.com")
elif cmd == ["storage", "buckets", "describe"]:
    if not has("bucket"):
        sys.stderr.write("ERROR: not found\\n"); sys.exit(1)
    print(json.dumps({{"name": "b", "versioning_enabled": has("versioning")}}))
elif cmd == ["storage", "buckets", "create"]:
    put("bucket")
elif cmd == ["storage", "buckets", "update"]:
    put("versioning")
elif cmd == ["container", "clusters", "describe"]:
    if not has("gke"):
        sys.stderr.write("ERROR: (gcloud.container.clusters.describe) ResponseError: code=404, message=Not found\\n")
        sys.exit(1)
    print(json.dumps({{"name": args[3], "status": "RUNNING"}}))
elif cmd == ["container", "clusters", "create"]:
    put("gke")
elif cmd == ["container", "node-pools", "describe"]:
    if not has("pool"):
        sys.stderr.write("ERROR: Not found\\n"); sys.exit(1)
    print(json.dumps({{"name": args[3], "config": {{"machineType": open(os.path.join(state, "pool")).read()}}}}))
elif cmd == ["container", "node-pools", "create"]:
    put("pool", opt("--machine-type="))
elif cmd == ["container", "clusters", "get-credentials"]:
    open(os.environ["KUBECONFIG"], "w").write("{KUBECONFIG_TEXT}")
elif cmd == ["container", "clusters", "delete"]:
    os.remove(os.path.join(state, "gke"))
else:
    sys.stderr.write("unexpected gcloud call\\n"); sys.exit(2)
"""

ROLE = """---
- name: Cloud cluster
  hosts: localhost
  gather_facts: false
  roles:
    - role: datamill.platform.{role}
"""


def _fakes(tmp_path: Path) -> tuple[dict, Path]:
    bindir, state, log = tmp_path / "bin", tmp_path / "state", tmp_path / "calls.log"
    state.mkdir()
    for name, body in (("kops", KOPS), ("aws", AWS), ("gcloud", GCLOUD)):
        fake_cli(bindir, name, body)
    env = {"FAKE_STATE": str(state), "FAKE_LOG": str(log), "PATH": f"{bindir}:/usr/bin:/bin"}
    return env, log


def _calls(log: Path, tool: str) -> list[str]:
    return [" ".join(c[1:]) for c in read_log(log) if c[0] == tool]


def _kops_extra(tmp_path: Path, **more) -> dict:
    extra = {
        "datamill_cluster_type": "kops",
        "datamill_cluster_name": "aws",
        "datamill_kubeconfig": str(tmp_path / "kube/config"),
        "kops_cluster_state_store": "s3://datamill-state",
        "kops_cluster_zones": ["eu-west-1a", "eu-west-1b"],
        "kops_cluster_gpu_count": 2,
        "kops_cluster_gpu_machine_type": "g6.xlarge",
        "kops_cluster_work_dir": str(tmp_path / "work"),
    }
    extra.update(more)
    return extra


def test_kops_aws_create_then_noop(tmp_path):
    env, log = _fakes(tmp_path)
    extra = _kops_extra(tmp_path)
    run = run_playbook(tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), extra, env=env)
    assert run.rc == 0, run.out[-5000:]

    docs = list(yaml.safe_load_all((tmp_path / "work/cluster.yaml").read_text()))
    cluster, groups = docs[0], {d["metadata"]["name"]: d for d in docs[1:]}
    assert cluster["kind"] == "Cluster" and cluster["metadata"]["name"] == "aws.k8s.local"
    spec = cluster["spec"]
    assert spec["cloudProvider"] == "aws"
    assert spec["configBase"] == "s3://datamill-state/aws.k8s.local"
    assert spec["kubernetesVersion"] == "1.36.2"
    assert spec["networking"] == {"cilium": {}}
    assert [s["zone"] for s in spec["subnets"]] == ["eu-west-1a", "eu-west-1b"]
    assert [s["cidr"] for s in spec["subnets"]] == ["172.20.32.0/19", "172.20.64.0/19"]
    assert spec["etcdClusters"][0]["etcdMembers"] == [{"name": "a", "instanceGroup": "control-plane-eu-west-1a"}]
    assert set(groups) == {"control-plane-eu-west-1a", "nodes", "gpu-nodes"}
    assert groups["control-plane-eu-west-1a"]["spec"]["role"] == "ControlPlane"
    gpu = groups["gpu-nodes"]["spec"]
    assert gpu["containerd"] == {"nvidiaGPU": {"enabled": True}}
    assert gpu["machineType"] == "g6.xlarge" and gpu["minSize"] == gpu["maxSize"] == 2
    assert "guestAccelerators" not in gpu
    assert "containerd" not in groups["nodes"]["spec"]

    aws = _calls(log, "aws")
    assert (
        "s3api create-bucket --bucket datamill-state --region eu-west-1 "
        "--create-bucket-configuration LocationConstraint=eu-west-1"
    ) in aws
    assert "s3api put-bucket-versioning --bucket datamill-state --versioning-configuration Status=Enabled" in aws
    kops = _calls(log, "kops")
    work = tmp_path / "work"
    assert f"create -f {work}/cluster.yaml --state=s3://datamill-state" in kops
    assert "update cluster --yes --name=aws.k8s.local --state=s3://datamill-state" in kops
    assert any(c.startswith("validate cluster --wait=15m") for c in kops)
    kubeconfig = yaml.safe_load((tmp_path / "kube/config").read_text())
    assert kubeconfig["current-context"] == "datamill-aws"

    log.unlink()
    again = run_playbook(tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), extra, env=env)
    assert again.rc == 0, again.out[-4000:]
    assert again.changed() == 0, again.out[-4000:]
    kops = _calls(log, "kops")
    assert not any(
        c.startswith(("create", "replace", "update cluster --yes", "rolling-update cluster --yes")) for c in kops
    )
    assert not any("create-bucket" in c or "put-bucket-versioning" in c for c in _calls(log, "aws"))


def test_kops_spec_change_replaces_updates_and_rolls(tmp_path):
    env, log = _fakes(tmp_path)
    extra = _kops_extra(tmp_path)
    assert run_playbook(tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), extra, env=env).rc == 0
    log.unlink()
    (tmp_path / "state/roll").unlink(missing_ok=True)
    bigger = _kops_extra(tmp_path, kops_cluster_gpu_count=3)
    run = run_playbook(tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), bigger, args=("--diff",), env=env)
    assert run.rc == 0, run.out[-4000:]
    kops = _calls(log, "kops")
    assert any(c.startswith("replace -f") for c in kops)
    assert any(c.startswith("update cluster --yes") for c in kops)
    assert any(c.startswith("rolling-update cluster --yes") for c in kops)
    assert "-  maxSize: 2" in run.out or "maxSize: 3" in run.out


def test_kops_check_mode_renders_without_calling_mutating_commands(tmp_path):
    env, log = _fakes(tmp_path)
    run = run_playbook(
        tmp_path,
        ROLE.format(role="kops_cluster"),
        local_inventory(),
        _kops_extra(tmp_path),
        args=("--check", "--diff"),
        env=env,
    )
    assert run.rc == 0, run.out[-4000:]
    assert "nvidiaGPU" in run.out
    mutating = ("create", "replace", "update cluster --yes", "delete")
    assert not any(c.startswith(mutating) for c in _calls(log, "kops"))
    assert not any("create-bucket" in c for c in _calls(log, "aws"))


def test_kops_gce_gpu_group_and_gcs_store(tmp_path):
    env, log = _fakes(tmp_path)
    extra = _kops_extra(
        tmp_path,
        kops_cluster_cloud="gce",
        kops_cluster_gce_project="datamill-project",
        kops_cluster_state_store="gs://datamill-state",
        kops_cluster_zones=["europe-west4-a"],
        kops_cluster_gpu_count=1,
        kops_cluster_gpu_machine_type="n1-standard-8",
        kops_cluster_gpu_accelerator_type="nvidia-tesla-t4",
    )
    run = run_playbook(tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), extra, env=env)
    assert run.rc == 0, run.out[-5000:]
    docs = list(yaml.safe_load_all((tmp_path / "work/cluster.yaml").read_text()))
    spec = docs[0]["spec"]
    assert spec["cloudProvider"] == "gce" and spec["project"] == "datamill-project"
    assert spec["subnets"] == [{"name": "europe-west4", "region": "europe-west4", "type": "Public"}]
    gpu = next(d for d in docs if d["metadata"]["name"] == "gpu-nodes")["spec"]
    assert gpu["guestAccelerators"] == [{"acceleratorType": "nvidia-tesla-t4", "acceleratorCount": 1}]
    assert gpu["containerd"]["nvidiaGPU"]["enabled"] is True
    assert gpu["zones"] == ["europe-west4-a"] and gpu["subnets"] == ["europe-west4"]
    gcloud = _calls(log, "gcloud")
    assert any(
        c.startswith("storage buckets create gs://datamill-state --project=datamill-project --location=europe-west4 ")
        for c in gcloud
    )
    assert "storage buckets update gs://datamill-state --versioning" in gcloud


def test_kops_delete(tmp_path):
    env, log = _fakes(tmp_path)
    extra = _kops_extra(tmp_path)
    assert run_playbook(tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), extra, env=env).rc == 0
    run = run_playbook(
        tmp_path, ROLE.format(role="kops_cluster"), local_inventory(), dict(extra, kops_cluster_state="absent"), env=env
    )
    assert run.rc == 0, run.out[-3000:]
    assert "delete cluster --yes --name=aws.k8s.local --state=s3://datamill-state" in _calls(log, "kops")
    assert not (tmp_path / "state/cluster").exists()


def _gke_extra(tmp_path: Path, **more) -> dict:
    extra = {
        "datamill_cluster_type": "gke",
        "datamill_cluster_name": "gke",
        "datamill_kubeconfig": str(tmp_path / "kube/config"),
        "gke_cluster_project": "datamill-project",
        "gke_cluster_location": "europe-west4",
        "gke_cluster_gpu_count": 1,
        "gke_cluster_gpu_machine_type": "g2-standard-4",
        "gke_cluster_gpu_accelerator_type": "nvidia-l4",
        "gke_cluster_gpu_sharing_strategy": "time-sharing",
        "gke_cluster_work_dir": str(tmp_path / "work"),
    }
    extra.update(more)
    return extra


def test_gke_cluster_and_gpu_pool(tmp_path):
    env, log = _fakes(tmp_path)
    extra = _gke_extra(tmp_path)
    run = run_playbook(tmp_path, ROLE.format(role="gke_cluster"), local_inventory(), extra, env=env)
    assert run.rc == 0, run.out[-5000:]
    gcloud = _calls(log, "gcloud")
    create = next(c for c in gcloud if c.startswith("container clusters create"))
    assert create.startswith("container clusters create gke --project=datamill-project --location=europe-west4")
    assert "--release-channel=regular" in create and "--workload-pool=datamill-project.svc.id.goog" in create
    pool = next(c for c in gcloud if c.startswith("container node-pools create"))
    assert pool == (
        "container node-pools create gpu-pool --cluster=gke --project=datamill-project --location=europe-west4 "
        "--machine-type=g2-standard-4 --num-nodes=1 "
        "--accelerator=type=nvidia-l4,count=1,gpu-driver-version=latest,gpu-sharing-strategy=time-sharing,"
        "max-shared-clients-per-gpu=2 --quiet"
    )
    assert yaml.safe_load((tmp_path / "kube/config").read_text())["current-context"] == "datamill-gke"

    log.unlink()
    again = run_playbook(tmp_path, ROLE.format(role="gke_cluster"), local_inventory(), extra, env=env)
    assert again.rc == 0 and again.changed() == 0, again.out[-3000:]
    assert not any(
        c.startswith(("container clusters create", "container node-pools create")) for c in _calls(log, "gcloud")
    )


def test_gke_check_mode_prints_the_commands(tmp_path):
    env, log = _fakes(tmp_path)
    run = run_playbook(
        tmp_path, ROLE.format(role="gke_cluster"), local_inventory(), _gke_extra(tmp_path), args=("--check",), env=env
    )
    assert run.rc == 0, run.out[-3000:]
    flat = " ".join(run.out.split())
    assert "gcloud container clusters create gke --project=datamill-project" in flat
    assert not any(c.startswith("container clusters create") for c in _calls(log, "gcloud"))
