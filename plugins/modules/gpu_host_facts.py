#!/usr/bin/python
# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_host_facts
short_description: Detect GPUs on a host from sysfs, without lspci
version_added: 0.1.0
description:
  - Reads PCI devices from C(<sysfs_root>/bus/pci/devices/*/{vendor,device,class}) and keeps GPU-class devices
    (VGA, 3D, display and processing-accelerator classes) of NVIDIA (0x10de), AMD (0x1002), Intel (0x8086) and
    Habana (0x1da3). BMC video chips (ASPEED, Matrox) and NVSwitch bridges are not counted.
  - Reports driver state (C(/proc/driver/nvidia), loaded kernel modules, the driver bound to each device),
    C(nvidia-smi) output when it is on PATH, and container runtime hints (NVIDIA container toolkit, containerd
    and CRI-O runtime configuration, CDI specs) for configuring the container runtime.
  - Returns C(ansible_facts.datamill_gpu).
author:
  - datamill.platform contributors (@datamill-platform)
extends_documentation_fragment:
  - datamill.platform.attributes
  - datamill.platform.attributes.INFO_MODULE
  - datamill.platform.attributes.FACTS
options:
  sysfs_root:
    description: Root of the sysfs tree (tests point it at a fixture tree).
    type: path
    default: /sys
  procfs_root:
    description: Root of procfs.
    type: path
    default: /proc
  etc_root:
    description: Directory holding container runtime configuration.
    type: path
    default: /etc
  dev_root:
    description: Directory holding device nodes.
    type: path
    default: /dev
  nvidia_smi:
    description: Run C(nvidia-smi) when it is on PATH and NVIDIA devices are present.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Detect GPUs
  datamill.platform.gpu_host_facts:

- name: Configure the NVIDIA runtime only where it is needed
  ansible.builtin.debug:
    msg: >-
      {{ inventory_hostname }} has {{ ansible_facts.datamill_gpu.count }}
      {{ ansible_facts.datamill_gpu.vendor }} GPU(s)
  when: ansible_facts.datamill_gpu.present
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    datamill_gpu:
      description: GPU facts of the host.
      type: dict
      contains:
        present:
          description: Whether a discrete GPU or accelerator is present (Intel integrated VGA does not count).
          type: bool
        vendor:
          description: Main vendor (nvidia, amd, habana, intel) or null.
          type: str
        count:
          description: Number of discrete GPUs/accelerators.
          type: int
        counts:
          description: Devices per vendor, all GPU classes.
          type: dict
        devices:
          description: PCI devices with address, vendor, vendor_id, device_id, class, driver, numa_node.
          type: list
          elements: dict
        drivers:
          description: Driver state per vendor (nvidia loaded and version, amdgpu, i915/xe, nouveau).
          type: dict
        driver_loaded:
          description: Whether the main vendor's kernel driver is loaded.
          type: bool
        nvidia_smi:
          description: GPUs reported by nvidia-smi (index, name, memory_mib, driver_version, pci_bus_id, uuid).
          type: list
          elements: dict
        container_runtime:
          description: Toolkit and runtime configuration hints, C(needs_toolkit), C(runtime_class).
          type: dict
        problems:
          description: Mismatches such as GPUs on the bus without a loaded driver.
          type: list
          elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.datamill.platform.plugins.module_utils.gpu import host_facts

SMI_QUERY = "index,name,memory.total,driver_version,pci.bus_id,uuid,mig.mode.current"


def main():
    module = AnsibleModule(
        argument_spec={
            "sysfs_root": {"type": "path", "default": "/sys"},
            "procfs_root": {"type": "path", "default": "/proc"},
            "etc_root": {"type": "path", "default": "/etc"},
            "dev_root": {"type": "path", "default": "/dev"},
            "nvidia_smi": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.isdir(params["sysfs_root"]):
        module.fail_json(msg=f"sysfs_root {params['sysfs_root']} is not a directory")
    paths = {
        name: module.get_bin_path(name)
        for name in ("nvidia-smi", "nvidia-ctk", "nvidia-container-runtime", "rocm-smi", "xpu-smi")
    }
    smi_cmd = [paths.get("nvidia-smi"), f"--query-gpu={SMI_QUERY}", "--format=csv,noheader,nounits"]
    facts = host_facts(
        sysfs_root=params["sysfs_root"],
        procfs_root=params["procfs_root"],
        etc_root=params["etc_root"],
        dev_root=params["dev_root"],
        paths=paths,
        run_nvidia_smi=(lambda: module.run_command(smi_cmd)) if params["nvidia_smi"] and smi_cmd[0] else None,
    )
    facts["tools"] = {name: path for name, path in paths.items() if path}
    module.exit_json(changed=False, ansible_facts={"datamill_gpu": facts})


if __name__ == "__main__":
    main()
