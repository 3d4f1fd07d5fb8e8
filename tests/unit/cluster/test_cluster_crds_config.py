"""CRD loading (PyYAML '=' caveat, multi-doc files), kubeconfig shape, API paths."""

from __future__ import annotations

import base64

import datamill_testcluster as tc
import pytest

CRDS = tc.shared_crds_dir()
needs_crds = pytest.mark.skipif(not CRDS.is_dir(), reason=f"{CRDS} not present")


def test_equals_sign_is_a_string(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("---\nenum:\n  - =\n  - '!='\n---\n---\nb: 1\n")
    assert tc.load_yaml_documents(path) == [{"enum": ["=", "!="]}, {"b": 1}]


@needs_crds
def test_prometheus_alertmanagerconfig_loads():
    names = [d["metadata"]["name"] for d in tc.crd_documents("prometheus-operator-0.93.1")]
    assert "alertmanagerconfigs.monitoring.coreos.com" in names


@needs_crds
def test_multi_document_files_yield_every_crd():
    assert len(tc.crd_documents("eck-3.5.0")) == 12
    assert len(tc.crd_documents("node-feature-discovery-0.19.0")) == 4


def test_missing_crd_folder(tmp_path):
    with pytest.raises(tc.ClusterError, match="not found"):
        tc.crd_documents("nope", crds_root=tmp_path)


def test_kubeconfig_document():
    doc = tc.kubeconfig_document("https://127.0.0.1:1234", b"PEM", "tok")
    assert doc["current-context"] == "datamill-sim"
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:1234"
    assert base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]) == b"PEM"
    assert doc["users"][0]["user"]["token"] == "tok"


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("v1", "pods", "ns", "p"), "/api/v1/namespaces/ns/pods/p"),
        (("v1", "nodes", None, "n"), "/api/v1/nodes/n"),
        (("kafka.strimzi.io/v1", "kafkatopics", "ns", None), "/apis/kafka.strimzi.io/v1/namespaces/ns/kafkatopics"),
    ],
)
def test_api_path(args, path):
    assert tc.api_path(*args) == path


def test_stages_file_parses():
    (docs,) = tc.load_yaml_documents(tc.STAGES_FILE)  # one document: a list of objects
    stages = [d for d in docs if d["kind"] == "Stage"]
    names = {d["metadata"]["name"] for d in stages}
    assert {d["kind"] for d in docs} == {"Stage", "KwokConfiguration"}
    assert {
        "datamill-node-ready",
        "datamill-pod-ready",
        "datamill-pod-crashloop",
        "datamill-pod-imagepull",
        "datamill-pod-never-ready",
        "datamill-pod-delete",
    } <= names


def test_pki_generation(tmp_path):
    tc.generate_pki(tmp_path)
    for name in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub"):
        assert (tmp_path / name).stat().st_size > 0
    assert oct((tmp_path / "sa.key").stat().st_mode & 0o777) == "0o600"


def test_api_from_kubeconfig_token_and_ca(tmp_path):
    import yaml

    tc.generate_pki(tmp_path)
    doc = tc.kubeconfig_document("https://127.0.0.1:6443", (tmp_path / "ca.crt").read_bytes(), "secret-token")
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    api = tc.Api.from_kubeconfig(path)
    assert (api.host, api.port, api.token, api.server) == ("127.0.0.1", 6443, "secret-token", "https://127.0.0.1:6443")
    assert api.context.verify_mode.name == "CERT_REQUIRED"
    doc["contexts"][0]["context"]["cluster"] = "missing"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(tc.ClusterError, match="no cluster named 'missing'"):
        tc.Api.from_kubeconfig(path)
