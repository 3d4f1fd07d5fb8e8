# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes API client for datamill modules: auth, paginated LIST, WATCH with resourceVersion.

Authentication and kubeconfig handling come from the ``kubernetes`` Python client (``kubernetes.config``),
so exec plugins, OIDC, client certificates and tokens behave exactly like kubernetes.core. Requests go
through urllib3 directly and return plain dicts (no model deserialization), which keeps a 5,000-node LIST
or a busy WATCH cheap. Every request is counted in ``Client.calls``.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from urllib.parse import quote, urlencode

try:
    import urllib3
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    HAS_K8S = True
    K8S_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only without the library
    HAS_K8S = False
    K8S_IMPORT_ERROR = exc

# kind -> (apiVersion, plural, namespaced) for built-ins, so common kinds cost no discovery call.
BUILTIN_KINDS = {
    "Pod": ("v1", "pods", True),
    "Service": ("v1", "services", True),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", True),
    "ConfigMap": ("v1", "configmaps", True),
    "Secret": ("v1", "secrets", True),
    "ServiceAccount": ("v1", "serviceaccounts", True),
    "Endpoints": ("v1", "endpoints", True),
    "Node": ("v1", "nodes", False),
    "Namespace": ("v1", "namespaces", False),
    "PersistentVolume": ("v1", "persistentvolumes", False),
    "Deployment": ("apps/v1", "deployments", True),
    "StatefulSet": ("apps/v1", "statefulsets", True),
    "DaemonSet": ("apps/v1", "daemonsets", True),
    "ReplicaSet": ("apps/v1", "replicasets", True),
    "Job": ("batch/v1", "jobs", True),
    "CronJob": ("batch/v1", "cronjobs", True),
    "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets", True),
    "Ingress": ("networking.k8s.io/v1", "ingresses", True),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies", True),
    "StorageClass": ("storage.k8s.io/v1", "storageclasses", False),
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "Role": ("rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers", True),
}

ENV_FALLBACKS = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "proxy": "K8S_AUTH_PROXY",
}


