"""Start and stop a real Kubernetes control plane on loopback, with kwok-simulated nodes.

The processes are upstream binaries built from pinned Go modules (``make cluster-bins``):
etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the kwok controller.
This module orchestrates them itself (see docs/test-cluster.md for why not ``kwokctl``).

Needs only the Python standard library, PyYAML and ``openssl`` on PATH.

CLI::

    python tools/cluster/datamill_testcluster.py up [--fleet default] [--crds strimzi-1.2.0 ...]
    python tools/cluster/datamill_testcluster.py status
    python tools/cluster/datamill_testcluster.py down
    python tools/cluster/datamill_testcluster.py fleet gpu-mixed
    python tools/cluster/datamill_testcluster.py crds strimzi-1.2.0 cert-manager

State (kubeconfig, pid files, logs, etcd data) lives in ``<repo>/.sim`` unless ``--state-dir`` is given;
the kubeconfig is always ``<state-dir>/kubeconfig``.

Library use (what ``tests/integration/conftest.py`` does)::

    cluster = Cluster(state_dir)
    cluster.up()                      # random free loopback ports, waits for /readyz
    cluster.apply_fleet("gpu-mixed")  # Node objects + capacity/allocatable; kwok keeps them Ready
    cluster.install_crds("strimzi-1.2.0")
    cluster.set_status("kafka.strimzi.io/v1", "Kafka", "ns", "my-kafka", {"conditions": [...]})
    cluster.down()                    # kills only the pids it started
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".sim"
DEFAULT_BIN_DIR = HERE / "bin"
FLEETS_DIR = REPO_ROOT / "tests" / "fleets"
STAGES_FILE = HERE / "kwok-stages.yaml"
BINS_ENV = "DATAMILL_CLUSTER_BINS"
BUILD_HINT = "make cluster-bins"

# Order matters: started in this order, stopped in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
REQUIRED_BINARIES = COMPONENTS
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
FIELD_MANAGER = "datamill-testcluster"
NODE_STAGE_ANNOTATION = "datamill.test/node-stage"
POD_STAGE_ANNOTATION = "datamill.test/stage"
CRD_HASH = "datamill.test/crd-sha256"
OPERATOR_ANNOTATION = "datamill.test/operator"
SIM_OPERATORS_FILE = HERE / "sim-operators.yaml"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


class ClusterError(RuntimeError):
    """Anything that stops the cluster from coming up or a request from succeeding."""


class MissingBinariesError(ClusterError):
    """The control-plane binaries are not built (or not where DATAMILL_CLUSTER_BINS says)."""


class ApiError(ClusterError):
    def __init__(self, status: int, method: str, path: str, body: str):
        self.status = status
        self.body = body
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")


# --------------------------------------------------------------------------------------------------
# Binaries


def bin_dir(env: dict[str, str] | None = None) -> Path:
    """Directory holding the binaries: $DATAMILL_CLUSTER_BINS or tools/cluster/bin."""
    env = os.environ if env is None else env
    value = env.get(BINS_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_BIN_DIR


def missing_binaries(directory: Path) -> list[str]:
    return [name for name in REQUIRED_BINARIES if not os.access(directory / name, os.X_OK)]


def require_binaries(directory: Path | None = None) -> Path:
    directory = bin_dir() if directory is None else directory
    missing = missing_binaries(directory)
    if missing:
        raise MissingBinariesError(
            f"test-cluster binaries missing in {directory}: {', '.join(missing)}. "
            f"Build them with `{BUILD_HINT}` (cold build takes a while, see docs/test-cluster.md) "
            f"or point {BINS_ENV} at a directory of prebuilt binaries."
        )
    return directory


# --------------------------------------------------------------------------------------------------
# Ports


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_ports(count: int, host: str = "127.0.0.1", exclude: Iterable[int] = ()) -> list[int]:
    """Ask the kernel for ``count`` distinct free ports (all sockets held until every port is chosen)."""
    excluded = set(exclude)
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        attempts = 0
        while len(ports) < count:
            attempts += 1
            if attempts > count * 20:
                raise ClusterError(f"could not find {count} free ports on {host}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            port = sock.getsockname()[1]
            held.append(sock)
            if port in excluded or port in ports:
                continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


# --------------------------------------------------------------------------------------------------
# Pid files


def read_cmdline(pid: int, proc: Path = Path("/proc")) -> list[str] | None:
    """argv of a live process, or None when it does not exist (or is a zombie)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return None
    if not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


