"""kube.py configuration and argument handling (no API server needed)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.datamill.platform.plugins.module_utils import kube
from ansible_collections.datamill.platform.plugins.module_utils.args_common import AUTH_ARG_SPEC, auth_params
from ansible_collections.datamill.platform.plugins.modules import component_ready


def kubeconfig(tmp_path, server="https://127.0.0.1:6443", token="s3cret", context="dev"):
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "current-context": context,
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kubeconfig_token_and_context(tmp_path):
    cfg = kube.build_configuration({"kubeconfig": str(kubeconfig(tmp_path)), "context": "dev"})
    client = kube.Client(cfg)
    assert client.base == "https://127.0.0.1:6443"
    assert client._headers()["Authorization"] == "Bearer s3cret"


def test_explicit_host_and_api_key_override(tmp_path, monkeypatch):
    monkeypatch.delenv("K8S_AUTH_KUBECONFIG", raising=False)
    cfg = kube.build_configuration({"host": "https://10.0.0.1:6443", "api_key": "abc", "validate_certs": False})
    client = kube.Client(cfg)
    assert client.base == "https://10.0.0.1:6443"
    assert client._headers()["Authorization"] == "Bearer abc"
    assert cfg.verify_ssl is False


def test_env_fallbacks(tmp_path, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", str(kubeconfig(tmp_path, token="from-env")))
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "no")
    cfg = kube.build_configuration({})
    assert kube.Client(cfg)._headers()["Authorization"] == "Bearer from-env"
    assert cfg.verify_ssl is False


def test_missing_kubeconfig_is_a_clear_error(tmp_path):
    with pytest.raises(kube.KubeError, match=r"kubeconfig .*nope does not exist"):
        kube.build_configuration({"kubeconfig": str(tmp_path / "nope")})
    with pytest.raises(kube.KubeError, match="cannot load Kubernetes configuration"):
        kube.build_configuration({"kubeconfig": str(kubeconfig(tmp_path)), "context": "missing"})


def test_unreachable_api_is_a_clear_error(tmp_path):
    client = kube.Client(kube.build_configuration({"host": "http://127.0.0.1:1", "api_key": "x"}), request_timeout=2)
    with pytest.raises(kube.KubeError, match=r"cannot reach the Kubernetes API at http://127\.0\.0\.1:1"):
        client.list_all("/api/v1/nodes")
    assert client.calls == 1


def test_api_error_messages():
    err = kube._api_error("GET", "/api/v1/nodes", 403, b'{"message": "nodes is forbidden", "reason": "Forbidden"}')
    assert err.status == 403 and err.reason == "Forbidden"
    assert "HTTP 403 (forbidden: check RBAC): nodes is forbidden" in err.message
    assert "HTTP 500" in kube._api_error("GET", "/x", 500, b"<html>").message


def test_collection_paths():
    assert kube.Client.collection_path("v1", "pods", "ns") == "/api/v1/namespaces/ns/pods"
    assert kube.Client.collection_path("apps/v1", "deployments") == "/apis/apps/v1/deployments"


def test_auth_spec_mirrors_kubernetes_core_names():
    for name in ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert", "client_key"):
        assert name in AUTH_ARG_SPEC
    assert AUTH_ARG_SPEC["api_key"]["no_log"] is True
    assert set(auth_params({"host": "h", "other": 1})) == set(AUTH_ARG_SPEC)


def _params(components, **kw):
    base = {"components": components, "wait_for": "ready"}
    base.update(kw)
    return base


def test_component_validation_messages():
    comps, errors = component_ready.normalize_components(
        _params(
            [
                {"name": "a", "namespace": "ns", "label_selector": "x in y", "kinds": ["Deployment"], "resources": []},
                {"name": "a", "namespace": None, "label_selector": "app=a", "kinds": ["deployment"], "resources": []},
                {"name": "b", "namespace": None, "label_selector": None, "kinds": [], "resources": []},
            ]
        )
    )
    text = "; ".join(errors)
    assert "components[0] (a): label selector 'x in y'" in text
    assert "components[1] (a): duplicate component name" in text
    assert "components[1] (a): kinds entry 'deployment' is not a Kind" in text
    assert "components[1] (a): label_selector needs namespace" in text
    assert "components[2] (b): give namespace" in text
    assert comps[0]["kinds"] == [(None, "Deployment")]


def test_component_defaults_and_overrides():
    comps, errors = component_ready.normalize_components(
        _params(
            [
                {
                    "name": "k",
                    "namespace": "s",
                    "label_selector": None,
                    "kinds": [],
                    "wait_for": "complete",
                    "resources": [{"api_version": "kafka.strimzi.io/v1", "kind": "Kafka", "name": "k"}],
                }
            ]
        )
    )
    assert errors == []
    assert comps[0]["wait_for"] == "complete"
    assert comps[0]["resources"][0]["namespace"] == "s"
