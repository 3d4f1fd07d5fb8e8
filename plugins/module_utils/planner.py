# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment planner: inventory (profile + overrides + size) + catalog -> ordered, validated plan.

Pure functions on plain data. ``build_plan`` resolves the enabled set (profile, user overrides, dependencies and
capabilities), rejects what cannot work (unknown components, cycles, missing dependencies, bad sizes and names;
every message carries its fix), orders components into waves, renders chart values and component settings, and
sums the requests against the cluster capacity. ``render_table``/``capacity_table`` print it for humans.
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.datamill.platform.plugins.module_utils.catalog import (
    BUCKET_RE,
    DNS_LABEL_RE,
    DNS_SUBDOMAIN_RE,
    LAYER_ORDER,
    SIZES,
    TOPIC_RE,
    CatalogError,
    deep_merge,
    format_cpu,
    format_memory,
    parse_count,
    parse_cpu,
    parse_memory,
    parse_requests,
    validate_catalog,
)

OVERRIDE_KEYS = ("enabled", "namespace", "values", "settings", "requests")
_PLACEHOLDER_RE = re.compile(r"\{(namespace|ns:[a-z0-9-]+|endpoint:[a-z0-9-]+\.[a-z0-9_]+)\}")
_SEVERITY_ORDER = {"restricted": 0, "baseline": 1, "privileged": 2}