class KubeError(Exception):
    """An API or configuration error with a message fit for a module's ``msg``."""

    def __init__(self, message, status=None, reason=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.body = body


def _env(params, key):
    val = params.get(key)
    if val is None and ENV_FALLBACKS.get(key):
        val = os.environ.get(ENV_FALLBACKS[key])
        if val is not None and key == "validate_certs":
            val = val.lower() not in ("0", "false", "no", "off")
    return val


def build_configuration(params):
    """Turn the shared auth options (see args_common) into a ``kubernetes.client.Configuration``."""
    if not HAS_K8S:
        raise KubeError(f"the kubernetes Python library is required: {K8S_IMPORT_ERROR}")
    cfg = k8s_client.Configuration()
    kubeconfig = _env(params, "kubeconfig")
    context = _env(params, "context")
    host = _env(params, "host")
    api_key = _env(params, "api_key")
    try:
        if kubeconfig or not host:
            if isinstance(kubeconfig, dict):
                k8s_config.load_kube_config_from_dict(kubeconfig, context=context, client_configuration=cfg)
            else:
                path = os.path.expanduser(kubeconfig) if kubeconfig else None
                default = os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
                if path and not os.path.exists(path):
                    raise KubeError(f"kubeconfig {path} does not exist")
                if path or os.path.exists(default):
                    k8s_config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
                elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                    k8s_config.load_incluster_config(client_configuration=cfg)
                else:
                    raise KubeError("no Kubernetes credentials: set kubeconfig, host/api_key or run in a cluster")
    except k8s_config.ConfigException as exc:
        raise KubeError(f"cannot load Kubernetes configuration: {exc}") from exc
    if host:
        cfg.host = host
    if api_key:
        cfg.api_key = {"authorization": api_key if api_key.lower().startswith("bearer ") else f"Bearer {api_key}"}
    for opt, attr in (("ca_cert", "ssl_ca_cert"), ("client_cert", "cert_file"), ("client_key", "key_file")):
        val = _env(params, opt)
        if val:
            setattr(cfg, attr, val)
    validate = _env(params, "validate_certs")
    if validate is not None:
        cfg.verify_ssl = bool(validate)
    proxy = _env(params, "proxy")
    if proxy:
        cfg.proxy = proxy
    return cfg


class Client:
    """Plain-dict Kubernetes client. Thread-safe for concurrent requests and watches."""

    def __init__(self, configuration, request_timeout=30.0):
        self.cfg = configuration
        self.base = configuration.host.rstrip("/")
        self.request_timeout = request_timeout
        self.calls = 0
        self.calls_by_verb = {}
        self._lock = threading.Lock()
        self._discovery = {}
        kwargs = {"num_pools": 4, "maxsize": 32, "block": False}
        if self.base.startswith("https"):
            kwargs["cert_reqs"] = "CERT_REQUIRED" if configuration.verify_ssl else "CERT_NONE"
            if configuration.ssl_ca_cert:
                kwargs["ca_certs"] = configuration.ssl_ca_cert
            if configuration.cert_file:
                kwargs["cert_file"] = configuration.cert_file
            if configuration.key_file:
                kwargs["key_file"] = configuration.key_file
            if getattr(configuration, "tls_server_name", None):
                kwargs["server_hostname"] = configuration.tls_server_name
            if getattr(configuration, "assert_hostname", None) is not None:
                kwargs["assert_hostname"] = configuration.assert_hostname
        if not configuration.verify_ssl:
            urllib3.disable_warnings()
        if configuration.proxy:
            self.pool = urllib3.ProxyManager(configuration.proxy, **kwargs)
        else:
            self.pool = urllib3.PoolManager(**kwargs)

    # -- plumbing --------------------------------------------------------------------------------------------
    def _headers(self, content_type=None):
        headers = {"Accept": "application/json", "User-Agent": "datamill.platform"}
        auth = self.cfg.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            headers["Authorization"] = auth["value"]
        elif self.cfg.username and self.cfg.password:
            headers["Authorization"] = self.cfg.get_basic_auth_token()
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _count(self, verb):
        with self._lock:
            self.calls += 1
            self.calls_by_verb[verb] = self.calls_by_verb.get(verb, 0) + 1

    def url(self, path, query=None):
        if query:
            return f"{self.base}{path}?{urlencode([(k, v) for k, v in query.items() if v is not None])}"
        return f"{self.base}{path}"

    def request(self, method, path, query=None, *, body=None, content_type=None, verb=None, timeout=None):
        self._count(verb or method.lower())
        data = None if body is None else json.dumps(body).encode()
        try:
            resp = self.pool.request(
                method,
                self.url(path, query),
                body=data,
                headers=self._headers(content_type or ("application/json" if data else None)),
                timeout=urllib3.Timeout(connect=10.0, read=timeout or self.request_timeout),
                retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"cannot reach the Kubernetes API at {self.base}: {exc}", status=0) from exc
        if resp.status >= 400:
            raise _api_error(method, path, resp.status, resp.data)
        if not resp.data:
            return {}
        try:
            return json.loads(resp.data)
        except ValueError as exc:
            raise KubeError(f"{method} {path}: response is not JSON: {resp.data[:200]!r}") from exc

    def get(self, path, query=None):
        return self.request("GET", path, query, verb="get")

    def patch(self, path, body, patch_type="merge"):
        ctype = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "json": "application/json-patch+json",
        }[patch_type]
        return self.request("PATCH", path, body=body, content_type=ctype, verb="patch")

    # -- discovery -------------------------------------------------------------------------------------------
    def resource(self, api_version, kind):
        """Return ``(api_version, plural, namespaced)`` for a kind; discovery is cached per group-version."""
        builtin = BUILTIN_KINDS.get(kind)
        if builtin and (not api_version or api_version == builtin[0]):
            return builtin
        if not api_version:
            raise KubeError(f"kind {kind} is not a built-in kind: give it as apiVersion/kind (e.g. in resources)")
        if api_version not in self._discovery:
            path = f"/api/{api_version}" if api_version == "v1" else f"/apis/{api_version}"
            try:
                doc = self.request("GET", path, verb="discovery")
            except KubeError as exc:
                if exc.status == 404:
                    self._discovery[api_version] = None
                else:
                    raise
            else:
                self._discovery[api_version] = {
                    r["kind"]: (r["name"], r.get("namespaced", True))
                    for r in doc.get("resources", [])
                    if "/" not in r.get("name", "")
                }
        found = self._discovery[api_version]
        if found is None:
            raise KubeError(
                f"{api_version} is not served by the API server (is the CRD for {kind} installed?)",
                status=404,
                reason="KindNotServed",
            )
        if kind not in found:
            raise KubeError(
                f"kind {kind} is not served in {api_version} (served: {', '.join(sorted(found)) or 'none'})",
                status=404,
                reason="KindNotServed",
            )
        plural, namespaced = found[kind]
        return api_version, plural, namespaced

    def preferred_version(self, group):
        """``group`` -> its preferred ``group/version`` (None when the group is not served); cached."""
        key = f"group:{group}"
        if key not in self._discovery:
            try:
                doc = self.request("GET", f"/apis/{group}", verb="discovery")
            except KubeError as exc:
                if exc.status != 404:
                    raise
                doc = {}
            self._discovery[key] = (doc.get("preferredVersion") or {}).get("groupVersion")
        return self._discovery[key]

    @staticmethod
    def collection_path(api_version, plural, namespace=None):
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespace:
            return f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}"
        return f"{prefix}/{plural}"

    # -- list / watch ----------------------------------------------------------------------------------------
    def list_all(self, path, label_selector=None, field_selector=None, limit=500):
        """Paginated LIST: returns ``(items, resourceVersion)``; items keep kind/apiVersion filled in."""
        items = []
        token = None
        while True:
            query = {
                "limit": limit,
                "continue": token,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
            }
            try:
                doc = self.request("GET", path, query, verb="list", timeout=max(self.request_timeout, 60.0))
            except KubeError as exc:
                if exc.status == 410 and token:
                    # continue token expired mid-pagination: start over
                    items, token = [], None
                    continue
                raise
            kind = (doc.get("kind") or "").removesuffix("List")
            api_version = doc.get("apiVersion")
            for item in doc.get("items") or []:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                items.append(item)
            meta = doc.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, meta.get("resourceVersion")

    def watch_stream(self, path, resource_version, label_selector=None, field_selector=None, timeout_seconds=300):
        """Open one WATCH and yield ``(type, object)`` events as they arrive. Raise KubeError(status=410) on
        an expired resourceVersion. Returns when the server closes the stream (timeoutSeconds)."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": int(timeout_seconds),
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        self._count("watch")
        try:
            resp = self.pool.request(
                "GET",
                self.url(path, query),
                headers=self._headers(),
                preload_content=False,
                timeout=urllib3.Timeout(connect=10.0, read=timeout_seconds + 30.0),
                retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"cannot reach the Kubernetes API at {self.base}: {exc}", status=0) from exc
        try:
            if resp.status >= 400:
                raise _api_error("WATCH", path, resp.status, resp.read())
            buf = b""
            for chunk in resp.stream(65536, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    etype = event.get("type")
                    obj = event.get("object") or {}
                    if etype == "ERROR":
                        code = obj.get("code")
                        raise KubeError(
                            f"watch {path}: {obj.get('message', obj)}", status=code, reason=obj.get("reason")
                        )
                    yield etype, obj
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(f"watch {path} interrupted: {exc}", status=0) from exc
        finally:
            resp.release_conn()


def _api_error(method, path, status, data):
    message = ""
    reason = None
    try:
        doc = json.loads(data)
        message = doc.get("message", "")
        reason = doc.get("reason")
    except (ValueError, TypeError):
        message = (data or b"")[:300].decode("utf-8", "replace")
    hint = {
        401: " (unauthorized: check the credentials)",
        403: " (forbidden: check RBAC)",
        404: " (not found)",
        410: " (resource version expired)",
    }.get(status, "")
    return KubeError(f"{method} {path}: HTTP {status}{hint}: {message}", status=status, reason=reason, body=data)


class Informer:
    """LIST then WATCH one collection in a background thread, pushing events into a shared queue.

    Queue items: ``(key, "RESET", [items])`` after every (re)LIST, ``(key, "ADDED"|"MODIFIED"|"DELETED", obj)``
    for events and ``(key, "ERROR", message)`` when the watch cannot continue. The informer re-lists on 410
    Gone and re-watches from the last seen resourceVersion (bookmarks keep it fresh) when a stream ends.
    """

    def __init__(self, client, key, path, events, *, label_selector=None, field_selector=None, watch_timeout=240):
        self.client = client
        self.key = key
        self.path = path
        self.events = events
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_timeout = watch_timeout
        self.resource_version = None
        self.stop = threading.Event()
        self.thread = None
        self.relists = 0

    def initial_list(self):
        items, rv = self.client.list_all(self.path, self.label_selector, self.field_selector)
        self.resource_version = rv
        return items

    def start(self):
        self.thread = threading.Thread(target=self._run, name=f"watch-{self.key}", daemon=True)
        self.thread.start()

    def _run(self):
        failures = 0
        while not self.stop.is_set():
            try:
                for etype, obj in self.client.watch_stream(
                    self.path, self.resource_version, self.label_selector, self.field_selector, self.watch_timeout
                ):
                    if self.stop.is_set():
                        return
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    failures = 0
                    if etype != "BOOKMARK":
                        self.events.put((self.key, etype, obj))
            except KubeError as exc:
                if self.stop.is_set():
                    return
                if exc.status == 410:
                    try:
                        items = self.initial_list()
                    except KubeError as exc2:
                        self.events.put((self.key, "ERROR", exc2.message))
                        return
                    self.relists += 1
                    self.events.put((self.key, "RESET", items))
                    continue
                failures += 1
                if failures > 5:
                    self.events.put((self.key, "ERROR", exc.message))
                    return
                time.sleep(min(0.2 * 2**failures, 5.0))


def drain(events, timeout):
    """Block up to ``timeout`` for the first queue item, then take whatever else is already queued."""
    out = []
    try:
        out.append(events.get(timeout=max(timeout, 0.0)))
    except queue.Empty:
        return out
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out


# ---------------------------------------------------------------------------------------------------------------
# readiness waiter: LIST each (kind, namespace, selector) once, then WATCH; evaluate with module_utils.readiness
# ---------------------------------------------------------------------------------------------------------------
def _uid(obj):
    meta = obj.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class ReadinessWaiter:
    """Decide Current / InProgress / Failed for a wave of components, watching instead of polling.

    ``components``: normalized dicts ``{name, namespace, label_selector, kinds: [(api_version, kind)],
    resources: [{api_version, kind, name, namespace}], wait_for}``.
    """

    def __init__(self, client, components, options=None, rules=None, clock=time.time):
        from ansible_collections.datamill.platform.plugins.module_utils import readiness

        self.rd = readiness
        self.client = client
        self.components = components
        self.options = dict(options or {})
        self.rules = rules if rules is not None else readiness.BUILTIN_RULES
        self.clock = clock
        self.events = queue.Queue()
        self.sources = {}  # key -> dict(path, label_selector, field_selector)
        self.stores = {}  # key -> {uid: obj}
        self.plans = []  # per component: dict(errors, selector_keys, refs, pod_keys)
        self.frozen = {}  # component index -> final Failed result
        self.informers = {}
        self.context = {}
        self.watch_errors = {}

    # -- planning --------------------------------------------------------------------------------------------
    def _source(self, api_version, plural, namespace, label_selector=None, field_selector=None):
        key = "|".join((api_version, plural, namespace or "", label_selector or "", field_selector or ""))
        if key not in self.sources:
            self.sources[key] = {
                "path": Client.collection_path(api_version, plural, namespace),
                "label_selector": label_selector,
                "field_selector": field_selector,
            }
        return key

    def _guess_api_version(self, kind):
        """A custom kind named without apiVersion: find its group in the rules, its version by discovery."""
        groups = sorted({key.rsplit("/", 1)[0] for key in self.rules if "/" in key and key.rsplit("/", 1)[1] == kind})
        for group in groups:
            version = self.client.preferred_version(group)
            if version:
                return version
        raise KubeError(
            f"kind {kind} is not a built-in kind and no served API group has a rule for it: "
            "give it as group/version/Kind (e.g. kafka.strimzi.io/v1/Kafka)",
            status=404,
            reason="UnknownKind",
        )

    def plan(self):
        need_storage_classes = False
        for comp in self.components:
            plan = {"errors": [], "selector_keys": [], "refs": [], "pod_keys": []}
            namespace = comp.get("namespace")
            use_selector = comp.get("label_selector") is not None or not comp.get("resources")
            if use_selector:
                for given_version, kind in comp.get("kinds") or []:
                    try:
                        api_version = given_version
                        if not api_version and kind not in BUILTIN_KINDS:
                            api_version = self._guess_api_version(kind)
                        av, plural, namespaced = self.client.resource(api_version, kind)
                    except KubeError as exc:
                        plan["errors"].append({"kind": kind, "name": "*", "namespace": namespace or "", "error": exc})
                        continue
                    key = self._source(av, plural, namespace if namespaced else None, comp.get("label_selector"))
                    plan["selector_keys"].append((kind, key))
                    need_storage_classes = need_storage_classes or kind == "PersistentVolumeClaim"
            grouped = {}
            for ref in comp.get("resources") or []:
                try:
                    av, plural, namespaced = self.client.resource(ref.get("api_version"), ref["kind"])
                except KubeError as exc:
                    plan["errors"].append(
                        {
                            "kind": ref["kind"],
                            "name": ref["name"],
                            "namespace": ref.get("namespace") or "",
                            "error": exc,
                        }
                    )
                    continue
                ns = (ref.get("namespace") or namespace) if namespaced else None
                if namespaced and not ns:
                    plan["errors"].append(
                        {
                            "kind": ref["kind"],
                            "name": ref["name"],
                            "namespace": "",
                            "error": KubeError(f"{ref['kind']} {ref['name']} is namespaced: set its namespace"),
                        }
                    )
                    continue
                grouped.setdefault((av, plural, ns), []).append(dict(ref, namespace=ns or ""))
                need_storage_classes = need_storage_classes or ref["kind"] == "PersistentVolumeClaim"
                if ref["kind"] in self.rd.POD_CONTROLLERS and ns:
                    pod_key = self._source("v1", "pods", ns)
                    if pod_key not in plan["pod_keys"]:
                        plan["pod_keys"].append(pod_key)
            for (av, plural, ns), refs in grouped.items():
                field = f"metadata.name={refs[0]['name']}" if len(refs) == 1 else None
                key = self._source(av, plural, ns, None, field)
                for ref in refs:
                    plan["refs"].append((ref, key))
            self.plans.append(plan)
        if need_storage_classes:
            try:
                classes, _rv = self.client.list_all("/apis/storage.k8s.io/v1/storageclasses")
            except KubeError:
                classes = []
            self.context["storage_classes"] = {
                (c.get("metadata") or {}).get("name"): c.get("volumeBindingMode", "Immediate") for c in classes
            }
            for sc in classes:
                ann = (sc.get("metadata") or {}).get("annotations") or {}
                if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
                    self.context["default_storage_class"] = sc["metadata"]["name"]

    def initial_lists(self, parallel=8):
        """LIST every source once (in parallel). Raise KubeError on a failure that is not per-kind."""
        from concurrent.futures import ThreadPoolExecutor

        for key, src in self.sources.items():
            self.informers[key] = Informer(
                self.client,
                key,
                src["path"],
                self.events,
                label_selector=src["label_selector"],
                field_selector=src["field_selector"],
            )
        keys = list(self.informers)
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(keys) or 1))) as pool:
            futures = {key: pool.submit(self.informers[key].initial_list) for key in keys}
            for key, fut in futures.items():
                try:
                    items = fut.result()
                except KubeError as exc:
                    if exc.status in (0, 401):
                        raise
                    self.watch_errors[key] = exc.message
                    items = []
                self.stores[key] = {_uid(o): o for o in items}

    # -- evaluation ------------------------------------------------------------------------------------------
    def entries(self, index):
        plan = self.plans[index]
        entries = []
        for _kind, key in plan["selector_keys"]:
            entries.extend({"obj": obj} for obj in self.stores.get(key, {}).values())
        controllers = []
        for ref, key in plan["refs"]:
            obj = None
            for cand in self.stores.get(key, {}).values():
                meta = cand.get("metadata") or {}
                if meta.get("name") == ref["name"] and (meta.get("namespace") or "") == (ref.get("namespace") or ""):
                    obj = cand
                    break
            entries.append(
                {"ref": {"kind": ref["kind"], "namespace": ref.get("namespace") or "", "name": ref["name"]}, "obj": obj}
            )
            if obj is not None and ref["kind"] in self.rd.POD_CONTROLLERS:
                controllers.append(obj)
        seen = {_uid(e["obj"]) for e in entries if e.get("obj")}
        for key in plan["pod_keys"]:
            for pod in self.stores.get(key, {}).values():
                if _uid(pod) in seen:
                    continue
                labels = (pod.get("metadata") or {}).get("labels")
                pns = (pod.get("metadata") or {}).get("namespace")
                for ctl in controllers:
                    if (ctl.get("metadata") or {}).get("namespace") == pns and self.rd.selector_matches(
                        self.rd.get_path(ctl, "spec.selector"), labels
                    ):
                        entries.append({"obj": pod})
                        break
        return entries

    def evaluate(self, now):
        results = []
        for index, comp in enumerate(self.components):
            if index in self.frozen:
                results.append(self.frozen[index])
                continue
            opts = dict(self.options, wait_for=comp.get("wait_for") or self.options.get("wait_for") or "ready")
            res = self.rd.aggregate(self.entries(index), now, opts, self.rules, self.context)
            plan = self.plans[index]
            problems = []
            for err in plan["errors"]:
                problems.append(
                    {
                        "kind": err["kind"],
                        "namespace": err["namespace"],
                        "name": err["name"],
                        "status": self.rd.FAILED,
                        "reason": err["error"].reason or "Error",
                        "message": err["error"].message,
                    }
                )
            for key in [k for _kind, k in plan["selector_keys"]] + [k for _r, k in plan["refs"]] + plan["pod_keys"]:
                if key in self.watch_errors:
                    problems.append(
                        {
                            "kind": key.split("|")[1],
                            "namespace": key.split("|")[2],
                            "name": "*",
                            "status": self.rd.FAILED,
                            "reason": "ListWatchError",
                            "message": self.watch_errors[key],
                        }
                    )
            if problems:
                res["objects"] = problems + res["objects"]
                res["status"] = self.rd.FAILED
                res["message"] = "; ".join(f"{p['kind']} {p['name']}: {p['message']}" for p in problems)
            out = {"name": comp["name"], "status": res["status"], "message": res["message"], "objects": res["objects"]}
            if out["status"] == self.rd.FAILED:
                self.frozen[index] = out
            results.append(out)
        return results

    def _next_wake(self, now):
        best = None
        for index in range(len(self.components)):
            if index in self.frozen:
                continue
            when = self.rd.next_deadline(self.entries(index), now, self.options)
            if when is not None and (best is None or when < best):
                best = when
        return best

    # -- main loop -------------------------------------------------------------------------------------------
    def run(self, timeout, wait=True):
        start = self.clock()
        self.plan()
        self.initial_lists()
        results = self.evaluate(self.clock())
        done = all(r["status"] in (self.rd.CURRENT, self.rd.FAILED) for r in results)
        timed_out = False
        if wait and not done:
            for inf in self.informers.values():
                if inf.key not in self.watch_errors:
                    inf.start()
            deadline = start + timeout
            try:
                while True:
                    now = self.clock()
                    if now >= deadline:
                        timed_out = True
                        break
                    wake = self._next_wake(now)
                    wait_for = min(deadline, wake + 0.05 if wake else now + 5.0) - now
                    for key, etype, payload in drain(self.events, wait_for):
                        store = self.stores.setdefault(key, {})
                        if etype == "RESET":
                            self.stores[key] = {_uid(o): o for o in payload}
                        elif etype == "DELETED":
                            store.pop(_uid(payload), None)
                        elif etype in ("ADDED", "MODIFIED"):
                            store[_uid(payload)] = payload
                        elif etype == "ERROR":
                            self.watch_errors[key] = payload
                    results = self.evaluate(self.clock())
                    if all(r["status"] in (self.rd.CURRENT, self.rd.FAILED) for r in results):
                        break
            finally:
                self.close()
        elapsed = self.clock() - start
        if timed_out:
            for res in results:
                if res["status"] not in (self.rd.CURRENT, self.rd.FAILED):
                    res["message"] = f"timed out after {timeout:g}s: {res['message']}"
        return {
            "components": results,
            "elapsed": round(elapsed, 3),
            "timed_out": timed_out,
            "relists": sum(inf.relists for inf in self.informers.values()),
        }

    def close(self):
        for inf in self.informers.values():
            inf.stop.set()
