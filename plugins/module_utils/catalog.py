# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for the datamill.platform component catalog.

The catalog is data (``roles/catalog/files/components/<name>.yml``, one file per component, plus profiles in
``roles/catalog/vars/main.yml``). This module validates that data and parses the Kubernetes quantities in it.
No Ansible or Kubernetes imports: everything here is unit-tested on plain dicts.
"""

from __future__ import annotations

import copy
import os
import re

from ansible_collections.datamill.platform.plugins.module_utils.quantity import request_quantity

SIZES = ("small", "standard")
SOURCE_TYPES = ("helm", "manifest", "resources")
GPU_MODES = ("none", "optional", "required")
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")
WAIT_FOR = ("ready", "complete")

# RFC 1123 label (namespaces, component names, most object names) and subdomain (Secret/CR names).
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# S3 bucket names (AWS rules, minus the dotted forms that break virtual-host addressing).
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# Kafka topic names.
TOPIC_RE = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
# Chart versions must be exact (semver-ish); no ranges, no "latest".
VERSION_RE = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")

REQUIRED_KEYS = ("layer", "summary", "namespace", "source", "depends_on", "requests")
OPTIONAL_KEYS = (
    "license",
    "app_version",
    "provides",
    "gpu",
    "credentials",
    "endpoints",
    "network",
    "settings",
    "size_settings",
    "values",
    "size_values",
    "readiness",
    "tasks",
    "images",
    "opt_in",
    "secrets",
    "pod_security",
)
READINESS_KEYS = ("label_selector", "kinds", "resources", "wait_for")


class CatalogError(ValueError):
    """Invalid catalog data; ``errors`` lists every problem found (each with its fix)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def parse_cpu(value):
    """CPU quantity -> millicores (int). Accepts 2, 0.5, "500m", "1.5"."""
    return request_quantity(value, 1000, "use e.g. 500m or 2 for CPU")


def parse_memory(value):
    """Memory quantity -> bytes (int). Accepts 1073741824, "512Mi", "1Gi", "1G"."""
    return request_quantity(value, 1, "use e.g. 512Mi or 2Gi for memory")


