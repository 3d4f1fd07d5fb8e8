#!/usr/bin/python
# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_nodes
short_description: Find GPU nodes, report capacity and mismatches, optionally label and taint them
version_added: 0.1.0
description:
  - Lists Node objects (paginated) and returns one normalized record per node, GPU or not, with allocatable CPU,
    memory, pods and GPUs, plus cluster totals.
  - Reads what Node Feature Discovery (C(feature.node.kubernetes.io/pci-<class>_<vendor>.present)), GPU feature
    discovery (C(nvidia.com/gpu.product), C(.count), C(.memory), MIG single and mixed, time-slicing C(-SHARED)
    products and C(nvidia.com/gpu.replicas)), the NVIDIA GPU operator (C(nvidia.com/gpu.present)), AMD
    (C(amd.com/gpu.*)), Intel (C(gpu.intel.com/*)), GKE (C(cloud.google.com/gke-accelerator)), EKS
    (C(k8s.amazonaws.com/accelerator)) and kops (C(kops.k8s.io/gpu)) put on nodes, and the extended resources
    C(nvidia.com/gpu), C(nvidia.com/mig-*), C(amd.com/gpu), C(gpu.intel.com/*) and C(habana.ai/gaudi).
  - Names mismatches, for example GPU hardware labelled but 0 allocatable (device plugin or driver missing),
    GPUs allocatable on a cordoned node, or a taint that GPU pods will not tolerate automatically.
  - Optionally reconciles a label set and a taint on GPU nodes, idempotently, with check mode and diff.
author:
  - datamill.platform contributors (@datamill-platform)
extends_documentation_fragment:
  - datamill.platform.kube_auth
  - datamill.platform.attributes
options:
  label_selector:
    description: Only consider nodes matching this label selector.
    type: str
  label:
    description:
      - Set O(label_name)=V(true), O(label_name)C(.vendor) and O(label_name)C(.product) on GPU nodes, and remove
        those labels from nodes that no longer have GPUs.
    type: bool
    default: false
  label_name:
    description: Base name of the labels managed with O(label).
    type: str
    default: datamill.io/gpu
  taint:
    description:
      - Add the taint O(taint_key)=O(taint_value):O(taint_effect) to GPU nodes so only GPU workloads land there.
        Other taints are kept. Nothing is removed from non-GPU nodes.
    type: bool
    default: false
  taint_key:
    description:
      - Taint key. Default is the vendor's extended resource (V(nvidia.com/gpu), V(amd.com/gpu), ...), which the
        ExtendedResourceToleration admission plugin tolerates for pods requesting that resource.
    type: str
  taint_value:
    description: Taint value.
    type: str
    default: present
  taint_effect:
    description: Taint effect.
    type: str
    choices: [NoSchedule, PreferNoSchedule, NoExecute]
    default: NoSchedule
  page_size:
    description: Nodes per LIST page.
    type: int
    default: 500
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Inventory GPU capacity
  datamill.platform.gpu_nodes:
    kubeconfig: "{{ datamill_kubeconfig }}"
  register: datamill_gpu_nodes

- name: Show mismatches
  ansible.builtin.debug:
    var: datamill_gpu_nodes.problems

- name: Label and taint GPU nodes
  datamill.platform.gpu_nodes:
    kubeconfig: "{{ datamill_kubeconfig }}"
    label: true
    taint: true
"""

RETURN = r"""
nodes:
  description: One record per node, GPU or not.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
    gpu:
      description: Whether any GPU signal was found.
      type: bool
    vendor:
      description: V(nvidia), V(amd), V(intel), V(habana) or null.
      type: str
    product:
      description: Product name from GPU feature discovery or vendor labels (cloud accelerator type as fallback).
      type: str
    count:
      description: Physical GPUs (labels, else capacity).
      type: int
    memory:
      description: Memory per GPU in MiB.
      type: int
    mig:
      description: NVIDIA MIG capability, strategy and C(devices) (profile -> count).
      type: dict
    sharing:
      description: NVIDIA sharing strategy, replicas and whether GPUs are shared.
      type: dict
    schedulable:
      description: Ready and not cordoned.
      type: bool
    taints:
      description: Node taints.
      type: list
      elements: dict
    labels:
      description: Labels of interest (GPU, NFD PCI, cloud, datamill).
      type: dict
    allocatable:
      description: C(cpu) in millicores, C(memory) in bytes, C(pods) and C(gpus) (whole GPUs plus MIG devices).
      type: dict
    sources:
      description: Which signals identified the GPU (nfd, gpu-feature-discovery, gpu-operator, cloud, ...).
      type: list
      elements: str
totals:
  description:
    - C(nodes), C(gpu_nodes), C(schedulable_nodes), C(gpus) and C(gpus_schedulable) by vendor, C(products),
      and C(cpu) (millicores), C(memory) (bytes) and C(pods) allocatable on schedulable nodes.
  returned: always
  type: dict
problems:
  description: Mismatch messages naming the node.
  returned: always
  type: list
  elements: str
api_calls:
  description: API requests made.
  returned: always
  type: int
changes:
  description: Patches applied (or that would be applied in check mode), per node.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.datamill.platform.plugins.module_utils.args_common import auth_params, auth_spec
from ansible_collections.datamill.platform.plugins.module_utils.gpu import (
    label_patch,
    node_record,
    summarize,
    taint_patch,
)
from ansible_collections.datamill.platform.plugins.module_utils.kube import (
    HAS_K8S,
    K8S_IMPORT_ERROR,
    Client,
    KubeError,
    build_configuration,
)
from ansible_collections.datamill.platform.plugins.module_utils.readiness import parse_label_selector


def argument_spec():
    return auth_spec(
        label_selector={"type": "str"},
        label={"type": "bool", "default": False},
        label_name={"type": "str", "default": "datamill.io/gpu"},
        taint={"type": "bool", "default": False},
        taint_key={"type": "str", "no_log": False},
        taint_value={"type": "str", "default": "present"},
        taint_effect={
            "type": "str",
            "default": "NoSchedule",
            "choices": ["NoSchedule", "PreferNoSchedule", "NoExecute"],
        },
        page_size={"type": "int", "default": 500},
    )


def inventory(nodes):
    records = [node_record(n) for n in nodes]
    problems = [p for r in records for p in r["problems"]]
    return records, summarize(records), problems


def reconcile(client, node, record, params, check_mode):
    """Apply label/taint patches to one node; return a change dict or None."""
    name = record["name"]
    path = f"/api/v1/nodes/{name}"
    change = {"node": name}
    before, after = {}, {}
    if params["label"]:
        patch, lb, la = label_patch(node, record, params["label_name"])
        if patch:
            change["labels"] = patch["metadata"]["labels"]
            before["labels"], after["labels"] = lb, la
            if not check_mode:
                node = client.patch(path, patch)
    if params["taint"]:
        for attempt in range(3):
            patch, tb, ta = taint_patch(
                node, record, params["taint_key"], params["taint_value"], params["taint_effect"]
            )
            if not patch:
                break
            change["taints"] = ta
            before["taints"], after["taints"] = tb, ta
            if check_mode:
                break
            try:
                client.patch(path, patch)
                break
            except KubeError as exc:
                if exc.status != 409 or attempt == 2:
                    raise
                node = client.get(path)  # somebody else changed the node: re-read and retry
    if len(change) == 1:
        return None, None
    return change, {"before": before, "after": after, "before_header": name, "after_header": name}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_K8S:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(K8S_IMPORT_ERROR))
    params = module.params
    try:
        parse_label_selector(params["label_selector"])
    except ValueError as exc:
        module.fail_json(msg=f"label_selector: {exc}")
    if params["page_size"] < 1:
        module.fail_json(msg="page_size must be >= 1")
    try:
        client = Client(build_configuration(auth_params(params)), request_timeout=params["request_timeout"])
        nodes, _rv = client.list_all(
            "/api/v1/nodes", label_selector=params["label_selector"], limit=params["page_size"]
        )
    except KubeError as exc:
        module.fail_json(msg=exc.message)
    records, totals, problems = inventory(nodes)
    changes = []
    diffs = []
    if params["label"] or params["taint"]:
        try:
            for node, record in zip(nodes, records, strict=True):
                change, diff = reconcile(client, node, record, params, module.check_mode)
                if change:
                    changes.append(change)
                    diffs.append(diff)
        except KubeError as exc:
            module.fail_json(msg=f"patching nodes: {exc.message}", changes=changes, api_calls=client.calls)
    result = {
        "changed": bool(changes),
        "nodes": records,
        "totals": totals,
        "problems": problems,
        "changes": changes,
        "api_calls": client.calls,
    }
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
