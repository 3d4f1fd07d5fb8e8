#!/usr/bin/python
# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: component_ready
short_description: Wait until platform components are ready, failing fast with the reason
version_added: 0.1.0
description:
  - Decides Current, InProgress or Failed for every object of one or more components (a wave) and waits until
    each component is Current or Failed.
  - Objects are found by label selector (one LIST per kind, namespace and selector) and/or named references,
    custom resources included, then followed with WATCH requests from the listed C(resourceVersion), so the task
    returns as soon as the last object turns ready. Expired watches (HTTP 410) are re-listed.
  - Rules follow kstatus (sigs.k8s.io/cli-utils) and add fail-fast cases that never heal by waiting
    (CrashLoopBackOff, image pull errors beyond O(image_pull_grace), Unschedulable beyond
    O(unschedulable_grace) quoting the scheduler, ProgressDeadlineExceeded, failed Jobs, C(Stalled=True)),
    a controller whose selected pods fail is Failed, and per-operator custom resource rules kept as data
    (Strimzi, RabbitMQ, CloudNativePG, Apicurio, Flink, Spark, Dask, KServe, ECK, GPU operator, MinIO, ...).
  - Each component gets its own verdict; one failing does not stop waiting for the others. The task fails at
    the end, listing every failed or timed-out component with object, container and reason.
author:
  - datamill.platform contributors (@datamill-platform)
extends_documentation_fragment:
  - datamill.platform.kube_auth
  - datamill.platform.attributes
  - datamill.platform.attributes.INFO_MODULE
options:
  components:
    description:
      - The components to check. Each is judged on its own.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the component, used in results and messages.
        type: str
        required: true
      namespace:
        description: Namespace of the component's objects (default for O(components[].resources[].namespace)).
        type: str
      label_selector:
        description:
          - Label selector (for example V(app.kubernetes.io/instance=kafka)) for the kinds in
            O(components[].kinds). When neither a selector nor O(components[].resources) is given, every object
            of those kinds in the namespace belongs to the component.
        type: str
      kinds:
        description:
          - Kinds listed by O(components[].label_selector). A built-in kind by name (V(Deployment)), a custom kind
            by name when a rule knows its group (V(Kafka); the version comes from discovery), or
            V(apiVersion/Kind) for any other (V(kafka.strimzi.io/v1/Kafka)).
        type: list
        elements: str
        default: [Deployment, StatefulSet, DaemonSet, Job, Pod, PersistentVolumeClaim, Service]
      resources:
        description: Named objects (custom resources included) that belong to the component.
        type: list
        elements: dict
        default: []
        suboptions:
          api_version:
            description: API version, for example V(apps/v1) or V(kafka.strimzi.io/v1).
            type: str
            required: true
          kind:
            description: Kind, for example V(Kafka).
            type: str
            required: true
          name:
            description: Object name.
            type: str
            required: true
          namespace:
            description: Namespace; defaults to O(components[].namespace). Ignored for cluster-scoped kinds.
            type: str
      wait_for:
        description: Overrides O(wait_for) for this component.
        type: str
        choices: [ready, complete]
  wait_for:
    description:
      - V(ready) follows kstatus (a started Job is Current). V(complete) also requires Jobs to finish (and custom
        resources with a completion rule, such as SparkApplication, to reach it).
    type: str
    choices: [ready, complete]
    default: ready
  wait:
    description: When V(false), evaluate once and return (check mode never waits either).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for all components.
    type: int
    default: 600
  image_pull_grace:
    description: Seconds a container may sit in ImagePullBackOff/ErrImagePull before its pod is Failed.
    type: float
    default: 60
  unschedulable_grace:
    description: Seconds a pod may stay Unschedulable before it is Failed (kstatus uses 15).
    type: float
    default: 15
  rules:
    description:
      - Extra custom-resource rules as data, merged over the built-in ones. Keys are V(group/Kind) (or V(Kind)).
      - "Each rule may have C(conditions) (types that must be True), C(conditions_optional) (absent counts as met),
        C(fields) (list of C({path, in}) that must all match), C(failed) (list of C({path, in}) or
        C({condition, status, reasons})), C(complete) (extra C({path, in}) for V(complete)) and C(message_path)."
    type: dict
    default: {}
