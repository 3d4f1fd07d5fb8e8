"""Test-only: make every write of the Kubernetes dynamic client use ``fieldValidation=Strict``.

kubernetes.core has no option for the API server's field validation, and the server default (Warn) silently
drops unknown fields, so a custom resource with a misspelt field would still "apply". The layer tests put this
directory on PYTHONPATH for ``ansible-playbook``: Python imports this file at start-up in every module process,
and the first import of ``kubernetes.dynamic.client`` gets ``DynamicClient.request`` wrapped so that POST, PUT
and PATCH requests carry ``fieldValidation=Strict``; the server then rejects unknown or duplicate fields.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_TARGET = "kubernetes.dynamic.client"


def _patch(module):
    original = module.DynamicClient.request
    if getattr(original, "_datamill_strict", False):
        return

    def request(self, method, path, body=None, **params):
        if str(method).lower() in ("post", "put", "patch"):
            query = list(params.get("query_params") or [])
            if not any(pair[0] == "fieldValidation" for pair in query):
                query.append(("fieldValidation", "Strict"))
            params["query_params"] = query
        return original(self, method, path, body=body, **params)

    request._datamill_strict = True
    module.DynamicClient.request = request


class _StrictHook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


if _TARGET in sys.modules:
    _patch(sys.modules[_TARGET])
else:
    sys.meta_path.insert(0, _StrictHook())
