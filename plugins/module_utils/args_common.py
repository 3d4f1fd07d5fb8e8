# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by datamill modules that talk to Kubernetes (documented in doc fragment kube_auth)."""

from __future__ import annotations

AUTH_ARG_SPEC = {
    "kubeconfig": {"type": "raw"},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False},
    "proxy": {"type": "str"},
    "request_timeout": {"type": "float", "default": 30.0},
}

AUTH_PARAM_NAMES = tuple(AUTH_ARG_SPEC)


def auth_spec(**extra):
    """Return a fresh argument spec with the auth options plus ``extra``."""
    spec = {key: dict(val) for key, val in AUTH_ARG_SPEC.items()}
    spec.update(extra)
    return spec


def auth_params(params):
    return {key: params.get(key) for key in AUTH_PARAM_NAMES}