def parse_count(value):
    """GPU / pod counts -> int."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid count {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid count {value!r} (use a whole number)") from None


def format_cpu(millicores):
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m" if millicores < 1000 else f"{millicores / 1000:.2f}".rstrip("0").rstrip(".")


def format_memory(num_bytes):
    for suffix, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if num_bytes >= factor:
            value = num_bytes / factor
            return f"{value:.1f}".rstrip("0").rstrip(".") + suffix
    return str(num_bytes)


def parse_requests(spec):
    """{cpu, memory, gpu} quantities -> {cpu (millicores), memory (bytes), gpu (count)}."""
    spec = spec or {}
    return {
        "cpu": parse_cpu(spec.get("cpu")),
        "memory": parse_memory(spec.get("memory")),
        "gpu": parse_count(spec.get("gpu", spec.get("gpus"))),
    }


def deep_merge(base, override):
    """Recursive dict merge; lists and scalars in ``override`` replace those in ``base``. Returns a new dict."""
    result = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _file_of(name):
    return f"roles/catalog/files/components/{name}.yml"


def validate_component(name, entry, layers=None):
    """Return a list of problems of one catalog entry (empty when valid)."""
    where = f"catalog entry {name!r} ({_file_of(name)})"
    errors = []
    if not DNS_LABEL_RE.match(name or ""):
        errors.append(f"{where}: component name must be a DNS-1123 label (lowercase letters, digits, '-')")
    if not isinstance(entry, dict):
        return [*errors, f"{where}: must be a mapping"]
    for key in REQUIRED_KEYS:
        if key not in entry:
            errors.append(f"{where}: missing required key {key!r}")
    unknown = sorted(set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        errors.append(f"{where}: unknown keys {unknown}; allowed: {sorted(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    if layers is not None and entry.get("layer") not in layers:
        errors.append(f"{where}: layer {entry.get('layer')!r} is not one of {sorted(layers)}")
    if not DNS_LABEL_RE.match(str(entry.get("namespace", ""))):
        errors.append(f"{where}: namespace {entry.get('namespace')!r} is not a DNS-1123 label")
    source = entry.get("source") or {}
    stype = source.get("type")
    if stype not in SOURCE_TYPES:
        errors.append(f"{where}: source.type must be one of {list(SOURCE_TYPES)}, got {stype!r}")
    if stype == "helm":
        for key in ("repo", "chart", "version", "release"):
            if not source.get(key):
                errors.append(f"{where}: helm source needs {key!r}")
    if stype == "manifest":
        for key in ("url", "file", "version"):
            if not source.get(key):
                errors.append(f"{where}: manifest source needs {key!r}")
    if stype in ("helm", "manifest") and not VERSION_RE.match(str(source.get("version", ""))):
        errors.append(f"{where}: source.version {source.get('version')!r} must be an exact pinned version (x.y.z)")
    if source.get("release") and not DNS_LABEL_RE.match(str(source["release"])):
        errors.append(f"{where}: source.release {source['release']!r} is not a DNS-1123 label")
    if not isinstance(entry.get("depends_on", []), list):
        errors.append(f"{where}: depends_on must be a list")
    if not isinstance(entry.get("provides", []), list):
        errors.append(f"{where}: provides must be a list")
    if entry.get("gpu", "none") not in GPU_MODES:
        errors.append(f"{where}: gpu must be one of {list(GPU_MODES)}")
    if entry.get("pod_security", "baseline") not in POD_SECURITY_LEVELS:
        errors.append(f"{where}: pod_security must be one of {list(POD_SECURITY_LEVELS)}")
    requests = entry.get("requests") or {}
    for size in SIZES:
        if size not in requests:
            errors.append(f"{where}: requests.{size} is missing (give cpu and memory for every size {list(SIZES)})")
            continue
        try:
            parse_requests(requests[size])
        except ValueError as exc:
            errors.append(f"{where}: requests.{size}: {exc}")
    for key in ("size_values", "size_settings"):
        extra = sorted(set(entry.get(key) or {}) - set(SIZES))
        if extra:
            errors.append(f"{where}: {key} has unknown sizes {extra}; sizes are {list(SIZES)}")
    for cred in entry.get("credentials") or []:
        if not isinstance(cred, dict) or not DNS_SUBDOMAIN_RE.match(str(cred.get("secret", ""))):
            errors.append(f"{where}: each credentials item needs a valid `secret` name")
        elif not cred.get("keys"):
            errors.append(f"{where}: credentials {cred['secret']!r} lists no keys to generate")
    readiness = entry.get("readiness") or {}
    unknown = sorted(set(readiness) - set(READINESS_KEYS))
    if unknown:
        errors.append(f"{where}: readiness has unknown keys {unknown}; allowed: {list(READINESS_KEYS)}")
    if readiness.get("wait_for", "ready") not in WAIT_FOR:
        errors.append(f"{where}: readiness.wait_for must be one of {list(WAIT_FOR)}")
    for ref in readiness.get("resources") or []:
        if not isinstance(ref, dict) or not all(ref.get(k) for k in ("api_version", "kind", "name")):
            errors.append(f"{where}: readiness.resources items need api_version, kind and name")
    if stype in ("helm", "manifest") and not (readiness.get("label_selector") or readiness.get("resources")):
        errors.append(f"{where}: readiness needs a label_selector or resources so the wave can wait for it")
    return errors


def validate_catalog(catalog):
    """Validate the whole catalog dict ({components, profiles, default_providers, layer_roles}).

    Raises CatalogError listing every problem; returns the catalog unchanged when valid.
    """
    errors = []
    components = catalog.get("components") or {}
    if not components:
        errors.append("the catalog has no components (roles/catalog/files/components/*.yml)")
    layers = set(LAYER_ORDER)
    provided = {}
    for name, entry in sorted(components.items()):
        errors.extend(validate_component(name, entry, layers))
        if isinstance(entry, dict):
            for cap in entry.get("provides") or []:
                provided.setdefault(cap, []).append(name)
    known = set(components) | set(provided)
    for name, entry in sorted(components.items()):
        if not isinstance(entry, dict):
            continue
        for dep in entry.get("depends_on") or []:
            if dep not in known:
                errors.append(
                    f"catalog entry {name!r} ({_file_of(name)}): depends on {dep!r}, which is neither a component"
                    " nor a capability any component provides"
                )
    for cap, provider in sorted((catalog.get("default_providers") or {}).items()):
        if provider not in components:
            errors.append(f"default provider of {cap!r} is {provider!r}, which is not a catalogued component")
        elif cap != provider and cap not in (components[provider].get("provides") or []):
            errors.append(f"default provider {provider!r} does not list {cap!r} in its provides")
    for cap, names in sorted(provided.items()):
        if cap in components and cap not in names:
            errors.append(f"capability {cap!r} has the same name as a component; rename one of them")
    for pname, profile in sorted((catalog.get("profiles") or {}).items()):
        members = (profile or {}).get("components")
        if members == "all":
            continue
        if not isinstance(members, list):
            errors.append(f"profile {pname!r}: components must be a list or 'all'")
            continue
        for member in members:
            if member not in components:
                errors.append(f"profile {pname!r} lists unknown component {member!r}")
    for layer in catalog.get("layer_roles") or {}:
        if layer not in layers:
            errors.append(f"layer_roles names unknown layer {layer!r}")
    if errors:
        raise CatalogError(errors)
    return catalog


# Deployment order of layers (ties inside a wave are ordered by layer, then name).
LAYER_ORDER = ("storage", "ingestion", "processing", "exploration", "serving", "monitoring")


def load_catalog_dir(role_dir):
    """Read the catalog from a checkout or an installed collection (``roles/catalog``); needs PyYAML.

    Used by tests and benchmarks; the playbooks load the same files with ``include_vars``.
    """
    import yaml  # local import: module_utils shipped to targets must not need PyYAML at import time

    components = {}
    comp_dir = os.path.join(role_dir, "files", "components")
    for fname in sorted(os.listdir(comp_dir)):
        if fname.endswith(".yml"):
            with open(os.path.join(comp_dir, fname), encoding="utf-8") as handle:
                components.update(yaml.safe_load(handle) or {})
    with open(os.path.join(role_dir, "vars", "main.yml"), encoding="utf-8") as handle:
        main = yaml.safe_load(handle) or {}
    return {
        "components": components,
        "profiles": main.get("catalog_profiles", {}),
        "default_providers": main.get("catalog_default_providers", {}),
        "layer_roles": main.get("catalog_layer_roles", {}),
    }