class PlanError(ValueError):
    """The inventory asks for something the planner cannot deliver; ``errors`` carry the fixes."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(f"- {e}" for e in self.errors))


def _suggest(name, choices):
    close = difflib.get_close_matches(str(name), sorted(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _profile_members(catalog, profile):
    profiles = catalog.get("profiles") or {}
    if profile not in profiles:
        raise PlanError(
            [
                f"unknown profile {profile!r}.{_suggest(profile, profiles)} Set datamill_profile to one of "
                f"{sorted(profiles)}."
            ]
        )
    members = profiles[profile].get("components")
    components = catalog["components"]
    if members == "all":
        return sorted(n for n, e in components.items() if not e.get("opt_in"))
    return list(members)


def _validate_overrides(catalog, overrides, size):
    errors = []
    components = catalog["components"]
    if size not in SIZES:
        errors.append(f"invalid size {size!r}. Set datamill_size to one of {list(SIZES)}.")
    if not isinstance(overrides, dict):
        return [*errors, "datamill_components must be a mapping of component name -> settings"]
    for name, override in sorted(overrides.items()):
        if name not in components:
            errors.append(
                f"unknown component {name!r} in datamill_components.{_suggest(name, components)} "
                f"Known components: {', '.join(sorted(components))}."
            )
            continue
        if override is None:
            continue
        if not isinstance(override, dict):
            errors.append(f"datamill_components.{name} must be a mapping (keys: {', '.join(OVERRIDE_KEYS)})")
            continue
        unknown = sorted(set(override) - set(OVERRIDE_KEYS))
        for key in unknown:
            errors.append(
                f"datamill_components.{name}.{key} is not a known key.{_suggest(key, OVERRIDE_KEYS)} "
                f"Allowed keys: {', '.join(OVERRIDE_KEYS)}."
            )
        if "enabled" in override and not isinstance(override["enabled"], bool):
            errors.append(f"datamill_components.{name}.enabled must be true or false, got {override['enabled']!r}")
        if "namespace" in override and not DNS_LABEL_RE.match(str(override["namespace"])):
            errors.append(
                f"datamill_components.{name}.namespace {override['namespace']!r} is not a valid namespace name: "
                "use lowercase letters, digits and '-', at most 63 characters."
            )
        for key in ("values", "settings"):
            if key in override and not isinstance(override[key], dict):
                errors.append(f"datamill_components.{name}.{key} must be a mapping")
        if "requests" in override:
            try:
                parse_requests(override["requests"])
            except (ValueError, AttributeError) as exc:
                errors.append(f"datamill_components.{name}.requests: {exc}")
    return errors


def _providers(components):
    providers = {}
    for name, entry in components.items():
        for cap in entry.get("provides") or []:
            providers.setdefault(cap, []).append(name)
    return providers


def resolve(catalog, profile, overrides=None, size="small"):
    """Compute the enabled set. Returns (enabled: {name: why}, bindings: {capability: provider}, warnings)."""
    overrides = overrides or {}
    errors = _validate_overrides(catalog, overrides, size)
    members = _profile_members(catalog, profile)
    if errors:
        raise PlanError(errors)
    components = catalog["components"]
    providers = _providers(components)
    defaults = catalog.get("default_providers") or {}
    disabled = {n for n, o in overrides.items() if isinstance(o, dict) and o.get("enabled") is False}
    enabled = {}
    for name in members:
        if name not in disabled:
            enabled[name] = f"profile {profile}"
    for name, override in sorted(overrides.items()):
        if isinstance(override, dict) and override.get("enabled") is True and name not in enabled:
            enabled[name] = "datamill_components"
    warnings = []
    bindings = {}
    queue = sorted(enabled)
    while queue:
        name = queue.pop(0)
        for dep in components[name].get("depends_on") or []:
            if dep in components:
                target = dep
            else:
                candidates = sorted(p for p in providers.get(dep, []) if p in enabled)
                if dep in bindings:
                    target = bindings[dep]
                elif candidates:
                    target = defaults.get(dep) if defaults.get(dep) in candidates else candidates[0]
                    if len(candidates) > 1:
                        warnings.append(
                            f"{', '.join(candidates)} all provide {dep!r}; {target} is used for it "
                            f"(disable the others in datamill_components if that is not intended)"
                        )
                else:
                    target = defaults.get(dep)
                    if target is None or target in disabled:
                        alternatives = sorted(p for p in providers.get(dep, []) if p not in disabled)
                        fix = (
                            f"enable one of {alternatives} in datamill_components"
                            if alternatives
                            else f"re-enable one of {sorted(providers.get(dep, []))}"
                        )
                        raise PlanError(
                            [
                                f"missing dependency: {name} needs {dep!r} but its provider "
                                f"{target or '(none)'} is disabled. Fix: {fix}, or disable {name} "
                                f"(datamill_components: {{{name}: {{enabled: false}}}})."
                            ]
                        )
                bindings[dep] = target
            if target in disabled:
                raise PlanError(
                    [
                        f"missing dependency: {name} needs {target}, which datamill_components disables. Fix: "
                        f"remove `{target}: {{enabled: false}}` or also disable {name}."
                    ]
                )
            if target not in enabled:
                enabled[target] = f"dependency of {name}"
                queue.append(target)
    for cap, names in providers.items():
        active = sorted(n for n in names if n in enabled)
        if cap not in bindings and active:
            bindings[cap] = defaults.get(cap) if defaults.get(cap) in active else active[0]
    return enabled, bindings, sorted(set(warnings))


def _direct_deps(components, name, bindings):
    deps = []
    for dep in components[name].get("depends_on") or []:
        deps.append(dep if dep in components else bindings[dep])
    return sorted(set(deps))


def find_cycle(graph):
    """Return one dependency cycle as a list of names (first == last), or None. ``graph``: name -> deps."""
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def order_waves(graph, layer_of=None):
    """Group nodes into waves: a node's wave is one more than the latest wave of its dependencies."""
    cycle = find_cycle(graph)
    if cycle:
        raise PlanError(
            [
                "dependency cycle: " + " -> ".join(cycle) + ". Fix: remove one of these depends_on entries in "
                "roles/catalog/files/components/<name>.yml (a component cannot wait for itself)."
            ]
        )
    wave = {}

    def depth(node):
        if node not in wave:
            deps = graph.get(node, ())
            wave[node] = 0 if not deps else 1 + max(depth(d) for d in deps)
        return wave[node]

    for node in graph:
        depth(node)
    layer_rank = {name: i for i, name in enumerate(LAYER_ORDER)}
    waves = [[] for _index in range(max(wave.values(), default=-1) + 1)]
    for node, index in wave.items():
        waves[index].append(node)
    for members in waves:
        members.sort(key=lambda n: (layer_rank.get((layer_of or {}).get(n), 99), n))
    return waves


def substitute(value, context):
    """Replace {namespace}, {ns:<component>} and {endpoint:<component-or-capability>.<key>} in strings."""
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if not isinstance(value, str) or "{" not in value:
        return value

    def repl(match):
        token = match.group(1)
        if token == "namespace":
            return context["namespace"]
        kind, _sep, ref = token.partition(":")
        if kind == "ns":
            if ref not in context["namespaces"]:
                raise PlanError([f"placeholder {{{token}}} names unknown component {ref!r}"])
            return context["namespaces"][ref]
        target, _sep, key = ref.partition(".")
        target = context["bindings"].get(target, target)
        endpoints = context["endpoints"].get(target)
        if endpoints is None or key not in endpoints:
            raise PlanError(
                [f"placeholder {{{token}}}: {target!r} has no endpoint {key!r} (is it enabled and catalogued?)"]
            )
        return endpoints[key]

    return _PLACEHOLDER_RE.sub(repl, value)


