#!/usr/bin/python
# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plan
short_description: Turn the component catalog and an inventory into an ordered, validated deployment plan
version_added: "0.1.0"
description:
  - Resolves the enabled components from a profile, user overrides and dependencies (including capabilities such
    as C(s3) or C(postgres) that one of several components provides).
  - Rejects unknown components, dependency cycles, missing dependencies, invalid sizes and invalid names; every
    error message says how to fix the inventory.
  - Orders the components into waves (a component comes after everything it depends on), renders each one's chart
    values and settings (catalog, then size, then user overrides) and sums the resource requests.
  - When O(capacity) is given, compares the requests with the cluster's allocatable resources and, with
    O(enforce=true), refuses a plan that cannot fit before anything is changed.
  - Pure computation on the controller; it never contacts the cluster. Use M(datamill.platform.gpu_nodes) to
    obtain O(capacity).
author:
  - datamill.platform contributors (@datamill-platform)
options:
  catalog:
    description:
      - The catalog, as published by the C(datamill.platform.catalog) role in the C(datamill_catalog) fact.
      - Keys C(components), C(profiles), C(default_providers) and C(layer_roles).
    type: dict
    required: true
  profile:
    description: Name of the profile (flavour) to deploy, for example C(datalake).
    type: str
    required: true
  components:
    description:
      - Per-component overrides from the inventory (C(datamill_components)).
      - Each key is a component name; each value may hold C(enabled), C(namespace), C(values), C(settings) and
        C(requests).
    type: dict
    default: {}
  size:
    description: Size class of the deployment; selects requests, settings and values per component.
    type: str
    choices: [small, standard]
    default: small
  capacity:
    description:
      - Cluster capacity to check the plan against, as returned by M(datamill.platform.gpu_nodes) (C(nodes) with
        C(allocatable), or C(totals)), or a flat mapping with C(cpu), C(memory) and C(gpus).
      - Numbers are millicores and bytes; strings are Kubernetes quantities.
      - When omitted the capacity is not checked (the table says so).
    type: dict
  headroom:
    description: Fraction of CPU and memory kept free for the system and for other workloads (0 to 0.9).
    type: float
    default: 0.0
  enforce:
    description:
      - Fail when the plan does not fit O(capacity), or when it holds components that cannot be deployed yet
        (their layer has no role) and O(skip_undeployable=false).
    type: bool
    default: false
  skip_undeployable:
    description: Leave components whose layer has no role yet out of the plan (listed in C(plan.skipped)).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing to diff.
notes:
  - The catalog lives in the collection at C(roles/catalog/files/components/<name>.yml); see C(docs/catalog.md).
"""

EXAMPLES = r"""
- name: Load the catalog
  ansible.builtin.include_role:
    name: datamill.platform.catalog

- name: Read the cluster's capacity
  datamill.platform.gpu_nodes:
    kubeconfig: "{{ datamill_kubeconfig }}"
  register: fleet

- name: Plan the deployment and refuse it when it cannot fit
  datamill.platform.plan:
    catalog: "{{ datamill_catalog }}"
    profile: datalake
    components:
      kafka:
        enabled: true
        settings:
          topics:
            - {name: events, partitions: 3}
    size: small
    capacity: "{{ fleet }}"
    enforce: true
  register: plan

- name: Show it
  ansible.builtin.debug:
    msg: "{{ plan.table }}"
"""

RETURN = r"""
plan:
  description:
    - The full plan. C(components) is ordered by wave; each item has name, layer, wave, namespace, source, version,
      depends_on, requests (cpu millicores, memory bytes, gpu), deployable, reason, role, tasks, values, settings,
      credentials, endpoints, network, readiness (one item of M(datamill.platform.component_ready)'s
      C(components) option) and images.
    - Also C(waves) (lists of names), C(bindings) (capability to provider), C(namespaces), C(totals), C(capacity),
      C(usable), C(fits), C(shortfalls), C(undeployable), C(skipped) and C(warnings).
  returned: success
  type: dict
summary:
  description: A JSON digest of the plan for tools (no chart values or settings).
  returned: success
  type: dict
table:
  description: The plan as a text table (components, versions, waves, requests vs capacity).
  returned: success
  type: str
  sample: "| wave | component | layer | version | ..."
capacity_table:
  description: Requests against allocatable capacity, with the verdict per resource.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.datamill.platform.plugins.module_utils.catalog import CatalogError
from ansible_collections.datamill.platform.plugins.module_utils.planner import (
    PlanError,
    build_plan,
    plan_summary,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "catalog": {"type": "dict", "required": True},
            "profile": {"type": "str", "required": True},
            "components": {"type": "dict", "default": {}},
            "size": {"type": "str", "choices": ["small", "standard"], "default": "small"},
            "capacity": {"type": "dict"},
            "headroom": {"type": "float", "default": 0.0},
            "enforce": {"type": "bool", "default": False},
            "skip_undeployable": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not 0.0 <= params["headroom"] <= 0.9:
        module.fail_json(msg=f"headroom must be between 0 and 0.9, got {params['headroom']}")
    try:
        plan = build_plan(
            params["catalog"],
            params["profile"],
            params["components"] or {},
            params["size"],
            capacity=params["capacity"],
            headroom=params["headroom"],
            skip_undeployable=params["skip_undeployable"],
        )
    except CatalogError as exc:
        module.fail_json(msg="The component catalog is invalid:\n" + str(exc), errors=exc.errors)
    except PlanError as exc:
        module.fail_json(msg="The inventory cannot be planned:\n" + str(exc), errors=exc.errors)

    result = {
        "changed": False,
        "plan": plan,
        "summary": plan_summary(plan),
        "table": plan["table"],
        "capacity_table": plan["capacity_table"],
    }
    if params["enforce"]:
        if not plan["fits"]:
            module.fail_json(
                msg="Refusing to deploy: the plan does not fit the cluster (nothing was changed).\n"
                + plan["capacity_table"],
                **result,
            )
        if plan["undeployable"]:
            module.fail_json(
                msg="Refusing to deploy: these components cannot be deployed yet because their layer has no role "
                f"in this collection: {', '.join(plan['undeployable'])}. Fix: disable them in datamill_components "
                "(e.g. `spark-operator: {enabled: false}`), pick a profile without them, or set "
                "datamill_skip_undeployable: true to deploy the rest.",
                **result,
            )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
