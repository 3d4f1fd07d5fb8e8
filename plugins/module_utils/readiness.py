# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness rules for Kubernetes objects, as pure functions over plain dicts.

The order follows kstatus (sigs.k8s.io/cli-utils pkg/kstatus/status):

1. ``metadata.deletionTimestamp`` -> Terminating
2. ``status.observedGeneration`` present and different from ``metadata.generation`` -> InProgress
3. condition ``Reconciling=True`` -> InProgress, ``Stalled=True`` -> Failed
4. a custom-resource rule (data, see ``BUILTIN_RULES``) or a built-in kind rule
5. a generic ``Ready`` condition (True -> Current, False/Unknown -> InProgress, absent -> Current)

On top of kstatus this module fails fast on what will not heal by waiting (CrashLoopBackOff,
image pull errors beyond a grace period, Unschedulable beyond a grace period quoting the scheduler,
ProgressDeadlineExceeded, Job Failed) and offers a ``complete`` mode in which Jobs must finish.

Nothing here talks to an API server; time is passed in as ``now`` (epoch seconds).
"""

from __future__ import annotations

import copy
import datetime
import re

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
TERMINATING = "Terminating"
NOT_FOUND = "NotFound"

STATUSES = (CURRENT, IN_PROGRESS, FAILED, TERMINATING, NOT_FOUND)

DEFAULT_OPTIONS = {
    "wait_for": "ready",  # or "complete": Jobs (and rule-defined CRs) must finish
    "image_pull_grace": 60.0,  # seconds an image pull may fail before the pod is Failed
    "unschedulable_grace": 15.0,  # seconds a pod may be Unschedulable before it is Failed (kstatus: 15 s)
    "config_error_grace": 60.0,  # CreateContainerConfigError (missing Secret/ConfigMap key) grace
}

# Container waiting reasons that never heal by waiting.
FATAL_WAITING = ("CrashLoopBackOff", "InvalidImageName", "ErrImageNeverPull")
# Container waiting reasons that fail after ``image_pull_grace``.
PULL_WAITING = ("ImagePullBackOff", "ErrImagePull")
# Container waiting reasons that fail after ``config_error_grace``.
CONFIG_WAITING = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")

# Kinds that are Current as soon as they exist.
ALWAYS_CURRENT = frozenset(
    (
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "CronJob",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "NetworkPolicy",
        "LimitRange",
        "ResourceQuota",
        "Endpoints",
        "EndpointSlice",
        "PriorityClass",
        "StorageClass",
        "IngressClass",
        "Namespace",
    )
)

# Kinds whose pods are matched through ``spec.selector`` (a failing selected pod fails the controller).
POD_CONTROLLERS = frozenset(("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"))

# ---------------------------------------------------------------------------------------------------------------
# Custom-resource rules as data.  Key: "<group>/<Kind>" (or just "<Kind>" for user rules).
#
#   conditions:           condition types that must all be status "True" for Current
#   conditions_optional:  true -> an absent condition counts as met (e.g. operators that set none yet)
#   fields:               [{path, in}] every field must hold one of the values for Current
#   failed:               [{path, in}] or [{condition, status, reasons?}] -> Failed when matched
#   complete:             [{path, in}] extra requirement when wait_for == complete
#   message_path:         field whose value explains a failure (e.g. status.error)
# ---------------------------------------------------------------------------------------------------------------
_STRIMZI = {
    "conditions": ["Ready"],
    "failed": [
        {
            "condition": "NotReady",
            "status": "True",
            "reasons": [
                "InvalidResourceException",
                "InvalidConfigurationException",
                "InvalidConfigParameterException",
                "KafkaUpgradeException",
            ],
        }
    ],
}

BUILTIN_RULES = {
    "kafka.strimzi.io/Kafka": _STRIMZI,
    "kafka.strimzi.io/KafkaNodePool": {"conditions": ["Ready"], "conditions_optional": True},
    "kafka.strimzi.io/KafkaTopic": _STRIMZI,
    "kafka.strimzi.io/KafkaUser": _STRIMZI,
    "kafka.strimzi.io/KafkaConnect": _STRIMZI,
    "kafka.strimzi.io/KafkaConnector": _STRIMZI,
    "kafka.strimzi.io/KafkaBridge": _STRIMZI,
    "kafka.strimzi.io/KafkaMirrorMaker2": _STRIMZI,
    "rabbitmq.com/RabbitmqCluster": {"conditions": ["AllReplicasReady", "ClusterAvailable"]},
    "postgresql.cnpg.io/Cluster": {"conditions": ["Ready"]},
    "postgresql.cnpg.io/Pooler": {"conditions": [], "conditions_optional": True},
    "registry.apicur.io/ApicurioRegistry3": {"conditions": ["Ready"], "conditions_optional": True},
    "flink.apache.org/FlinkDeployment": {
        "fields": [{"path": "status.lifecycleState", "in": ["STABLE"]}],
        "failed": [{"path": "status.lifecycleState", "in": ["FAILED", "ROLLED_BACK"]}],
        "message_path": "status.error",
    },
    "flink.apache.org/FlinkSessionJob": {
        "fields": [{"path": "status.lifecycleState", "in": ["STABLE"]}],
        "failed": [{"path": "status.lifecycleState", "in": ["FAILED", "ROLLED_BACK"]}],
        "message_path": "status.error",
    },
    "sparkoperator.k8s.io/SparkApplication": {
        "fields": [{"path": "status.applicationState.state", "in": ["RUNNING", "SUCCEEDING", "COMPLETED"]}],
        "complete": [{"path": "status.applicationState.state", "in": ["COMPLETED"]}],
        "failed": [{"path": "status.applicationState.state", "in": ["FAILED", "SUBMISSION_FAILED"]}],
        "message_path": "status.applicationState.errorMessage",
    },
    "kubernetes.dask.org/DaskCluster": {
        "fields": [{"path": "status.phase", "in": ["Running"]}],
        "failed": [{"path": "status.phase", "in": ["Failed"]}],
    },
    "serving.kserve.io/InferenceService": {
        "conditions": ["Ready"],
        "failed": [{"path": "status.modelStatus.states.targetModelState", "in": ["FailedToLoad"]}],
        "message_path": "status.modelStatus.lastFailureInfo.message",
    },
    "elasticsearch.k8s.elastic.co/Elasticsearch": {
        "fields": [{"path": "status.health", "in": ["green"]}, {"path": "status.phase", "in": ["Ready"]}],
        "failed": [{"path": "status.phase", "in": ["Invalid"]}],
    },
    "kibana.k8s.elastic.co/Kibana": {"fields": [{"path": "status.health", "in": ["green"]}]},
    "nvidia.com/ClusterPolicy": {
        "fields": [{"path": "status.state", "in": ["ready"]}],
        "failed": [{"path": "status.state", "in": ["ignored"]}],
    },
    "minio.min.io/Tenant": {
        "fields": [
            {"path": "status.currentState", "in": ["Initialized"]},
            {"path": "status.healthStatus", "in": ["green"]},
        ]
    },
    "superset.apache.org/Superset": {"conditions": ["Ready"], "conditions_optional": True},
    "monitoring.coreos.com/Prometheus": {"conditions": ["Available", "Reconciled"]},
    "monitoring.coreos.com/Alertmanager": {"conditions": ["Available", "Reconciled"]},
}

RULE_KEYS = frozenset(("conditions", "conditions_optional", "fields", "failed", "complete", "message_path"))


def merge_rules(extra):
    """Return the built-in rules with ``extra`` (same shape) merged over them; raise ValueError on bad data."""
    rules = copy.deepcopy(BUILTIN_RULES)
    for key, rule in (extra or {}).items():
        if not isinstance(rule, dict):
            raise ValueError(f"rules[{key}] must be a dict, got {type(rule).__name__}")
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError(
                "rules[{}]: unknown keys {} (allowed: {})".format(
                    key, ", ".join(sorted(unknown)), ", ".join(sorted(RULE_KEYS))
                )
            )
        for listkey in ("fields", "failed", "complete"):
            for item in rule.get(listkey) or []:
                if not isinstance(item, dict) or not (("path" in item and "in" in item) or "condition" in item):
                    raise ValueError(f"rules[{key}].{listkey} entries need {{path, in}} or {{condition, status}}")
        rules[key] = rule
    return rules


# ---------------------------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------------------------
def get_path(obj, path, default=None):
    """Read ``a.b.c`` from nested dicts."""
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def _int(obj, path, default=0):
    val = get_path(obj, path, None)
    if val is None:
        return default
    try:
        return int(val)
    except (TypeError, ValueError):
        return default


def conditions_of(obj):
    conds = get_path(obj, "status.conditions", None)
    if not isinstance(conds, list):
        return {}
    out = {}
    for c in conds:
        if isinstance(c, dict) and c.get("type"):
            out[c["type"]] = c
    return out


def parse_time(value):
    """RFC 3339 timestamp -> epoch seconds (None when absent or malformed)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.UTC)
    return dt.timestamp()