def _validate_settings(name, settings):
    errors = []
    for bucket in settings.get("buckets") or []:
        if not isinstance(bucket, str) or not BUCKET_RE.match(bucket):
            errors.append(
                f"datamill_components.{name}.settings.buckets: {bucket!r} is not a valid S3 bucket name "
                "(3-63 lowercase letters, digits or '-', starting and ending with a letter or digit)"
            )
    seen = {}
    for topic in settings.get("topics") or []:
        tname = topic.get("name") if isinstance(topic, dict) else None
        if not tname or not TOPIC_RE.match(str(tname)):
            errors.append(
                f"datamill_components.{name}.settings.topics: {tname!r} is not a valid Kafka topic name "
                "(1-249 of letters, digits, '.', '_' or '-'); each topic is a mapping with at least `name`"
            )
            continue
        resource = kube_name(tname)
        if resource in seen:
            errors.append(
                f"datamill_components.{name}.settings.topics: {seen[resource]!r} and {tname!r} both map to the "
                f"KafkaTopic {resource!r}; rename one of them"
            )
        seen[resource] = tname
        for key in ("partitions", "replicas"):
            if key in topic and (not isinstance(topic[key], int) or topic[key] < 1):
                errors.append(f"datamill_components.{name}.settings.topics[{tname}].{key} must be a positive integer")
    for user in settings.get("users") or []:
        uname = user.get("name") if isinstance(user, dict) else None
        if not uname or not DNS_SUBDOMAIN_RE.match(str(uname)) or len(str(uname)) > 63:
            errors.append(
                f"datamill_components.{name}.settings.users: {uname!r} is not a valid user name "
                "(lowercase letters, digits, '-' or '.', at most 63 characters)"
            )
        elif user.get("authentication", "scram-sha-512") not in ("scram-sha-512", "tls"):
            errors.append(f"datamill_components.{name}.settings.users[{uname}].authentication: scram-sha-512 or tls")
    for repo in settings.get("repositories") or []:
        rname = repo.get("name") if isinstance(repo, dict) else None
        if not rname or not re.match(r"^[a-z0-9][a-z0-9-]{2,62}$", str(rname)):
            errors.append(
                f"datamill_components.{name}.settings.repositories: {rname!r} is not a valid lakeFS repository name "
                "(3-63 lowercase letters, digits or '-'); each repository is a mapping with `name` (and `bucket`)"
            )
        elif "bucket" in repo and not BUCKET_RE.match(str(repo["bucket"])):
            errors.append(
                f"datamill_components.{name}.settings.repositories[{rname}].bucket {repo['bucket']!r} is not a valid "
                "S3 bucket name"
            )
    for db in settings.get("databases") or []:
        dname = db.get("name") if isinstance(db, dict) else None
        if not dname or not re.match(r"^[a-z_][a-z0-9_]{0,62}$", str(dname)):
            errors.append(
                f"datamill_components.{name}.settings.databases: {dname!r} is not a valid Postgres database name "
                "(lowercase letters, digits, '_'; start with a letter or '_')"
            )
    for key in ("replicas", "instances", "controllers"):
        if key in settings and (not isinstance(settings[key], int) or settings[key] < 0):
            errors.append(f"datamill_components.{name}.settings.{key} must be a non-negative integer")
    for key in ("storage_size", "memory"):
        if key in settings:
            try:
                parse_memory(settings[key])
            except ValueError as exc:
                errors.append(f"datamill_components.{name}.settings.{key}: {exc}")
    if "cpu" in settings:
        try:
            parse_cpu(settings["cpu"])
        except ValueError as exc:
            errors.append(f"datamill_components.{name}.settings.cpu: {exc}")
    return errors


def kube_name(value):
    """A Kubernetes object name for a free-form name (topic names may hold '_' and upper case)."""
    name = re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-")
    return name[:63].rstrip("-") or "x"