notes:
  - API calls grow with the number of kinds, namespaces and selectors, not with the number of objects.
  - A container in CrashLoopBackOff fails its component at once. Order waves so that dependencies are ready
    before dependants start.
seealso:
  - module: kubernetes.core.k8s
    description: Creates objects; its C(wait) polls with GET requests and has no failed state.
"""

EXAMPLES = r"""
- name: Wait for the streaming wave
  datamill.platform.component_ready:
    kubeconfig: "{{ datamill_kubeconfig }}"
    timeout: 900
    components:
      - name: kafka
        namespace: streaming
        label_selector: strimzi.io/cluster=kafka
        kinds: [StatefulSet, Pod, PersistentVolumeClaim, Service]
        resources:
          - {api_version: kafka.strimzi.io/v1, kind: Kafka, name: kafka}
      - name: schema-registry
        namespace: streaming
        label_selector: app.kubernetes.io/instance=apicurio

- name: Run a migration Job to completion
  datamill.platform.component_ready:
    components:
      - name: superset-init
        namespace: bi
        wait_for: complete
        resources:
          - {api_version: batch/v1, kind: Job, name: superset-init-db}

- name: Report without waiting
  datamill.platform.component_ready:
    wait: false
    components:
      - name: minio
        namespace: storage
        resources:
          - {api_version: minio.min.io/v2, kind: Tenant, name: datamill}
  register: minio_state
"""

RETURN = r"""
components:
  description: One verdict per component, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Component name.
      type: str
    status:
      description: V(Current), V(InProgress) or V(Failed).
      type: str
    message:
      description: Summary; on failure names object, container and reason.
      type: str
    objects:
      description: Per-object verdicts with C(kind), C(namespace), C(name), C(status), C(reason), C(message)
        (and C(container) when a container caused it).
      type: list
      elements: dict
  sample:
    - name: api
      status: Failed
      message: "Pod apps/api-7d9c-x2 Failed (container server): CrashLoopBackOff: back-off 10s restarting"
      objects:
        - {kind: Deployment, namespace: apps, name: api, status: Failed, reason: CrashLoopBackOff, message: "..."}
elapsed:
  description: Seconds from the start of the check to the verdict.
  returned: always
  type: float
api_calls:
  description: API requests made (discovery, LIST pages, WATCH streams).
  returned: always
  type: int
api_calls_by_verb:
  description: API requests per kind of request.
  returned: always
  type: dict
timed_out:
  description: Whether the timeout ended the wait.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.datamill.platform.plugins.module_utils.args_common import auth_params, auth_spec
from ansible_collections.datamill.platform.plugins.module_utils.kube import (
    HAS_K8S,
    K8S_IMPORT_ERROR,
    Client,
    KubeError,
    ReadinessWaiter,
    build_configuration,
)
from ansible_collections.datamill.platform.plugins.module_utils.readiness import (
    CURRENT,
    FAILED,
    merge_rules,
    parse_label_selector,
)

DEFAULT_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "Pod", "PersistentVolumeClaim", "Service"]


def argument_spec():
    return auth_spec(
        components={
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "name": {"type": "str", "required": True},
                "namespace": {"type": "str"},
                "label_selector": {"type": "str"},
                "kinds": {"type": "list", "elements": "str", "default": list(DEFAULT_KINDS)},
                "resources": {
                    "type": "list",
                    "elements": "dict",
                    "default": [],
                    "options": {
                        "api_version": {"type": "str", "required": True},
                        "kind": {"type": "str", "required": True},
                        "name": {"type": "str", "required": True},
                        "namespace": {"type": "str"},
                    },
                },
                "wait_for": {"type": "str", "choices": ["ready", "complete"]},
            },
        },
        wait_for={"type": "str", "choices": ["ready", "complete"], "default": "ready"},
        wait={"type": "bool", "default": True},
        timeout={"type": "int", "default": 600},
        image_pull_grace={"type": "float", "default": 60},
        unschedulable_grace={"type": "float", "default": 15},
        rules={"type": "dict", "default": {}},
    )


