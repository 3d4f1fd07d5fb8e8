"""Fixtures for integration tests against the real test control plane (tools/cluster, docs/test-cluster.md).

The cluster is upstream etcd + kube-apiserver + kube-controller-manager + kube-scheduler with kwok simulating
the nodes and the pod lifecycle. Build the binaries once with ``make cluster-bins``.

Fixtures
--------
``kube_cluster`` (session)
    Starts one cluster per pytest session on free loopback ports in a temporary directory (stopped at the
    end; its processes also die with pytest), or attaches to a running one when ``DATAMILL_TEST_KUBECONFIG``
    names its kubeconfig (e.g. ``.sim/kubeconfig`` after ``make cluster-up``). The object has:

    - ``.kubeconfig`` (``Path``) and ``.server`` (``https://127.0.0.1:<port>``);
    - ``.api_client()`` -> a new ``kubernetes.client.ApiClient`` for that kubeconfig;
    - ``.apply_fleet(name_or_path)`` -> node names; fleets are ``tests/fleets/<name>.yaml`` (node names are
      ``<fleet>-<group>-<i>``; kwok makes them Ready, see ``.wait_nodes_ready(names)``);
    - ``.install_crds(folder)`` -> CRD names; ``folder`` is a name under ``../shared/crds`` (for example
      ``"strimzi-1.2.0"``) or a path; returns once every CRD is Established;
    - ``.set_status(api_version, kind, namespace, name, status)`` -> merge-patches the status subresource
      (play the operator: ``{"conditions": [{"type": "Ready", "status": "True"}]}``); ``namespace`` is
      ignored for cluster-scoped kinds;
    - ``.delete_nodes(names)``; ``.harness`` is the underlying ``datamill_testcluster.Cluster``.

``cluster`` (module)
    ``kube_cluster`` prepared the way ``inventories/sim`` expects: the storage + ingestion CRDs installed and the
    ``default`` fleet Ready.

``k8s_namespace`` (function)
    A fresh namespace name per test, deleted afterwards (without waiting).

Pod behaviour on kwok nodes: pods become Running/Ready; the annotation ``datamill.test/stage`` selects
``crashloop`` (CrashLoopBackOff), ``imagepull`` (ImagePullBackOff), ``never-ready`` (running, never Ready)
or ``fail`` (phase Failed). A node annotated ``datamill.test/node-stage: not-ready`` is kept NotReady.

Missing binaries make every test using ``kube_cluster`` fail with one message naming ``make cluster-bins``;
``DATAMILL_SKIP_INTEGRATION=1`` turns that into a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / "tools" / "cluster"
# The harness, and tests/integration/helpers (imported by the tests as `helpers.*`).
for _path in (TOOLS, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import datamill_testcluster as tc  # noqa: E402

SKIP_ENV = "DATAMILL_SKIP_INTEGRATION"
KUBECONFIG_ENV = "DATAMILL_TEST_KUBECONFIG"
TMP_PREFIX = "datamill-cluster-"


class KubeCluster:
    """What ``kube_cluster`` yields: a small, stable facade over ``datamill_testcluster.Cluster``."""

    def __init__(self, harness: tc.Cluster):
        self.harness = harness
        self.kubeconfig: Path = harness.kubeconfig
        self.server: str = harness.server

    def api_client(self) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def apply_fleet(self, name_or_path: str | Path) -> list[str]:
        return self.harness.apply_fleet(name_or_path)

    def wait_nodes_ready(self, names: list[str], timeout: float = 120.0) -> None:
        self.harness.wait_nodes_ready(names, timeout=timeout)

    def delete_nodes(self, names: list[str]) -> None:
        self.harness.delete_nodes(names)

    def install_crds(self, folder: str | Path) -> list[str]:
        return self.harness.install_crds(folder)

    def set_status(
        self, api_version: str, kind: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        return self.harness.set_status(api_version, kind, namespace, name, status)


def _clean_orphans(tmp_root: Path) -> None:
    """Stop and delete clusters left by crashed sessions (owner pid dead); only pids that pass the cmdline check."""
    for state in tmp_root.glob(f"{TMP_PREFIX}*"):
        owner = tc.read_pid_file(state / "owner.pid")
        if owner and tc.read_cmdline(owner) is not None:
            continue  # another live session (maybe another helper's pytest) owns it
        try:
            if owner is None and time.time() - state.stat().st_mtime < 120:
                continue  # just created by a session that has not written owner.pid yet
        except FileNotFoundError:
            continue
        tc.stop_from_pid_files(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: integration tests against the test control plane are skipped")
    external = os.environ.get(KUBECONFIG_ENV, "").strip()
    if external:
        harness = tc.Cluster.attach(external)
        try:
            harness.up()
        except tc.ClusterError as exc:
            pytest.fail(f"{KUBECONFIG_ENV}={external}: {exc}", pytrace=False)
        yield KubeCluster(harness)
        return
    try:
        tc.require_binaries()
    except tc.MissingBinariesError as exc:
        pytest.fail(f"{exc} (set {SKIP_ENV}=1 to skip integration tests)", pytrace=False)
    tmp_root = Path(tempfile.gettempdir())
    _clean_orphans(tmp_root)
    state = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=tmp_root))
    tc.write_pid_file(state / "owner.pid", os.getpid())
    harness = tc.Cluster(state, tie_to_parent=True)
    try:
        harness.up()
    except tc.ClusterError as exc:
        harness.down()
        pytest.fail(f"test cluster did not start (state kept in {state}): {exc}", pytrace=False)
    try:
        yield KubeCluster(harness)
    finally:
        harness.down()
        shutil.rmtree(state, ignore_errors=True)


# What inventories/sim expects of the cluster: the storage + ingestion CRDs and the default fleet.
SIM_CRDS = ["strimzi-1.2.0", "cloudnative-pg-1.30.0", "rabbitmq-cluster-operator-2.22.3", "apicurio-registry-operator"]


@pytest.fixture(scope="module")
def cluster(kube_cluster: KubeCluster) -> KubeCluster:
    """The session cluster prepared for the site/layers in rehearsal (CRDs installed, default fleet Ready)."""
    for folder in SIM_CRDS:
        kube_cluster.install_crds(folder)
    nodes = kube_cluster.apply_fleet("default")
    kube_cluster.wait_nodes_ready(nodes)
    return kube_cluster


@pytest.fixture
def k8s_namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-") or "test"
    name = f"t-{base}-{secrets.token_hex(3)}"
    api = kube_cluster.harness.api
    api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name, "labels": {"datamill.test": "1"}}})
    try:
        yield name
    finally:
        with contextlib.suppress(tc.ClusterError):
            api.request("DELETE", f"/api/v1/namespaces/{name}", ok=(200, 202, 404))