def normalize_capacity(capacity):
    """Accept gpu_nodes-style data and return {cpu, memory, gpu, pods, nodes} (millicores, bytes, counts).

    Accepted shapes: {totals: {...}} or {nodes: [{allocatable: {...}}]} from datamill.platform.gpu_nodes, or a
    flat {cpu, memory, gpu(s), pods}. Quantities may be strings ("8", "32Gi") or numbers (millicores, bytes).
    """
    if not capacity:
        return None
    if capacity.get("totals"):
        flat = dict(capacity["totals"])
        if not isinstance(flat.get("nodes"), int):
            flat["nodes"] = len(capacity.get("nodes") or [])
        # gpu_nodes reports GPUs per vendor ({nvidia: 2}); only schedulable ones count.
        for key in ("gpus_schedulable", "gpus"):
            if isinstance(flat.get(key), dict):
                flat["gpus"] = sum(parse_count(v) for v in flat[key].values())
                break
        capacity = flat
    elif capacity.get("nodes") and isinstance(capacity["nodes"], list):
        total = {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0, "nodes": 0}
        for node in capacity["nodes"]:
            if node.get("schedulable") is False or node.get("ready") is False:
                continue
            alloc = node.get("allocatable") or {}
            total["cpu"] += _cpu_any(alloc.get("cpu"))
            total["memory"] += _mem_any(alloc.get("memory"))
            total["gpu"] += parse_count(alloc.get("gpus", alloc.get("gpu", alloc.get("nvidia.com/gpu"))))
            total["pods"] += parse_count(alloc.get("pods"))
            total["nodes"] += 1
        return total
    return {
        "cpu": _cpu_any(capacity.get("cpu")),
        "memory": _mem_any(capacity.get("memory")),
        "gpu": parse_count(capacity.get("gpus", capacity.get("gpu"))),
        "pods": parse_count(capacity.get("pods")),
        "nodes": parse_count(capacity.get("nodes")) if not isinstance(capacity.get("nodes"), list) else 0,
    }


def _cpu_any(value):
    # Numbers from gpu_nodes are already millicores; strings are Kubernetes quantities.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return parse_cpu(value)


def _mem_any(value):
    return parse_memory(value)


