"""site.yml end to end against the test control plane in rehearsal (inventories/sim).

validate -> existing cluster -> gpu_stack -> layers -> status. No operator runs in the test cluster: the
upstream CRDs come from ../shared/crds and ``SimulatedOperators`` marks the custom resources ready.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.ansible_run import recap
from helpers.ansible_run import run_sim_playbook as run
from helpers.sim_operators import SimulatedOperators

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_site_cluster_gpu_status_rehearsal(cluster):
    """The cluster/GPU/status part of the site: runs, reports, and a second run changes nothing."""
    rc, out = run(cluster, "site.yml", "--tags", "cluster,gpu")
    assert rc == 0, out[-5000:]
    flat = " ".join(out.split())
    assert "Inventory OK: target existing" in flat
    assert "Using existing cluster datamill-sim" in flat
    assert re.search(r"GPU: (none|operator|device_plugin) - ", flat), out[-3000:]
    assert "TASK [Show endpoints and where credentials live]" in out
    rc2, out2 = run(cluster, "site.yml", "--tags", "cluster,gpu")
    assert rc2 == 0, out2[-3000:]
    assert recap(out2)["changed"] == 0, out2[-3000:]


def test_site_full_rehearsal_then_idempotent(cluster):
    """validate -> cluster -> GPU -> layers -> status, then a second run with changed=0."""
    from kubernetes import config

    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    with SimulatedOperators(api_client):
        rc, out = run(cluster, "site.yml")
        assert rc == 0, out[-6000:]
        assert "REHEARSAL" in out
        rc2, out2 = run(cluster, "site.yml")
    assert rc2 == 0, out2[-6000:]
    assert recap(out2)["changed"] == 0, out2[-6000:]


def test_site_refuses_bad_target_before_any_change(cluster):
    rc, out = run(cluster, "site.yml", "-e", "datamill_cluster_type=openshift")
    assert rc != 0
    assert "datamill_cluster_type=openshift is not a known target" in " ".join(out.split())
    assert recap(out)["changed"] == 0
    assert "PLAY [Cloud or existing cluster]" not in out


def test_teardown_rehearsal_keeps_claims_and_cluster(cluster):
    """Teardown in rehearsal: releases recorded in reverse waves, namespaces (and their claims) kept."""
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    before = {ns.metadata.name for ns in core.list_namespace().items}
    rc, out = run(cluster, "playbooks/teardown.yml")
    assert rc == 0, out[-5000:]
    flat = " ".join(out.split())
    uninstalls = re.findall(r"REHEARSAL: would uninstall release (\S+)", flat)
    assert uninstalls, out[-3000:]
    # last wave first: lakefs depends on seaweedfs and postgres, so it goes before them
    if "lakefs" in uninstalls and "seaweedfs" in uninstalls:
        assert uninstalls.index("lakefs") < uninstalls.index("seaweedfs")
    after = {ns.metadata.name for ns in core.list_namespace().items}
    assert before <= after, before - after
    assert "PLAY [Remove the cloud cluster (purge only)]" in out