def is_our_process(cmdline: list[str] | None, binary_name: str, state_dir: Path | str) -> bool:
    """True when ``cmdline`` is ``binary_name`` started by us for ``state_dir``.

    A recycled pid belongs to someone else: the executable's basename must match, and one of its
    arguments must mention our state directory (every component gets a path under it).
    """
    if not cmdline:
        return False
    if os.path.basename(cmdline[0]) != binary_name:
        return False
    marker = str(Path(state_dir).resolve())
    return any(marker in arg for arg in cmdline[1:])


def write_pid_file(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n", encoding="utf-8")


def read_pid_file(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(text)
    except ValueError:
        return None
    return pid if pid > 0 else None


def terminate_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL one pid (which the caller has verified is ours)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_cmdline(pid) is None:
            _reap(pid)
            return
        _reap(pid)
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _attempt in range(50):
        _reap(pid)
        if read_cmdline(pid) is None:
            return
        time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_from_pid_files(state_dir: Path, components: Iterable[str] = COMPONENTS) -> list[str]:
    """Stop the processes named by ``<state>/pids/*.pid``; stale files (dead or foreign pid) are removed.

    Returns a line per pid file describing what was done.
    """
    report = []
    for name in reversed(tuple(components)):
        pid_path = state_dir / "pids" / f"{name}.pid"
        if not pid_path.exists():
            continue
        pid = read_pid_file(pid_path)
        cmdline = read_cmdline(pid) if pid else None
        if pid and is_our_process(cmdline, name, state_dir):
            terminate_pid(pid)
            report.append(f"{name}: stopped pid {pid}")
        elif pid and cmdline is not None:
            report.append(f"{name}: pid {pid} is not ours any more ({os.path.basename(cmdline[0])}); left alone")
        else:
            report.append(f"{name}: stale pid file removed")
        pid_path.unlink(missing_ok=True)
    return report


# --------------------------------------------------------------------------------------------------
# Fleets


@dataclass
class NodeSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    capacity: dict[str, str] = field(default_factory=dict)

    @property
    def internal_ip(self) -> str:
        """A stable address in 10.128.0.0/9 derived from the node name (distinct across fleets in practice)."""
        value = int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "big") & 0x7FFFFF
        return f"10.{128 + (value >> 16)}.{(value >> 8) & 0xFF}.{max(1, value & 0xFF)}"

    def manifest(self, now: str | None = None) -> dict[str, Any]:
        """The Node as a kubelet would register it: already Ready, so kwok has nothing to do at scale.

        A node annotated ``datamill.test/node-stage`` gets no conditions: kwok's stages decide them.
        """
        now = now or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        annotations = {"kwok.x-k8s.io/node": "fake", **self.annotations}
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
            **self.labels,
        }
        spec: dict[str, Any] = {}
        if self.taints:
            spec["taints"] = self.taints
        status: dict[str, Any] = {
            "capacity": dict(self.capacity),
            "allocatable": dict(self.capacity),
            "addresses": [
                {"type": "InternalIP", "address": self.internal_ip},
                {"type": "Hostname", "address": self.name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "datamill simulated node",
                "kernelVersion": "simulated",
                "kubeletVersion": "v1.36.3",
                "kubeProxyVersion": "v1.36.3",
                "containerRuntimeVersion": "kwok://v0.8.0",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
        if NODE_STAGE_ANNOTATION not in annotations:
            status["conditions"] = [
                {
                    "type": kind,
                    "status": "True" if kind == "Ready" else "False",
                    "reason": "KubeletReady" if kind == "Ready" else f"KubeletHasNo{kind}",
                    "message": "simulated by datamill_testcluster",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
                for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
            ]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels, "annotations": annotations},
            "spec": spec,
            "status": status,
        }


_GROUP_KEYS = {"name", "count", "cpu", "memory", "pods", "labels", "annotations", "taints", "extended"}
_FLEET_KEYS = {"name", "prefix", "defaults", "nodes"}


def resolve_fleet_path(name_or_path: str | Path, fleets_dir: Path = FLEETS_DIR) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_absolute() or len(candidate.parts) > 1:
        if candidate.exists():
            return candidate
        raise ClusterError(f"fleet file not found: {candidate}")
    path = fleets_dir / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in fleets_dir.glob("*.yaml"))
        raise ClusterError(f"unknown fleet {name_or_path!r}; known: {', '.join(known)}")
    return path


def expand_fleet(data: dict[str, Any]) -> list[NodeSpec]:
    """Turn a fleet document into one NodeSpec per node (pure; validates the format)."""
    if not isinstance(data, dict):
        raise ClusterError("a fleet must be a mapping")
    unknown = set(data) - _FLEET_KEYS
    if unknown:
        raise ClusterError(f"unknown fleet keys: {sorted(unknown)}")
    fleet_name = str(data.get("name", "fleet"))
    prefix = str(data.get("prefix", f"{fleet_name}-"))
    defaults = data.get("defaults") or {}
    unknown = set(defaults) - (_GROUP_KEYS - {"name", "count"})
    if unknown:
        raise ClusterError(f"unknown keys in fleet defaults: {sorted(unknown)}")
    groups = data.get("nodes") or []
    if not isinstance(groups, list) or not groups:
        raise ClusterError(f"fleet {fleet_name!r} has no node groups")
    nodes: list[NodeSpec] = []
    seen: set[str] = set()
    for group in groups:
        unknown = set(group) - _GROUP_KEYS
        if unknown:
            raise ClusterError(f"unknown keys in node group {group.get('name')!r}: {sorted(unknown)}")
        if "name" not in group:
            raise ClusterError("every node group needs a name")
        count = int(group.get("count", 1))
        if count < 0:
            raise ClusterError(f"node group {group['name']!r}: count must be >= 0")
        merged = {key: group.get(key, defaults.get(key)) for key in ("cpu", "memory", "pods")}
        labels = {**(defaults.get("labels") or {}), **(group.get("labels") or {})}
        annotations = {**(defaults.get("annotations") or {}), **(group.get("annotations") or {})}
        taints = list(group.get("taints", defaults.get("taints")) or [])
        for taint in taints:
            if "key" not in taint or taint.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                raise ClusterError(f"node group {group['name']!r}: bad taint {taint!r}")
        extended = {**(defaults.get("extended") or {}), **(group.get("extended") or {})}
        capacity = {
            "cpu": str(merged["cpu"] or "4"),
            "memory": str(merged["memory"] or "16Gi"),
            "pods": str(merged["pods"] or 110),
            "ephemeral-storage": "100Gi",
        }
        capacity.update({str(k): str(v) for k, v in extended.items()})
        for index in range(count):
            node_name = f"{prefix}{group['name']}-{index}"
            if node_name in seen:
                raise ClusterError(f"duplicate node name {node_name!r}")
            seen.add(node_name)
            nodes.append(
                NodeSpec(
                    name=node_name,
                    labels={str(k): str(v) for k, v in labels.items()},
                    annotations={str(k): str(v) for k, v in annotations.items()},
                    taints=[{str(k): str(v) for k, v in t.items()} for t in taints],
                    capacity=dict(capacity),
                )
            )
    return nodes


def load_fleet(name_or_path: str | Path, fleets_dir: Path = FLEETS_DIR) -> list[NodeSpec]:
    path = resolve_fleet_path(name_or_path, fleets_dir)
    with path.open(encoding="utf-8") as handle:
        return expand_fleet(yaml.safe_load(handle))


# --------------------------------------------------------------------------------------------------
# YAML (CRDs)


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CrdLoader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader that reads YAML 1.1's ``=`` (the 'value' tag) as the plain string, like Kubernetes does."""


def _construct_value_as_str(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


CrdLoader.add_constructor("tag:yaml.org,2002:value", _construct_value_as_str)


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.load_all(handle, Loader=CrdLoader) if doc]


def shared_crds_dir(repo_root: Path = REPO_ROOT) -> Path:
    return Path(repo_root).parent / "shared" / "crds"


def crd_documents(folder: str | Path, crds_root: Path | None = None) -> list[dict[str, Any]]:
    base = Path(folder)
    if not base.is_absolute() and not base.exists():
        base = (crds_root or shared_crds_dir()) / folder
    if not base.is_dir():
        raise ClusterError(f"CRD folder not found: {base}")
    docs = []
    for path in sorted(list(base.glob("*.yaml")) + list(base.glob("*.yml"))):
        docs.extend(d for d in load_yaml_documents(path) if d.get("kind") == "CustomResourceDefinition")
    if not docs:
        raise ClusterError(f"no CustomResourceDefinition documents in {base}")
    return docs


# --------------------------------------------------------------------------------------------------
# Minimal REST client (persistent HTTPS connection per thread)


class Api:
    """Tiny Kubernetes REST client: bearer token or client certificate, verified TLS."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
        context: ssl.SSLContext | None = None,
    ):
        parsed = urllib.parse.urlparse(server)
        self.server = server
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 443
        self.token = token
        self.timeout = timeout
        self.context = context or ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._local = threading.local()

    @classmethod
    def from_kubeconfig(cls, path: Path | str, context_name: str | None = None) -> Api:
        """Client for the current (or named) context of a kubeconfig: token or client-cert users."""
        path = Path(path)
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        wanted = context_name or config.get("current-context")
        ctx = _named(config.get("contexts"), wanted, "context", path)
        cluster = _named(config.get("clusters"), ctx.get("cluster"), "cluster", path)
        user = _named(config.get("users"), ctx.get("user"), "user", path) if ctx.get("user") else {}
        tmp = Path(tempfile.mkdtemp(prefix="datamill-kubeconfig-"))
        try:

            def material(data_key: str, file_key: str, section: dict[str, Any], name: str) -> str | None:
                if section.get(data_key):
                    out = tmp / name
                    out.write_bytes(base64.b64decode(section[data_key]))
                    return str(out)
                value = section.get(file_key)
                return str((path.parent / value).resolve()) if value else None

            ca = material("certificate-authority-data", "certificate-authority", cluster, "ca.crt")
            if cluster.get("insecure-skip-tls-verify"):
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context(cafile=ca)
            cert = material("client-certificate-data", "client-certificate", user, "client.crt")
            key = material("client-key-data", "client-key", user, "client.key")
            if cert and key:
                context.load_cert_chain(cert, key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = Path(user["tokenFile"]).read_text(encoding="utf-8").strip()
        return cls(cluster["server"], token=token, context=context)

    def _conn(self) -> http.client.HTTPSConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
        accept: str = "application/json",
    ) -> tuple[int, Any]:
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        payload = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if payload is not None:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, url, body=payload, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        text = raw.decode(errors="replace")
        if resp.status not in ok:
            raise ApiError(resp.status, method, url, text)
        try:
            return resp.status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return resp.status, text

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)[1]

    def apply(self, path: str, obj: dict[str, Any]) -> Any:
        """Server-side apply (creates or updates), forcing ownership for our field manager."""
        return self.request(
            "PATCH",
            path,
            body=obj,
            content_type="application/apply-patch+yaml",
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
        )[1]


def _named(items: Any, name: Any, what: str, path: Path) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return item.get(what) or {}
    raise ClusterError(f"{path}: no {what} named {name!r}")


def api_path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    if name:
        base += f"/{name}"
    return base


# --------------------------------------------------------------------------------------------------
# Cluster


def _run(cmd: list[str], cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")


def generate_pki(pki: Path) -> None:
    """CA, apiserver serving cert and service-account key (ECDSA P-256, fast), once per state dir."""
    if (pki / "apiserver.crt").exists() and (pki / "sa.key").exists():
        return
    if shutil.which("openssl") is None:
        raise ClusterError("openssl is needed to create the test cluster's certificates")
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(
        [
            "openssl",
            "req",
            "-x509",
            *ec,
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=datamill-testcluster-ca",
        ],
        pki,
    )
    sans = (
        "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    )
    _run(
        [
            "openssl",
            "req",
            "-x509",
            *ec,
            "-keyout",
            "apiserver.key",
            "-out",
            "apiserver.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=kube-apiserver",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-addext",
            f"subjectAltName={sans}",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
        pki,
    )
    _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"], pki)
    _run(["openssl", "ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"], pki)
    for key in ("ca.key", "apiserver.key", "sa.key"):
        os.chmod(pki / key, 0o600)


def kubeconfig_document(server: str, ca_pem: bytes, token: str, name: str = "datamill-sim") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }


@dataclass
class Cluster:
    """One simulated cluster, whose whole state lives in ``state_dir``."""

    state_dir: Path = DEFAULT_STATE_DIR
    binaries: Path | None = None
    stages_file: Path = STAGES_FILE
    log: Any = None  # callable(str) for progress lines; None = quiet
    # True: components get SIGTERM when the Python process that started them dies (pytest sessions).
    tie_to_parent: bool = False
    # Set to use a cluster someone else runs (DATAMILL_TEST_KUBECONFIG); up()/down() then do nothing.
    external_kubeconfig: Path | None = None

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        self._api: Api | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self.timings: dict[str, float] = {}  # api_ready_s, up_s of the last start

    @classmethod
    def attach(cls, kubeconfig: Path | str) -> Cluster:
        """A handle on an already running cluster, given only its kubeconfig."""
        path = Path(kubeconfig).expanduser().resolve()
        if not path.is_file():
            raise ClusterError(f"kubeconfig not found: {path}")
        return cls(state_dir=path.parent, external_kubeconfig=path)

    # paths ----------------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.external_kubeconfig or self.state_dir / "kubeconfig"

    @property
    def info_file(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    def info(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    @property
    def server(self) -> str:
        if self.external_kubeconfig:
            return self.api.server
        return str(self.info().get("server", ""))

    @property
    def api(self) -> Api:
        if self._api is None and self.external_kubeconfig:
            self._api = Api.from_kubeconfig(self.external_kubeconfig)
        if self._api is None:
            info = self.info()
            if not info:
                raise ClusterError(f"no cluster in {self.state_dir}; run `up` first")
            self._api = Api(info["server"], info["token"], self.pki / "ca.crt")
        return self._api

    def _say(self, line: str) -> None:
        if self.log:
            self.log(line)

    # lifecycle ------------------------------------------------------------------------------------
    def running_components(self) -> dict[str, int]:
        alive = {}
        for name in COMPONENTS:
            pid = read_pid_file(self.state_dir / "pids" / f"{name}.pid")
            if pid and is_our_process(read_cmdline(pid), name, self.state_dir):
                alive[name] = pid
        return alive

    def is_ready(self, timeout: float = 3.0) -> bool:
        try:
            if self.external_kubeconfig:
                api = Api.from_kubeconfig(self.external_kubeconfig)
                api.timeout = timeout
            else:
                info = self.info()
                if not info:
                    return False
                api = Api(info["server"], info["token"], self.pki / "ca.crt", timeout=timeout)
            return api.request("GET", "/readyz")[0] == 200
        except (OSError, ClusterError, http.client.HTTPException, ssl.SSLError):
            return False

    def up(self, timeout: float = 120.0, attempts: int = 3) -> Cluster:
        """Start every component (reusing a healthy running cluster in the same state dir)."""
        if self.external_kubeconfig:
            if not self.is_ready(timeout=10):
                raise ClusterError(f"the cluster of {self.external_kubeconfig} is not ready (/readyz)")
            return self
        binaries = require_binaries(self.binaries)
        if set(self.running_components()) == set(COMPONENTS) and self.is_ready():
            self._say(f"cluster already running: {self.server}")
            return self
        for line in stop_from_pid_files(self.state_dir):
            self._say(line)
        last_error: ClusterError | None = None
        for attempt in range(1, attempts + 1):
            try:
                self._start(binaries, timeout)
                return self
            except ClusterError as exc:
                last_error = exc
                self._say(f"start attempt {attempt} failed: {exc}")
                stop_from_pid_files(self.state_dir)
                if not _looks_like_port_clash(self.state_dir):
                    break
        raise ClusterError(f"cluster did not start: {last_error}")

    def _start(self, binaries: Path, timeout: float) -> None:
        started = time.monotonic()
        state = self.state_dir
        for sub in ("pids", "logs"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        for old_log in (state / "logs").glob("*.log"):
            old_log.unlink()
        self._api = None
        generate_pki(self.pki)
        etcd_client, etcd_peer, apiserver = pick_free_ports(3)
        token = secrets.token_hex(24)
        (state / "tokens.csv").write_text(f'{token},datamill-admin,datamill-admin,"system:masters"\n')
        os.chmod(state / "tokens.csv", 0o600)
        server = f"https://127.0.0.1:{apiserver}"
        ca_pem = (self.pki / "ca.crt").read_bytes()
        self.kubeconfig.write_text(yaml.safe_dump(kubeconfig_document(server, ca_pem, token), sort_keys=False))
        os.chmod(self.kubeconfig, 0o600)
        self.info_file.write_text(
            json.dumps(
                {
                    "server": server,
                    "token": token,
                    "kubeconfig": str(self.kubeconfig),
                    "ports": {"etcd": etcd_client, "etcd-peer": etcd_peer, "kube-apiserver": apiserver},
                    "binaries": str(binaries),
                },
                indent=2,
            )
        )
        os.chmod(self.info_file, 0o600)

        pki = self.pki
        etcd_url = f"http://127.0.0.1:{etcd_client}"
        peer_url = f"http://127.0.0.1:{etcd_peer}"
        commands = {
            "etcd": [
                "--name=datamill-sim",
                f"--data-dir={state / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=datamill-sim={peer_url}",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=8589934592",
                "--log-level=warn",
            ],
            "kube-apiserver": [
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={apiserver}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={state / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                # Nodes are simulated and the node-lifecycle controller is off (see kube-controller-manager), so
                # nothing would lift the not-ready taint this plugin puts on new nodes.
                "--disable-admission-plugins=TaintNodesByCondition",
                "--allow-privileged=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                "--max-requests-inflight=1000",
                "--max-mutating-requests-inflight=500",
            ],
            "kube-controller-manager": [
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--cluster-cidr={POD_CIDR}",
                # No kubelets renew leases here: keep nodes as kwok reports them instead of tainting them.
                "--controllers=*,-node-lifecycle-controller",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
                "--concurrent-deployment-syncs=10",
            ],
            "kube-scheduler": [
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
            ],
            "kwok": [
                f"--kubeconfig={self.kubeconfig}",
                f"--config={self._kwok_config()}",
                "--manage-all-nodes=true",
                f"--cidr={POD_CIDR}",
                "--node-ip=10.0.0.1",
                "--node-lease-duration-seconds=0",
                "--server-address=",
            ],
        }
        for name in COMPONENTS:
            self._spawn(binaries / name, name, commands[name])
            if name == "etcd":
                self._wait(lambda: _tcp_open(etcd_client), "etcd", 30, name)
            if name == "kube-apiserver":
                self._wait(self.is_ready, "kube-apiserver /readyz", timeout, name)
                self.timings["api_ready_s"] = time.monotonic() - started
        self._wait(self._default_service_account_exists, "default service account", 60, "kube-controller-manager")
        self.timings["up_s"] = time.monotonic() - started
        self._say(
            f"cluster up in {self.timings['up_s']:.1f}s (API ready after {self.timings['api_ready_s']:.1f}s): {server}"
        )

    def _kwok_config(self) -> Path:
        """kwok reads one object per YAML document: write the stage list that way into the state dir."""
        with self.stages_file.open(encoding="utf-8") as handle:
            objects = yaml.safe_load(handle)
        path = self.state_dir / "kwok-config.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
        return path

    def _spawn(self, binary: Path, name: str, args: list[str]) -> None:
        log_path = self.state_dir / "logs" / f"{name}.log"
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(
                [str(binary), *args],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.tie_to_parent else None,  # noqa: PLW1509 - prctl only
            )
        self._procs[name] = proc
        write_pid_file(self.state_dir / "pids" / f"{name}.pid", proc.pid)
        # Popen returns once execve has passed its point of no return, a moment before /proc shows the new
        # program: wait for that, so that pid checks (ours or not?) never see the half-exec'd child.
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            if is_our_process(read_cmdline(proc.pid), name, self.state_dir):
                break
            time.sleep(0.01)

    def _wait(self, check: Any, what: str, timeout: float, component: str) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if check():
                return
            proc = self._procs.get(component)
            code = proc.poll() if proc else None
            if code is not None or (proc is None and component not in self.running_components()):
                how = "gone" if code is None else f"exit status {code}" if code >= 0 else f"killed by signal {-code}"
                raise ClusterError(
                    f"{component} exited ({how}) while waiting for {what}; log tail:\n{self.log_tail(component)}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise ClusterError(
            f"timed out after {timeout:.0f}s waiting for {what}; {component} log tail:\n{self.log_tail(component)}"
        )

    def _default_service_account_exists(self) -> bool:
        try:
            self.api.get("/api/v1/namespaces/default/serviceaccounts/default")
            return True
        except ApiError:
            return False

    def log_tail(self, component: str, lines: int = 25) -> str:
        path = self.state_dir / "logs" / f"{component}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def down(self, purge: bool = False) -> list[str]:
        if self.external_kubeconfig:
            return ["external cluster: left running"]
        report = stop_from_pid_files(self.state_dir)
        self._api = None
        if purge:
            shutil.rmtree(self.state_dir / "etcd", ignore_errors=True)
        return report

    def status(self) -> dict[str, Any]:
        info = self.info()
        return {
            "state_dir": str(self.state_dir),
            "kubeconfig": str(self.kubeconfig),
            "server": info.get("server"),
            "running": self.running_components(),
            "ready": self.is_ready(),
        }

    # test helpers ---------------------------------------------------------------------------------
    def apply_fleet(self, name_or_path: str | Path, workers: int = 8) -> list[str]:
        """Create (or update) the fleet's Node objects with capacity and Ready status; returns node names."""
        nodes = load_fleet(name_or_path)
        api = self.api

        def one(node: NodeSpec) -> None:
            manifest = node.manifest()
            status = api.request("POST", "/api/v1/nodes", body=manifest, ok=(201, 409))[0]
            if status == 201:
                return
            # Already there (fleet applied again): update labels/taints and capacity, keep its conditions.
            api.apply(f"/api/v1/nodes/{node.name}", {k: v for k, v in manifest.items() if k != "status"})
            api.request(
                "PATCH",
                f"/api/v1/nodes/{node.name}/status",
                body={"status": {k: manifest["status"][k] for k in ("capacity", "allocatable")}},
                content_type="application/merge-patch+json",
            )

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for future in concurrent.futures.as_completed([pool.submit(one, n) for n in nodes]):
                future.result()
        return [n.name for n in nodes]

    def delete_nodes(self, names: Iterable[str]) -> None:
        for name in names:
            try:
                self.api.request("DELETE", f"/api/v1/nodes/{name}")
            except ApiError as exc:
                if exc.status != 404:
                    raise

    def wait_nodes_ready(self, names: Iterable[str], timeout: float = 120.0) -> None:
        wanted = set(names)
        deadline = time.monotonic() + timeout
        while True:
            items = self.api.get("/api/v1/nodes", query={"limit": "0"})["items"]
            ready = {
                item["metadata"]["name"]
                for item in items
                if any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in item.get("status", {}).get("conditions") or []
                )
            }
            if wanted <= ready:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"{len(wanted - ready)} nodes not Ready after {timeout:.0f}s")
            time.sleep(0.5)

    def install_crds(self, folder: str | Path, timeout: float = 60.0, crds_root: Path | None = None) -> list[str]:
        """Create (or replace when changed) every CRD in ``folder``; wait until all are Established.

        ``folder`` is a name under ``../shared/crds`` or a path. Unchanged CRDs (same content hash annotation)
        are left alone, so installing twice is cheap; big CRDs make server-side apply slow, so it is not used.
        """
        names = []
        pending: set[str] = set()
        unchanged: dict[str, tuple[str, str]] = {}  # name -> (group/version served, plural)
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        for upstream in crd_documents(folder, crds_root):
            name = upstream["metadata"]["name"]
            names.append(name)
            digest = hashlib.sha256(json.dumps(upstream, sort_keys=True).encode()).hexdigest()[:20]
            doc = {**upstream, "metadata": {**upstream["metadata"]}}
            doc["metadata"]["annotations"] = {**(doc["metadata"].get("annotations") or {}), CRD_HASH: digest}
            doc["metadata"].pop("creationTimestamp", None)
            doc.pop("status", None)
            try:
                current = self.api.get(f"{base}/{name}", accept=METADATA_ONLY)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                current = None
            if current is None:
                self.api.request("POST", base, body=doc)
                pending.add(name)
            elif (current["metadata"].get("annotations") or {}).get(CRD_HASH) != digest:
                doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                self.api.request("PUT", f"{base}/{name}", body=doc)
                pending.add(name)
            else:
                served = [v["name"] for v in upstream["spec"]["versions"] if v.get("served", True)]
                unchanged[name] = (f"{upstream['spec']['group']}/{served[0]}", upstream["spec"]["names"]["plural"])
        # Unchanged CRDs: served in discovery means Established (no need to fetch big objects).
        discovery: dict[str, set[str]] = {}
        for name, (group_version, plural) in unchanged.items():
            if group_version not in discovery:
                try:
                    listed = self.api.get(f"/apis/{group_version}")["resources"]
                    discovery[group_version] = {r["name"] for r in listed}
                except ApiError:
                    discovery[group_version] = set()
            if plural not in discovery[group_version]:
                pending.add(name)
        deadline = time.monotonic() + timeout
        while pending:
            for name in sorted(pending):
                crd = self.api.get(f"{base}/{name}")
                conditions = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions") or []}
                if conditions.get("Established") == "True":
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise ClusterError(f"CRDs not Established after {timeout:.0f}s: {sorted(pending)}")
            if pending:
                time.sleep(0.2)
        return names

    def play_operators(self, entries: list[dict[str, Any]] | None = None) -> list[str]:
        """One pass: mark every custom resource of the known kinds reconciled; returns what was patched."""
        entries = load_sim_operators() if entries is None else entries
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        patched = []
        for entry in entries:
            base = f"/apis/{entry['group']}/{entry['version']}"
            try:
                items = self.api.get(f"{base}/{entry['plural']}")["items"]
            except ApiError as exc:
                if exc.status == 404:
                    continue  # CRD not installed
                raise
            for obj in items:
                patch = desired_status(entry, obj, now)
                if patch is None:
                    continue
                meta = obj["metadata"]
                path = api_path(
                    f"{entry['group']}/{entry['version']}", entry["plural"], meta.get("namespace"), meta["name"]
                )
                try:
                    self.api.request(
                        "PATCH", f"{path}/status", body={"status": patch}, content_type="application/merge-patch+json"
                    )
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    continue
                patched.append(f"{entry['plural']}/{meta.get('namespace', '')}/{meta['name']}")
        return patched

    def resource_plural(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for ``kind`` from API discovery."""
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        for resource in self.api.get(path)["resources"]:
            if resource["kind"] == kind and "/" not in resource["name"]:
                return resource["name"], bool(resource["namespaced"])
        raise ClusterError(f"{kind} is not served by {api_version}")

    def set_status(
        self, api_version: str, kind: str, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource (play the operator). Returns the updated object."""
        plural, namespaced = self.resource_plural(api_version, kind)
        path = api_path(api_version, plural, namespace if namespaced else None, name) + "/status"
        return self.api.request("PATCH", path, body={"status": status}, content_type="application/merge-patch+json")[1]


def load_sim_operators(path: Path = SIM_OPERATORS_FILE) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        entries = yaml.safe_load(handle) or []
    for entry in entries:
        missing = {"group", "version", "plural"} - set(entry)
        if missing or set(entry) - {"group", "version", "plural", "conditions", "status"}:
            raise ClusterError(f"{path}: bad entry {entry!r}")
    return entries


def desired_status(entry: dict[str, Any], obj: dict[str, Any], now: str) -> dict[str, Any] | None:
    """The status patch that makes ``obj`` look reconciled by its operator, or None when it already does (pure)."""
    if (obj.get("metadata", {}).get("annotations") or {}).get(OPERATOR_ANNOTATION) == "broken":
        return None
    current = obj.get("status") or {}
    patch: dict[str, Any] = {}
    generation = obj.get("metadata", {}).get("generation")
    # Some status schemas have no observedGeneration (it is pruned): only chase it where it is kept.
    if generation is not None and current.get("observedGeneration", generation) != generation:
        patch["observedGeneration"] = generation
    for key, value in (entry.get("status") or {}).items():
        if current.get(key) != value:
            patch[key] = value
    wanted = list(entry.get("conditions") or [])
    have = {c.get("type"): c.get("status") for c in current.get("conditions") or []}
    if not current and generation is not None:
        patch["observedGeneration"] = generation
    if any(have.get(kind) != "True" for kind in wanted):
        others = [c for c in current.get("conditions") or [] if c.get("type") not in wanted]
        patch["conditions"] = others + [
            {
                "type": kind,
                "status": "True",
                "reason": "Simulated",
                "message": "reconciled by datamill_testcluster operators (simulation)",
                "lastTransitionTime": now,
                "lastUpdateTime": now,
                **({"observedGeneration": generation} if generation is not None else {}),
            }
            for kind in wanted
        ]
    return patch or None


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM us when the parent dies (PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _looks_like_port_clash(state_dir: Path) -> bool:
    for log in (state_dir / "logs").glob("*.log"):
        if "address already in use" in log.read_text(errors="replace"):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--state-dir", default=os.environ.get("DATAMILL_SIM_DIR", str(DEFAULT_STATE_DIR)))
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster (or reuse the running one)")
    up.add_argument("--fleet", action="append", default=[], help="fleet name or file to apply (repeatable)")
    up.add_argument("--crds", action="append", default=[], help="folder under ../shared/crds to install")
    down = sub.add_parser("down", help="stop the processes this state dir started")
    down.add_argument("--purge", action="store_true", help="also delete the etcd data")
    sub.add_parser("status", help="print state as JSON; exit 1 when not ready")
    fleet = sub.add_parser("fleet", help="apply fleets to the running cluster")
    fleet.add_argument("names", nargs="+")
    crds = sub.add_parser("crds", help="install CRD folders into the running cluster")
    crds.add_argument("folders", nargs="+")
    ops = sub.add_parser("operators", help="play the operators: mark custom resources reconciled until stopped")
    ops.add_argument("--interval", type=float, default=1.0)
    ops.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)

    cluster = Cluster(Path(args.state_dir), log=lambda line: print(line, flush=True))
    try:
        if args.command == "up":
            cluster.up()
            for name in args.fleet:
                print(f"fleet {name}: {len(cluster.apply_fleet(name))} nodes")
            for folder in args.crds:
                print(f"crds {folder}: {len(cluster.install_crds(folder))} established")
            print(f"kubeconfig: {cluster.kubeconfig}")
        elif args.command == "down":
            for line in cluster.down(purge=args.purge) or ["nothing running"]:
                print(line)
        elif args.command == "status":
            status = cluster.status()
            print(json.dumps(status, indent=2))
            return 0 if status["ready"] else 1
        elif args.command == "fleet":
            for name in args.names:
                print(f"fleet {name}: {len(cluster.apply_fleet(name))} nodes")
        elif args.command == "crds":
            for folder in args.folders:
                print(f"crds {folder}: {len(cluster.install_crds(folder))} established")
        elif args.command == "operators":
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            entries = load_sim_operators()
            while True:
                try:
                    for line in cluster.play_operators(entries):
                        print(f"operators: reconciled {line}", flush=True)
                except (ClusterError, OSError, http.client.HTTPException) as exc:
                    print(f"operators: {exc}", file=sys.stderr, flush=True)
                if args.once:
                    break
                time.sleep(args.interval)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