def build_plan(
    catalog,
    profile,
    overrides=None,
    size="small",
    *,
    capacity=None,
    headroom=0.0,
    validate=True,
    skip_undeployable=False,
):
    """Plan a deployment. Raises PlanError/CatalogError on invalid input; see module docstring.

    ``skip_undeployable`` leaves out components whose layer has no role yet (they are listed in ``skipped``)
    instead of keeping them in the plan marked as not deployable.
    """
    if validate:
        validate_catalog(catalog)
    overrides = overrides or {}
    components = catalog["components"]
    layer_roles = catalog.get("layer_roles") or {}
    enabled, bindings, warnings = resolve(catalog, profile, overrides, size)

    graph = {name: _direct_deps(components, name, bindings) for name in enabled}
    layer_of = {name: components[name]["layer"] for name in enabled}
    waves = order_waves(graph, layer_of)

    namespaces = {
        name: (overrides.get(name) or {}).get("namespace") or entry["namespace"] for name, entry in components.items()
    }
    endpoints = {}
    for name in enabled:
        ctx = {"namespace": namespaces[name], "namespaces": namespaces, "endpoints": {}, "bindings": bindings}
        endpoints[name] = substitute(components[name].get("endpoints") or {}, ctx)

    errors = []
    planned = []
    totals = {"cpu": 0, "memory": 0, "gpu": 0}
    ns_info = {}
    for index, members in enumerate(waves):
        for name in members:
            entry = components[name]
            override = overrides.get(name) or {}
            ctx = {
                "namespace": namespaces[name],
                "namespaces": namespaces,
                "endpoints": endpoints,
                "bindings": bindings,
            }
            settings = deep_merge(entry.get("settings") or {}, (entry.get("size_settings") or {}).get(size) or {})
            settings = deep_merge(settings, override.get("settings") or {})
            errors.extend(_validate_settings(name, settings))
            values = deep_merge(entry.get("values") or {}, (entry.get("size_values") or {}).get(size) or {})
            values = deep_merge(values, override.get("values") or {})
            try:
                values = substitute(values, ctx)
                settings = substitute(settings, ctx)
            except PlanError as exc:
                errors.extend(exc.errors)
            req_spec = deep_merge((entry.get("requests") or {}).get(size) or {}, override.get("requests") or {})
            requests = parse_requests(req_spec)
            for key in totals:
                totals[key] += requests[key]
            deployable = entry["layer"] in layer_roles
            reason = (
                ""
                if deployable
                else f"not deployable yet: the {entry['layer']} layer has no role in this collection "
                f"(catalogued with its pin only)"
            )
            readiness = dict(entry.get("readiness") or {})
            # One item of component_ready's `components` option. The namespace goes with the label selector only:
            # a namespace alone would make component_ready watch every object in it.
            spec = {"name": name, "wait_for": readiness.get("wait_for", "ready")}
            if readiness.get("label_selector"):
                spec["namespace"] = namespaces[name]
                spec["label_selector"] = readiness["label_selector"]
            if readiness.get("kinds"):
                # Pods are always listed too, so a crash-looping pod is named with its container and reason.
                spec["kinds"] = list(readiness["kinds"]) + ([] if "Pod" in readiness["kinds"] else ["Pod"])
            spec["resources"] = [
                dict(ref, namespace=ref.get("namespace") or namespaces[name])
                for ref in readiness.get("resources") or []
            ]
            source = dict(entry["source"])
            pod_security = entry.get("pod_security", "baseline")
            info = ns_info.setdefault(namespaces[name], {"pod_security": pod_security, "components": []})
            if _SEVERITY_ORDER[pod_security] > _SEVERITY_ORDER[info["pod_security"]]:
                info["pod_security"] = pod_security
            info["components"].append(name)
            planned.append(
                {
                    "name": name,
                    "layer": entry["layer"],
                    "summary": entry.get("summary", ""),
                    "wave": index,
                    "namespace": namespaces[name],
                    "source": source,
                    "version": source.get("version") or entry.get("app_version") or "",
                    "app_version": entry.get("app_version", ""),
                    "license": entry.get("license", ""),
                    "enabled_by": enabled[name],
                    "depends_on": graph[name],
                    "requests": requests,
                    "gpu": entry.get("gpu", "none"),
                    "deployable": deployable,
                    "reason": reason,
                    "role": layer_roles.get(entry["layer"], ""),
                    "tasks": entry.get("tasks", ""),
                    "values": values,
                    "settings": settings,
                    "credentials": entry.get("credentials") or [],
                    # Every Secret a consumer may read: generated credentials, operator-written Secrets, and one
                    # per user declared in the settings (Strimzi names a KafkaUser's Secret after the user).
                    "secrets": sorted(
                        {c["secret"] for c in entry.get("credentials") or []}
                        | set(substitute(entry.get("secrets") or [], ctx))
                        | {u["name"] for u in settings.get("users") or [] if isinstance(u, dict) and u.get("name")}
                    ),
                    "endpoints": endpoints[name],
                    "network": entry.get("network") or {},
                    "readiness": spec,
                    "images": entry.get("images") or [],
                }
            )
    skipped = []
    if skip_undeployable:
        skipped = [p["name"] for p in planned if not p["deployable"]]
        for item in planned:
            blocked = sorted(set(item["depends_on"]) & set(skipped))
            if item["deployable"] and blocked:
                errors.append(
                    f"{item['name']} depends on {', '.join(blocked)}, which cannot be deployed yet (no layer role). "
                    f"Fix: disable {item['name']} in datamill_components."
                )
        planned = [p for p in planned if p["deployable"]]
        waves = [members for members in ([n for n in w if n not in skipped] for w in waves) if members]
        for item in planned:
            item["wave"] = next(i for i, members in enumerate(waves) if item["name"] in members)
        totals = {key: sum(p["requests"][key] for p in planned) for key in totals}
        ns_info = {
            ns: dict(info, components=[c for c in info["components"] if c not in skipped])
            for ns, info in ns_info.items()
            if any(c not in skipped for c in info["components"])
        }
    if errors:
        raise PlanError(errors)

    cap = normalize_capacity(capacity) if capacity else None
    fits, shortfalls, usable = True, [], None
    if cap is not None:
        usable = {key: int(cap[key] * (1.0 - headroom)) if key != "gpu" else cap[key] for key in totals}
        for key, label in (("cpu", "CPU"), ("memory", "memory"), ("gpu", "GPU")):
            if totals[key] > usable[key]:
                fits = False
                shortfalls.append(
                    f"{label}: the plan requests {_fmt(key, totals[key])} but the cluster has "
                    f"{_fmt(key, usable[key])} allocatable"
                    + (f" after {int(headroom * 100)}% headroom" if headroom and key != "gpu" else "")
                )
        needs_gpu = [p["name"] for p in planned if p["gpu"] == "required"]
        if needs_gpu and cap["gpu"] == 0:
            fits = False
            shortfalls.append(f"GPU: {', '.join(needs_gpu)} require a GPU node and the cluster has none")

    plan = {
        "profile": profile,
        "size": size,
        "components": planned,
        "waves": waves,
        "bindings": bindings,
        "namespaces": {ns: ns_info[ns] for ns in sorted(ns_info)},
        "totals": totals,
        "capacity": cap,
        "usable": usable,
        "headroom": headroom,
        "fits": fits,
        "shortfalls": shortfalls,
        "undeployable": [p["name"] for p in planned if not p["deployable"]],
        "skipped": skipped,
        "warnings": warnings,
    }
    plan["table"] = render_table(plan)
    plan["capacity_table"] = capacity_table(plan)
    return plan