def parse_kind(text):
    """``Deployment`` -> (None, Deployment); ``kafka.strimzi.io/v1/Kafka`` -> (kafka.strimzi.io/v1, Kafka)."""
    text = text.strip()
    if "/" in text:
        api_version, kind = text.rsplit("/", 1)
        return api_version, kind
    return None, text


def normalize_components(params):
    """Validate and normalize ``components``; return (components, errors)."""
    errors = []
    comps = []
    names = set()
    for index, comp in enumerate(params["components"]):
        name = comp["name"]
        where = f"components[{index}] ({name})"
        if name in names:
            errors.append(f"{where}: duplicate component name")
        names.add(name)
        try:
            parse_label_selector(comp.get("label_selector"))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
        kinds = []
        for text in comp.get("kinds") or []:
            api_version, kind = parse_kind(text)
            if not kind or not kind[0].isupper():
                errors.append(
                    f"{where}: kinds entry {text!r} is not a Kind (expected e.g. Deployment or group/v1/Kind)"
                )
                continue
            kinds.append((api_version, kind))
        resources = []
        for rindex, ref in enumerate(comp.get("resources") or []):
            resources.append(
                {
                    "api_version": ref["api_version"],
                    "kind": ref["kind"],
                    "name": ref["name"],
                    "namespace": ref.get("namespace") or comp.get("namespace"),
                    "index": rindex,
                }
            )
        if not comp.get("namespace") and comp.get("label_selector") is not None:
            errors.append(f"{where}: label_selector needs namespace")
        if not resources and comp.get("label_selector") is None and not comp.get("namespace"):
            errors.append(f"{where}: give namespace (with or without label_selector) or resources")
        comps.append(
            {
                "name": name,
                "namespace": comp.get("namespace"),
                "label_selector": comp.get("label_selector"),
                "kinds": kinds,
                "resources": resources,
                "wait_for": comp.get("wait_for") or params["wait_for"],
            }
        )
    return comps, errors


def failure_summary(components):
    lines = []
    for comp in components:
        if comp["status"] == CURRENT:
            continue
        lines.append(f"{comp['name']} {comp['status']}: {comp['message']}")
    return lines


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_K8S:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(K8S_IMPORT_ERROR))
    params = module.params
    if params["timeout"] < 0:
        module.fail_json(msg="timeout must be >= 0")
    try:
        rules = merge_rules(params["rules"])
    except ValueError as exc:
        module.fail_json(msg=f"rules: {exc}")
    comps, errors = normalize_components(params)
    if errors:
        module.fail_json(msg="invalid components: " + "; ".join(errors))
    try:
        client = Client(build_configuration(auth_params(params)), request_timeout=params["request_timeout"])
    except KubeError as exc:
        module.fail_json(msg=exc.message)
    options = {
        "wait_for": params["wait_for"],
        "image_pull_grace": params["image_pull_grace"],
        "unschedulable_grace": params["unschedulable_grace"],
    }
    waiter = ReadinessWaiter(client, comps, options, rules)
    try:
        res = waiter.run(params["timeout"], wait=params["wait"] and not module.check_mode)
    except KubeError as exc:
        module.fail_json(msg=exc.message, api_calls=client.calls)
    finally:
        waiter.close()
    out = {
        "changed": False,
        "components": res["components"],
        "elapsed": res["elapsed"],
        "api_calls": client.calls,
        "api_calls_by_verb": dict(client.calls_by_verb),
        "timed_out": res["timed_out"],
    }
    waited = params["wait"] and not module.check_mode
    bad = [c for c in res["components"] if c["status"] == FAILED or (waited and c["status"] != CURRENT)]
    if bad:
        module.fail_json(msg="; ".join(failure_summary(bad)), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
