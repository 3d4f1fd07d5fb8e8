# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options for connecting to the Kubernetes API (mirrors kubernetes.core's k8s_auth_options)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig content as a dictionary.
      - When neither O(kubeconfig) nor O(host) is given, C($KUBECONFIG), C(~/.kube/config) and then the
        in-cluster service account are tried.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - Name of a context in the kubeconfig. Defaults to the kubeconfig's current context.
      - Can also be set with E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, for example C(https://127.0.0.1:6443). Overrides the kubeconfig's server.
      - Can also be set with E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for the API. Can also be set with E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Can also be set with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to the CA bundle that signed the API server's certificate. Can also be set with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for mutual TLS. Can also be set with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert). Can also be set with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  proxy:
    description:
      - URL of an HTTP proxy for API requests. Can also be set with E(K8S_AUTH_PROXY).
    type: str
  request_timeout:
    description:
      - Seconds to wait for one API response (LIST pages get at least 60 seconds).
    type: float
    default: 30.0
requirements:
  - kubernetes >= 24.2.0 (Python client, used for kubeconfig and authentication)
"""
