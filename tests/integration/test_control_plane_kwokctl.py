"""kwokctl's binary runtime works offline with our binaries (the documented alternative to the harness)."""

from __future__ import annotations

import os
import subprocess
import time

import datamill_testcluster as tc
import pytest

pytestmark = pytest.mark.integration


def test_kwokctl_binary_runtime_with_local_binaries(tmp_path):
    if os.environ.get("DATAMILL_SKIP_INTEGRATION") == "1":
        pytest.skip("DATAMILL_SKIP_INTEGRATION=1")
    try:
        bins = tc.require_binaries()
    except tc.MissingBinariesError as exc:
        pytest.fail(str(exc), pytrace=False)
    if not os.access(bins / "kwokctl", os.X_OK):
        pytest.skip(f"no kwokctl in {bins} (prebuilt binaries without it)")
    env = {**os.environ, "KWOK_WORKDIR": str(tmp_path / "kwok")}
    name = f"dm{os.getpid()}"
    kwokctl = str(bins / "kwokctl")
    create = [
        kwokctl, "create", "cluster", f"--name={name}", "--runtime=binary", "--secure-port=true", "--quiet-pull",
        f"--etcd-binary={bins / 'etcd'}",
        f"--kube-apiserver-binary={bins / 'kube-apiserver'}",
        f"--kube-controller-manager-binary={bins / 'kube-controller-manager'}",
        f"--kube-scheduler-binary={bins / 'kube-scheduler'}",
        f"--kwok-controller-binary={bins / 'kwok'}",
        "--wait=0s",
    ]  # fmt: skip
    try:
        result = subprocess.run(create, env=env, capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
        kubeconfig = tmp_path / "kwok" / "clusters" / name / "kubeconfig.yaml"
        api = tc.Api.from_kubeconfig(kubeconfig)  # client-certificate user
        deadline = time.monotonic() + 60
        while True:
            try:
                if api.request("GET", "/readyz")[0] == 200:
                    break
            except (tc.ClusterError, OSError):
                pass
            assert time.monotonic() < deadline, "kwokctl cluster not ready in 60 s"
            time.sleep(0.5)
        assert api.get("/version")["gitVersion"] == "v1.36.3"
        assert "download" not in (result.stdout + result.stderr).lower()
    finally:
        subprocess.run(
            [kwokctl, "delete", "cluster", f"--name={name}"], env=env, capture_output=True, timeout=120, check=False
        )