def _fmt(key, value):
    if key == "cpu":
        return format_cpu(value)
    if key == "memory":
        return format_memory(value)
    return str(value)


def _grid(headers, rows):
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(c))) for w, c in zip(widths, row, strict=False)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + " |", line]
    for row in rows:
        out.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")
    out.append(line)
    return out


def capacity_table(plan):
    cap = plan.get("capacity")
    usable = plan.get("usable")
    rows = []
    for key, label in (("cpu", "CPU"), ("memory", "memory"), ("gpu", "GPU")):
        requested = plan["totals"][key]
        if cap is None:
            rows.append([label, _fmt(key, requested), "unknown", "unknown", "not checked"])
        else:
            ok = requested <= usable[key]
            rows.append(
                [label, _fmt(key, requested), _fmt(key, cap[key]), _fmt(key, usable[key]), "ok" if ok else "TOO BIG"]
            )
    lines = _grid(["resource", "requested", "allocatable", "usable", "verdict"], rows)
    if plan.get("shortfalls"):
        lines.append("Refused: " + "; ".join(plan["shortfalls"]))
        lines.append(
            "Fix: use a smaller profile or size (datamill_profile / datamill_size), disable components in "
            "datamill_components, or add nodes."
        )
    return "\n".join(lines)


def render_table(plan):
    rows = []
    for comp in plan["components"]:
        req = comp["requests"]
        rows.append(
            [
                comp["wave"],
                comp["name"],
                comp["layer"],
                comp["version"],
                comp["source"].get("chart") or comp["source"].get("type"),
                comp["namespace"],
                format_cpu(req["cpu"]),
                format_memory(req["memory"]),
                req["gpu"],
                "yes" if comp["deployable"] else "NO (layer role missing)",
            ]
        )
    headers = ["wave", "component", "layer", "version", "source", "namespace", "cpu", "memory", "gpu", "deployable"]
    lines = [f"Plan: profile {plan['profile']}, size {plan['size']}, {len(plan['components'])} components"]
    lines += _grid(headers, rows)
    lines.append(capacity_table(plan))
    for comp in plan["components"]:
        if not comp["deployable"]:
            lines.append(f"{comp['name']}: {comp['reason']}")
    for name in plan.get("skipped") or []:
        lines.append(f"skipped (datamill_skip_undeployable): {name} - its layer has no role yet")
    for warning in plan.get("warnings") or []:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def plan_summary(plan):
    """A JSON-friendly digest for tools (no values, no settings)."""
    return {
        "profile": plan["profile"],
        "size": plan["size"],
        "waves": plan["waves"],
        "components": [
            {
                "name": c["name"],
                "layer": c["layer"],
                "wave": c["wave"],
                "version": c["version"],
                "source": c["source"],
                "namespace": c["namespace"],
                "requests": c["requests"],
                "deployable": c["deployable"],
                "depends_on": c["depends_on"],
            }
            for c in plan["components"]
        ],
        "totals": plan["totals"],
        "capacity": plan["capacity"],
        "fits": plan["fits"],
        "shortfalls": plan["shortfalls"],
        "undeployable": plan["undeployable"],
        "skipped": plan.get("skipped", []),
    }


__all__ = [
    "CatalogError",
    "PlanError",
    "build_plan",
    "capacity_table",
    "find_cycle",
    "kube_name",
    "normalize_capacity",
    "order_waves",
    "plan_summary",
    "render_table",
    "resolve",
    "substitute",
]