def result(status, reason="", message="", container=None):
    out = {"status": status, "reason": reason, "message": message}
    if container:
        out["container"] = container
    return out


def group_of(obj):
    api_version = obj.get("apiVersion") or ""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def ref_of(obj):
    meta = obj.get("metadata") or {}
    return {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", "")}


def describe(obj):
    ref = ref_of(obj)
    if ref["namespace"]:
        return "{} {}/{}".format(ref["kind"], ref["namespace"], ref["name"])
    return "{} {}".format(ref["kind"], ref["name"])


def _opts(options):
    opts = dict(DEFAULT_OPTIONS)
    for key, val in (options or {}).items():
        if val is not None:
            opts[key] = val
    return opts


# ---------------------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------------------
def compute(obj, now, options=None, rules=None, context=None):
    """Status of one object: dict(status, reason, message[, container]).

    ``options``: see ``DEFAULT_OPTIONS``. ``rules``: custom-resource rules (default ``BUILTIN_RULES``).
    ``context``: facts from other objects, e.g. ``{"storage_classes": {name: volumeBindingMode},
    "default_storage_class": name}``.
    """
    if obj is None:
        return result(NOT_FOUND, "NotFound", "object does not exist (yet)")
    opts = _opts(options)
    rules = BUILTIN_RULES if rules is None else rules
    context = context or {}

    res = generic_properties(obj)
    if res is not None:
        return res

    kind = obj.get("kind", "")
    rule = rules.get(f"{group_of(obj)}/{kind}")
    if rule is None:
        rule = rules.get(kind)
    if rule is not None:
        return custom_rule(obj, rule, opts)

    fn = KIND_RULES.get(kind)
    if fn is not None and group_of(obj) in KIND_GROUPS.get(kind, ("",)):
        return fn(obj, now, opts, context)
    if kind in ALWAYS_CURRENT:
        return result(CURRENT, "", f"{kind} exists")
    return ready_condition(obj)


def generic_properties(obj):
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return result(TERMINATING, "Terminating", "scheduled for deletion")
    generation = meta.get("generation")
    observed = get_path(obj, "status.observedGeneration", None)
    if generation is not None and observed is not None and observed != generation:
        return result(
            IN_PROGRESS,
            "LatestGenerationNotObserved",
            f"generation is {generation}, but latest observed generation is {observed}",
        )
    conds = conditions_of(obj)
    for ctype, cond in conds.items():
        if ctype == "Reconciling" and cond.get("status") == "True":
            return result(IN_PROGRESS, cond.get("reason") or "Reconciling", cond.get("message") or "reconciling")
        if ctype == "Stalled" and cond.get("status") == "True":
            return result(FAILED, cond.get("reason") or "Stalled", cond.get("message") or "stalled")
    return None


def ready_condition(obj):
    cond = conditions_of(obj).get("Ready")
    if cond is None:
        return result(CURRENT, "", "resource is current")
    if cond.get("status") == "True":
        return result(CURRENT, "", "Ready")
    return result(
        IN_PROGRESS, cond.get("reason") or "NotReady", cond.get("message") or "Ready is {}".format(cond.get("status"))
    )


# ---------------------------------------------------------------------------------------------------------------
# custom-resource rules (data driven)
# ---------------------------------------------------------------------------------------------------------------
def _field_matches(obj, item):
    return get_path(obj, item["path"], None) in item["in"]


def custom_rule(obj, rule, opts):
    conds = conditions_of(obj)
    detail = get_path(obj, rule["message_path"], None) if rule.get("message_path") else None
    for item in rule.get("failed") or []:
        if "condition" in item:
            cond = conds.get(item["condition"])
            if (
                cond
                and cond.get("status") == item.get("status", "True")
                and (not item.get("reasons") or cond.get("reason") in item["reasons"])
            ):
                return result(
                    FAILED,
                    cond.get("reason") or item["condition"],
                    cond.get("message") or detail or "{} is {}".format(item["condition"], cond.get("status")),
                )
        elif _field_matches(obj, item):
            value = get_path(obj, item["path"])
            msg = "{} is {}".format(item["path"], value)
            if detail:
                msg = f"{msg}: {detail if isinstance(detail, str) else repr(detail)}"
            return result(FAILED, str(value), msg)
    checks = list(rule.get("fields") or [])
    if opts.get("wait_for") == "complete":
        checks += list(rule.get("complete") or [])
    for item in checks:
        if not _field_matches(obj, item):
            value = get_path(obj, item["path"])
            return result(
                IN_PROGRESS,
                "Waiting",
                "{} is {}, waiting for {}".format(
                    item["path"], "unset" if value is None else value, "|".join(str(v) for v in item["in"])
                ),
            )
    for ctype in rule.get("conditions") or []:
        cond = conds.get(ctype)
        if cond is None:
            if rule.get("conditions_optional"):
                continue
            return result(IN_PROGRESS, "NoCondition", f"condition {ctype} not reported yet")
        if cond.get("status") != "True":
            return result(
                IN_PROGRESS,
                cond.get("reason") or ctype,
                cond.get("message") or "{} is {}".format(ctype, cond.get("status")),
            )
    return result(CURRENT, "", "ready")


# ---------------------------------------------------------------------------------------------------------------
# built-in kinds
# ---------------------------------------------------------------------------------------------------------------
def deployment(obj, now, opts, context):
    progressing = get_path(obj, "spec.progressDeadlineSeconds", None) in (None, 2147483647)
    available = False
    conds = conditions_of(obj)
    prog = conds.get("Progressing")
    if prog is not None:
        if prog.get("reason") == "ProgressDeadlineExceeded":
            return result(FAILED, "ProgressDeadlineExceeded", prog.get("message") or "progress deadline exceeded")
        if prog.get("status") == "True" and prog.get("reason") == "NewReplicaSetAvailable":
            progressing = True
    if (conds.get("Available") or {}).get("status") == "True":
        available = True
    spec = _int(obj, "spec.replicas", 1)
    replicas = _int(obj, "status.replicas")
    updated = _int(obj, "status.updatedReplicas")
    ready = _int(obj, "status.readyReplicas")
    avail = _int(obj, "status.availableReplicas")
    if spec > replicas:
        return result(IN_PROGRESS, "LessReplicas", f"Replicas: {replicas}/{spec}")
    if spec > updated:
        return result(IN_PROGRESS, "LessUpdated", f"Updated: {updated}/{spec}")
    if replicas > spec:
        return result(IN_PROGRESS, "ExtraPods", "Pending termination: %s" % (replicas - spec))
    if updated > avail:
        return result(IN_PROGRESS, "LessAvailable", f"Available: {avail}/{updated}")
    if spec > ready:
        return result(IN_PROGRESS, "LessReady", f"Ready: {ready}/{spec}")
    failure = conds.get("ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return result(IN_PROGRESS, failure.get("reason") or "ReplicaFailure", failure.get("message") or "")
    if not progressing:
        return result(IN_PROGRESS, "ReplicaSetNotAvailable", "ReplicaSet not Available")
    if not available:
        return result(IN_PROGRESS, "DeploymentNotAvailable", "Deployment not Available")
    return result(CURRENT, "", f"Deployment is available. Replicas: {replicas}")


def statefulset(obj, now, opts, context):
    if get_path(obj, "spec.updateStrategy.type") == "OnDelete":
        return result(CURRENT, "", "StatefulSet uses the OnDelete update strategy")
    spec = _int(obj, "spec.replicas", 1)
    ready = _int(obj, "status.readyReplicas")
    current = _int(obj, "status.currentReplicas")
    updated = _int(obj, "status.updatedReplicas")
    replicas = _int(obj, "status.replicas")
    partition = _int(obj, "spec.updateStrategy.rollingUpdate.partition", -1)
    if spec > replicas:
        return result(IN_PROGRESS, "LessReplicas", f"Replicas: {replicas}/{spec}")
    if spec > ready:
        return result(IN_PROGRESS, "LessReady", f"Ready: {ready}/{spec}")
    if replicas > spec:
        return result(IN_PROGRESS, "ExtraPods", "Pending termination: %s" % (replicas - spec))
    if partition != -1:
        if updated < spec - partition:
            return result(IN_PROGRESS, "PartitionRollout", f"updated: {updated}/{spec - partition}")
        return result(CURRENT, "", f"Partition rollout complete. updated: {updated}")
    if spec > current:
        return result(IN_PROGRESS, "LessCurrent", f"current: {current}/{spec}")
    if get_path(obj, "status.currentRevision", "") != get_path(obj, "status.updateRevision", ""):
        return result(IN_PROGRESS, "RevisionMismatch", "Waiting for updated revision to match current")
    return result(CURRENT, "", f"All replicas scheduled as expected. Replicas: {replicas}")


def daemonset(obj, now, opts, context):
    if (obj.get("metadata") or {}).get("generation") is None:
        return result(IN_PROGRESS, "NoGeneration", "metadata.generation not found")
    if get_path(obj, "status.observedGeneration") is None:
        return result(IN_PROGRESS, "NoObservedGeneration", "status.observedGeneration not found")
    desired = _int(obj, "status.desiredNumberScheduled", -1)
    if desired == -1:
        return result(IN_PROGRESS, "NoDesiredNumber", "Missing .status.desiredNumberScheduled")
    for path, reason, label in (
        ("status.currentNumberScheduled", "LessCurrent", "Current"),
        ("status.updatedNumberScheduled", "LessUpdated", "Updated"),
        ("status.numberAvailable", "LessAvailable", "Available"),
        ("status.numberReady", "LessReady", "Ready"),
    ):
        have = _int(obj, path)
        if desired > have:
            return result(IN_PROGRESS, reason, f"{label}: {have}/{desired}")
    return result(CURRENT, "", f"All replicas scheduled as expected. Replicas: {desired}")


def replicaset(obj, now, opts, context):
    failure = conditions_of(obj).get("ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return result(IN_PROGRESS, "ReplicaFailure", failure.get("message") or "Replica Failure condition. Check Pods")
    spec = _int(obj, "spec.replicas", 1)
    for path, reason, label in (
        ("status.fullyLabeledReplicas", "LessLabelled", "Labelled"),
        ("status.availableReplicas", "LessAvailable", "Available"),
        ("status.readyReplicas", "LessReady", "Ready"),
    ):
        have = _int(obj, path)
        if spec > have:
            return result(IN_PROGRESS, reason, f"{label}: {have}/{spec}")
    replicas = _int(obj, "status.replicas")
    if replicas > spec:
        return result(IN_PROGRESS, "ExtraPods", "Pending termination: %s" % (replicas - spec))
    return result(CURRENT, "", f"ReplicaSet is available. Replicas: {replicas}")


def _since(obj, conds, *types):
    for ctype in types:
        ts = parse_time((conds.get(ctype) or {}).get("lastTransitionTime"))
        if ts is not None:
            return ts
    return parse_time((obj.get("metadata") or {}).get("creationTimestamp"))


def is_controlled(obj):
    return any(ref.get("controller") for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def pod(obj, now, opts, context):
    conds = conditions_of(obj)
    phase = get_path(obj, "status.phase", "") or ""
    statuses = []
    for key, init in (("status.initContainerStatuses", True), ("status.containerStatuses", False)):
        for cs in get_path(obj, key, None) or []:
            if isinstance(cs, dict):
                statuses.append((cs, init))

    if phase == "Succeeded":
        return result(CURRENT, "", "Pod has completed successfully")
    if phase == "Failed":
        reason, message, container = _terminated_reason(obj, statuses)
        if is_controlled(obj):
            # A controller (Job, ReplicaSet) decides what a finished pod means; kstatus: Current.
            return result(CURRENT, "PodCompletedUnsuccessfully", message, container)
        return result(FAILED, reason, message, container)

    # Fail fast on containers that cannot start.
    started = _since(obj, conds, "ContainersReady", "Initialized", "PodScheduled")
    age = None if started is None else now - started
    for cs, init in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        wreason = waiting.get("reason") or ""
        if not wreason:
            continue
        name = "{}{}".format("init:" if init else "", cs.get("name", "?"))
        wmsg = waiting.get("message") or ""
        if wreason in FATAL_WAITING:
            return result(FAILED, wreason, _container_msg(cs, wreason, wmsg), name)
        if wreason in PULL_WAITING and age is not None and age >= float(opts["image_pull_grace"]):
            return result(
                FAILED,
                wreason,
                "{} (image {}, failing for {}s)".format(wmsg or wreason, cs.get("image", "?"), int(age)),
                name,
            )
        if wreason in CONFIG_WAITING and age is not None and age >= float(opts["config_error_grace"]):
            return result(FAILED, wreason, wmsg or wreason, name)

    if phase == "Running":
        ready = conds.get("Ready") or {}
        if ready.get("status") == "True":
            return result(CURRENT, "", "Pod is Ready")
        waiting = [cs.get("name", "?") for cs, init in statuses if not init and not cs.get("ready")]
        msg = "Pod is running but is not Ready"
        if waiting:
            msg += " (containers not ready: {})".format(", ".join(waiting))
        return result(IN_PROGRESS, "PodRunningNotReady", msg)
    if phase == "Pending":
        sched = conds.get("PodScheduled") or {}
        if sched.get("status") == "False" and sched.get("reason") == "Unschedulable":
            since = parse_time(sched.get("lastTransitionTime")) or parse_time(
                (obj.get("metadata") or {}).get("creationTimestamp")
            )
            message = sched.get("message") or "Pod could not be scheduled"
            if since is not None and now - since >= float(opts["unschedulable_grace"]):
                return result(FAILED, "Unschedulable", message)
            return result(IN_PROGRESS, "PodNotScheduled", message)
        for cs, init in statuses:
            wreason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
            if wreason:
                return result(
                    IN_PROGRESS,
                    wreason,
                    _container_msg(cs, wreason, ""),
                    ("init:" if init else "") + cs.get("name", "?"),
                )
        return result(IN_PROGRESS, "PodPending", "Pod is in the Pending phase")
    if not phase:
        return result(IN_PROGRESS, "PodNotObserved", "Pod phase not available")
    return result(IN_PROGRESS, "UnknownPhase", f"Pod phase is {phase}")


def _container_msg(cs, reason, message):
    """Explain a waiting container: the kubelet's message (or the reason), last exit code, restarts."""
    last = (cs.get("lastState") or {}).get("terminated") or {}
    parts = [message or reason]
    if last:
        code = last.get("exitCode", "?")
        parts.append(f"last exit code {code}" + (f" ({last['reason']})" if last.get("reason") else ""))
    if cs.get("restartCount"):
        parts.append(f"{cs['restartCount']} restarts")
    return "; ".join(parts)


def _terminated_reason(obj, statuses):
    for cs, init in statuses:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term and term.get("exitCode", 0) != 0:
            name = ("init:" if init else "") + cs.get("name", "?")
            return (
                term.get("reason") or "Error",
                "container exited with code {}{}".format(
                    term.get("exitCode"), ": {}".format(term["message"]) if term.get("message") else ""
                ),
                name,
            )
    reason = get_path(obj, "status.reason", "") or "PodFailed"
    return reason, get_path(obj, "status.message", "") or "Pod has completed, but not successfully", None


def job(obj, now, opts, context):
    spec_parallelism = _int(obj, "spec.parallelism", 1)
    completions = _int(obj, "spec.completions", spec_parallelism)
    succeeded = _int(obj, "status.succeeded")
    active = _int(obj, "status.active")
    failed = _int(obj, "status.failed")
    conds = conditions_of(obj)
    for ctype in ("Failed", "FailureTarget"):
        cond = conds.get(ctype)
        if cond and cond.get("status") == "True":
            return result(
                FAILED,
                cond.get("reason") or "JobFailed",
                "Job failed: {} (failed {}/{})".format(
                    cond.get("message") or cond.get("reason") or "", failed, completions
                ),
            )
    for ctype in ("Complete", "SuccessCriteriaMet"):
        cond = conds.get(ctype)
        if cond and cond.get("status") == "True":
            return result(CURRENT, "", f"Job completed. succeeded: {succeeded}/{completions}")
    complete_mode = opts.get("wait_for") == "complete"
    cond = conds.get("Suspended")
    if cond and cond.get("status") == "True" and get_path(obj, "spec.suspend", False):
        if complete_mode:
            return result(IN_PROGRESS, "JobSuspended", "Job is suspended")
        return result(CURRENT, "", "Job is suspended")
    if not get_path(obj, "status.startTime"):
        return result(IN_PROGRESS, "JobNotStarted", "Job not started")
    msg = f"Job running. succeeded: {succeeded}/{completions}, active: {active}, failed: {failed}"
    if complete_mode:
        return result(IN_PROGRESS, "JobRunning", msg)
    return result(CURRENT, "", msg)


def pvc(obj, now, opts, context):
    phase = get_path(obj, "status.phase", "") or "unknown"
    if phase == "Bound":
        return result(CURRENT, "", "PVC is Bound")
    if phase == "Lost":
        return result(FAILED, "ClaimLost", "PVC lost its PersistentVolume")
    if phase == "Pending":
        sc_name = get_path(obj, "spec.storageClassName", None)
        if sc_name is None:
            sc_name = context.get("default_storage_class")
        mode = (context.get("storage_classes") or {}).get(sc_name)
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if mode == "WaitForFirstConsumer" and "volume.kubernetes.io/selected-node" not in annotations:
            return result(
                CURRENT,
                "WaitForFirstConsumer",
                f"PVC is Pending until a pod uses it (StorageClass {sc_name} binds on first consumer)",
            )
    return result(IN_PROGRESS, "NotBound", f"PVC is not Bound. phase: {phase}")


def service(obj, now, opts, context):
    stype = get_path(obj, "spec.type", "ClusterIP") or "ClusterIP"
    if stype == "ExternalName":
        return result(CURRENT, "", "ExternalName Service")
    if stype == "LoadBalancer":
        if not get_path(obj, "spec.clusterIP", ""):
            return result(IN_PROGRESS, "NoIPAssigned", "ClusterIP not set. Service type: LoadBalancer")
        ingress = get_path(obj, "status.loadBalancer.ingress", None) or []
        if not ingress:
            return result(IN_PROGRESS, "NoIngress", "LoadBalancer has no ingress address yet")
        first = ingress[0]
        return result(CURRENT, "", "LoadBalancer ingress %s" % (first.get("ip") or first.get("hostname") or "assigned"))
    return result(CURRENT, "", "Service is ready")


def crd(obj, now, opts, context):
    conds = conditions_of(obj)
    names = conds.get("NamesAccepted")
    if names is not None and names.get("status") == "False":
        return result(FAILED, names.get("reason") or "NamesNotAccepted", names.get("message") or "")
    est = conds.get("Established")
    if est is not None:
        if est.get("status") == "False" and est.get("reason") != "Installing":
            return result(FAILED, est.get("reason") or "NotEstablished", est.get("message") or "")
        if est.get("status") == "True":
            return result(CURRENT, "", "CRD is established")
    return result(IN_PROGRESS, "Installing", "Install in progress")


def pdb(obj, now, opts, context):
    return result(CURRENT, "", "AllowedDisruptions has been computed")


def ingress(obj, now, opts, context):
    return result(CURRENT, "", "Ingress exists")


KIND_RULES = {
    "Deployment": deployment,
    "StatefulSet": statefulset,
    "DaemonSet": daemonset,
    "ReplicaSet": replicaset,
    "Pod": pod,
    "Job": job,
    "PersistentVolumeClaim": pvc,
    "Service": service,
    "CustomResourceDefinition": crd,
    "PodDisruptionBudget": pdb,
}

KIND_GROUPS = {
    "Deployment": ("apps", "extensions"),
    "StatefulSet": ("apps",),
    "DaemonSet": ("apps", "extensions"),
    "ReplicaSet": ("apps", "extensions"),
    "Job": ("batch",),
    "CustomResourceDefinition": ("apiextensions.k8s.io",),
    "PodDisruptionBudget": ("policy",),
}


# ---------------------------------------------------------------------------------------------------------------
# label selectors and aggregation
# ---------------------------------------------------------------------------------------------------------------
def selector_matches(selector, labels):
    """Match a metav1.LabelSelector dict ({matchLabels, matchExpressions}) against a label dict."""
    if not selector:
        return False  # an empty/absent selector selects nothing for our purposes
    labels = labels or {}
    for key, val in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != val:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def parse_label_selector(text):
    """Validate a label selector string; return a list of (key, op, values). Raise ValueError on bad syntax."""
    reqs = []
    if text is None or not text.strip():
        return reqs
    parts = []
    depth = 0
    cur = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in label selector {text!r}")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise ValueError(f"unbalanced '(' in label selector {text!r}")
    parts.append(cur)
    for raw in parts:
        part = raw.strip()
        if not part:
            raise ValueError(f"empty requirement in label selector {text!r}")
        low = part.split()
        if len(low) >= 2 and low[1] in ("in", "notin"):
            key = low[0]
            rest = part[len(key) :].strip()[len(low[1]) :].strip()
            if not (rest.startswith("(") and rest.endswith(")")):
                raise ValueError(f"label selector {text!r}: {part!r} needs a (value, ...) list")
            values = [v.strip() for v in rest[1:-1].split(",") if v.strip()]
            reqs.append((_check_key(key, text), low[1], values))
        elif part.startswith("!"):
            reqs.append((_check_key(part[1:].strip(), text), "!", []))
        elif "!=" in part:
            key, val = part.split("!=", 1)
            reqs.append((_check_key(key.strip(), text), "!=", [_check_value(val.strip(), text)]))
        elif "==" in part or "=" in part:
            key, val = part.split("==", 1) if "==" in part else part.split("=", 1)
            reqs.append((_check_key(key.strip(), text), "=", [_check_value(val.strip(), text)]))
        else:
            reqs.append((_check_key(part, text), "exists", []))
    return reqs


def _check_key(key, text):
    name = key.split("/", 1)[-1]
    if not key or " " in key or not re.match(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$", name) or len(name) > 63:
        raise ValueError(f"label selector {text!r}: invalid key {key!r}")
    return key


def _check_value(val, text):
    if val and (len(val) > 63 or not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", val)):
        raise ValueError(f"label selector {text!r}: invalid value {val!r}")
    return val


_RS_IN_MESSAGE = re.compile(r'ReplicaSet "([^"]+)"')


def current_revision(obj):
    """``(label, value)`` marking pods of a controller's newest revision, or None when it cannot be known.

    StatefulSet: ``controller-revision-hash`` = ``status.updateRevision``. Deployment: ``pod-template-hash`` of
    the new ReplicaSet named in the ``Progressing`` condition (``ReplicaSet "web-5d8f" is progressing.``).
    """
    kind = obj.get("kind")
    if kind == "StatefulSet":
        rev = get_path(obj, "status.updateRevision")
        return ("controller-revision-hash", rev) if rev else None
    if kind == "Deployment":
        message = (conditions_of(obj).get("Progressing") or {}).get("message") or ""
        match = _RS_IN_MESSAGE.search(message)
        name = (obj.get("metadata") or {}).get("name", "")
        if match and name and match.group(1).startswith(name + "-"):
            return ("pod-template-hash", match.group(1)[len(name) + 1 :])
    return None


def aggregate(entries, now, options=None, rules=None, context=None):
    """Evaluate a component's objects.

    ``entries``: list of ``{"ref": {kind, namespace, name, api_version?}, "obj": dict or None}``.
    Returns ``{"status", "message", "objects": [...]}``. Pods owned by a controller only count when
    they fail; a controller (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) that is not yet Current
    and selects a failing pod is Failed with that pod's reason.
    """
    objects = []
    pods = []
    for entry in entries:
        obj = entry.get("obj")
        ref = dict(entry.get("ref") or (ref_of(obj) if obj else {}))
        res = compute(obj, now, options, rules, context)
        item = {
            "kind": ref.get("kind", ""),
            "namespace": ref.get("namespace", "") or "",
            "name": ref.get("name", ""),
            "status": res["status"],
            "reason": res.get("reason", ""),
            "message": res.get("message", ""),
        }
        if res.get("container"):
            item["container"] = res["container"]
        counts = True
        if obj is not None and ref.get("kind") == "Pod" and is_controlled(obj):
            counts = res["status"] == FAILED
            pods.append((obj, item))
        item["_counts"] = counts
        item["_obj"] = obj
        objects.append(item)

    # Pods of an older revision (a rollout replacing crash-looping pods) neither count nor fail the controller.
    for item in objects:
        obj = item["_obj"]
        if obj is None or item["kind"] not in POD_CONTROLLERS:
            continue
        generation = (obj.get("metadata") or {}).get("generation")
        observed = get_path(obj, "status.observedGeneration", None)
        stale = generation is not None and observed is not None and generation != observed
        revision = None if stale else current_revision(obj)
        if not stale and revision is None:
            continue
        selector = get_path(obj, "spec.selector", None)
        for pobj, pitem in pods:
            labels = (pobj.get("metadata") or {}).get("labels") or {}
            if pitem["namespace"] != item["namespace"] or not selector_matches(selector, labels):
                continue
            if stale:
                # the controller has not acted on the latest spec yet: its pods say nothing about it
                pitem["_counts"] = False
                pitem["_outdated"] = True
                pitem["message"] = f"{pitem['message']} (controller has not observed the latest spec, ignored)"
            elif labels.get(revision[0], revision[1]) != revision[1]:
                pitem["_counts"] = False
                pitem["_outdated"] = True
                pitem["message"] = f"{pitem['message']} (old revision, ignored)"

    for item in objects:
        obj = item["_obj"]
        if obj is None or item["kind"] not in POD_CONTROLLERS or item["status"] in (CURRENT, FAILED):
            continue
        selector = get_path(obj, "spec.selector", None)
        for pobj, pitem in pods:
            if pitem["status"] != FAILED or pitem["namespace"] != item["namespace"] or pitem.get("_outdated"):
                continue
            if selector_matches(selector, (pobj.get("metadata") or {}).get("labels")):
                item["status"] = FAILED
                item["reason"] = pitem["reason"]
                where = f" container {pitem['container']}" if pitem.get("container") else ""
                item["message"] = f"pod {pitem['name']}{where}: {pitem['message']}"
                if pitem.get("container"):
                    item["container"] = pitem["container"]
                pitem["_attributed"] = True
                break

    counted = [o for o in objects if o["_counts"]]
    failed = [o for o in counted if o["status"] == FAILED]
    waiting = [o for o in counted if o["status"] != CURRENT]
    if failed:
        status = FAILED
        message = "; ".join(_line(o) for o in failed if not o.get("_attributed"))
    elif not counted:
        status = IN_PROGRESS
        message = "no objects found yet"
    elif waiting:
        status = IN_PROGRESS
        message = "{}/{} objects not ready: {}".format(
            len(waiting), len(counted), "; ".join(_line(o) for o in waiting[:5])
        )
        if len(waiting) > 5:
            message += "; ..."
    else:
        status = CURRENT
        message = f"all {len(counted)} objects ready"
    for o in objects:
        o.pop("_counts", None)
        o.pop("_obj", None)
        o.pop("_attributed", None)
        o.pop("_outdated", None)
    return {"status": status, "message": message, "objects": objects}


def _line(item):
    where = "{}/{}".format(item["namespace"], item["name"]) if item["namespace"] else item["name"]
    text = "{} {} {}".format(item["kind"], where, item["status"])
    if item.get("container") and item["kind"] == "Pod":
        text += " (container {})".format(item["container"])
    if item.get("reason"):
        text += ": {}".format(item["reason"])
    if item.get("message") and item["message"] != item.get("reason"):
        text += ": {}".format(item["message"])
    return text


def next_deadline(entries, now, options=None):
    """Earliest future time at which a grace period expires (so a waiter re-evaluates without events)."""
    opts = _opts(options)
    best = None
    for entry in entries:
        obj = entry.get("obj")
        if not obj or obj.get("kind") != "Pod":
            continue
        conds = conditions_of(obj)
        candidates = []
        sched = conds.get("PodScheduled") or {}
        if sched.get("status") == "False":
            since = parse_time(sched.get("lastTransitionTime")) or parse_time(
                (obj.get("metadata") or {}).get("creationTimestamp")
            )
            if since is not None:
                candidates.append(since + float(opts["unschedulable_grace"]))
        started = _since(obj, conds, "ContainersReady", "Initialized", "PodScheduled")
        if started is not None:
            for key in ("status.initContainerStatuses", "status.containerStatuses"):
                for cs in get_path(obj, key, None) or []:
                    wreason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                    if wreason in PULL_WAITING:
                        candidates.append(started + float(opts["image_pull_grace"]))
                    elif wreason in CONFIG_WAITING:
                        candidates.append(started + float(opts["config_error_grace"]))
        for when in candidates:
            if when > now and (best is None or when < best):
                best = when
    return best
