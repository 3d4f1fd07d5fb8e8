# Copyright: (c) 2026, datamill.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU detection as pure functions: host PCI trees (sysfs) and Kubernetes Node objects.

Host side reads ``<sysfs_root>/bus/pci/devices/*/{vendor,device,class}`` (no lspci) and driver hints.
Cluster side normalizes what NFD, GPU feature discovery, the GPU operator, AMD/Intel plugins, cloud
providers and kops put on Node objects, and names mismatches between hardware labels, allocatable
resources, cordons and taints.
"""

from __future__ import annotations

import contextlib
import os
import re
from decimal import Decimal

from ansible_collections.datamill.platform.plugins.module_utils.quantity import parse_quantity

VENDORS = {
    "10de": "nvidia",
    "1002": "amd",
    "8086": "intel",
    "1da3": "habana",
}

# PCI class codes (first 4 hex digits of the 24-bit class) that are GPUs/accelerators.
# 0300 VGA, 0302 3D controller, 0380 other display controller, 1200 processing accelerator.
GPU_CLASSES = ("0300", "0302", "0380", "1200")

# Extended resources advertised by device plugins, by vendor.
RESOURCE_VENDORS = (
    ("nvidia.com/gpu", "nvidia"),
    ("nvidia.com/mig-", "nvidia"),
    ("amd.com/gpu", "amd"),
    ("gpu.intel.com/", "intel"),
    ("habana.ai/gaudi", "habana"),
)

DEFAULT_TAINT_KEYS = {
    "nvidia": "nvidia.com/gpu",
    "amd": "amd.com/gpu",
    "intel": "gpu.intel.com/i915",
    "habana": "habana.ai/gaudi",
}

LABEL_PREFIXES_OF_INTEREST = (
    "nvidia.com/",
    "amd.com/",
    "gpu.intel.com/",
    "intel.feature.node.kubernetes.io/gpu",
    "habana.ai/",
    "cloud.google.com/gke-accelerator",
    "cloud.google.com/gke-gpu",
    "k8s.amazonaws.com/accelerator",
    "kops.k8s.io/gpu",
    "datamill.io/",
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
    "feature.node.kubernetes.io/pci-",
)
NFD_PCI = re.compile(r"^feature\.node\.kubernetes\.io/pci-(?:([0-9a-f]{4})_)?([0-9a-f]{4})(?:_[0-9a-f]{4})*\.present$")
MIG_LABEL = re.compile(r"^nvidia\.com/mig-([0-9a-z.+-]+)\.count$")

_QTY_CACHE = {}


def _qty_int(value, scale=1, default=0):
    """Quantity -> int (floor) after scaling; cached because fleets repeat the same few quantities."""
    if value is None:
        return default
    key = (value if isinstance(value, str) else repr(value), scale)
    cached = _QTY_CACHE.get(key)
    if cached is None:
        try:
            cached = int((parse_quantity(value) * scale).to_integral_value(rounding="ROUND_FLOOR"))
        except ValueError:
            cached = False
        if len(_QTY_CACHE) < 65536:
            _QTY_CACHE[key] = cached
    return default if cached is False else cached


# ---------------------------------------------------------------------------------------------------------------
# host side
# ---------------------------------------------------------------------------------------------------------------
def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _hex(value, width):
    if not value:
        return None
    text = value.lower()
    if text.startswith("0x"):
        text = text[2:]
    return text.zfill(width)[-width:] if re.match(r"^[0-9a-f]+$", text) else None


def scan_pci(sysfs_root):
    """List GPU-class PCI devices of known vendors under ``<sysfs_root>/bus/pci/devices``."""
    base = os.path.join(sysfs_root, "bus", "pci", "devices")
    devices = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return devices, f"cannot read {base}"
    for addr in names:
        dev = os.path.join(base, addr)
        vendor = _hex(_read(os.path.join(dev, "vendor")), 4)
        pci_class = _hex(_read(os.path.join(dev, "class")), 6)
        device = _hex(_read(os.path.join(dev, "device")), 4)
        if vendor not in VENDORS or not pci_class or pci_class[:4] not in GPU_CLASSES:
            continue
        driver = None
        link = os.path.join(dev, "driver")
        if os.path.islink(link):
            driver = os.path.basename(os.readlink(link))
        devices.append(
            {
                "address": addr,
                "vendor": VENDORS[vendor],
                "vendor_id": "0x" + vendor,
                "device_id": "0x" + (device or "0000"),
                "class": "0x" + pci_class,
                "class_name": {"0300": "vga", "0302": "3d", "0380": "display", "1200": "accelerator"}[pci_class[:4]],
                "driver": driver,
                "numa_node": _numa(_read(os.path.join(dev, "numa_node"))),
            }
        )
    return devices, None


def _numa(value):
    try:
        node = int(value)
    except (TypeError, ValueError):
        return None
    return node if node >= 0 else None


def nvidia_driver(procfs_root, sysfs_root):
    """Driver state from /proc/driver/nvidia and /sys/module/nvidia."""
    version_text = _read(os.path.join(procfs_root, "driver", "nvidia", "version"))
    version = None
    if version_text:
        match = re.search(r"Kernel Module(?: for [a-z0-9_]+)?\s+([0-9][0-9.]+)", version_text)
        if match:
            version = match.group(1)
    module_version = _read(os.path.join(sysfs_root, "module", "nvidia", "version"))
    loaded = version_text is not None or os.path.isdir(os.path.join(sysfs_root, "module", "nvidia"))
    return {"loaded": bool(loaded), "version": version or module_version}


def parse_nvidia_smi(text):
    """Parse ``nvidia-smi --query-gpu=index,name,memory.total,driver_version,pci.bus_id,uuid,mig.mode.current
    --format=csv,noheader,nounits`` output."""
    gpus = []
    for line in (text or "").splitlines():
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 6 or not cols[0].isdigit():
            continue
        try:
            memory = int(float(cols[2]))
        except ValueError:
            memory = None
        gpus.append(
            {
                "index": int(cols[0]),
                "name": cols[1],
                "memory_mib": memory,
                "driver_version": cols[3],
                "pci_bus_id": cols[4],
                "uuid": cols[5],
                "mig_mode": cols[6] if len(cols) > 6 and cols[6] not in ("[N/A]", "N/A") else None,
            }
        )
    return gpus


def runtime_hints(etc_root, paths):
    """Container runtime hints: toolkit binaries on PATH, runtime configs mentioning nvidia."""
    hints = {
        "nvidia_ctk": bool(paths.get("nvidia-ctk")),
        "nvidia_container_runtime": bool(paths.get("nvidia-container-runtime")),
        "nvidia_container_toolkit_config": os.path.exists(
            os.path.join(etc_root, "nvidia-container-runtime", "config.toml")
        ),
        "containerd_config": None,
        "containerd_nvidia_runtime": False,
        "crio_nvidia_runtime": False,
        "cdi_specs": [],
    }
    containerd = os.path.join(etc_root, "containerd", "config.toml")
    text = _read(containerd)
    if text is not None:
        hints["containerd_config"] = containerd
        hints["containerd_nvidia_runtime"] = "nvidia-container-runtime" in text or "runtimes.nvidia" in text
    dropins = os.path.join(etc_root, "containerd", "conf.d")
    if os.path.isdir(dropins):
        for name in sorted(os.listdir(dropins)):
            if "nvidia" in (_read(os.path.join(dropins, name)) or ""):
                hints["containerd_nvidia_runtime"] = True
    crio = os.path.join(etc_root, "crio", "crio.conf.d")
    if os.path.isdir(crio):
        for name in sorted(os.listdir(crio)):
            if "nvidia" in (_read(os.path.join(crio, name)) or ""):
                hints["crio_nvidia_runtime"] = True
    cdi = os.path.join(etc_root, "cdi")
    if os.path.isdir(cdi):
        hints["cdi_specs"] = sorted(n for n in os.listdir(cdi) if n.endswith((".yaml", ".json")))
    return hints


def host_facts(
    *,
    sysfs_root="/sys",
    procfs_root="/proc",
    etc_root="/etc",
    dev_root="/dev",
    paths=None,
    nvidia_smi_output=None,
    run_nvidia_smi=None,
):
    """Everything ``gpu_host_facts`` returns under ``ansible_facts.datamill_gpu``.

    ``nvidia_smi_output`` is nvidia-smi's CSV when already known; otherwise ``run_nvidia_smi`` (a callable returning
    ``(rc, stdout, stderr)``) is called, only when NVIDIA devices are on the PCI bus.
    """
    paths = paths or {}
    devices, error = scan_pci(sysfs_root)
    counts = {}
    for dev in devices:
        counts[dev["vendor"]] = counts.get(dev["vendor"], 0) + 1
    discrete = [d for d in devices if not (d["vendor"] == "intel" and d["class_name"] == "vga")]
    drivers = {
        "nvidia": nvidia_driver(procfs_root, sysfs_root),
        "amd": {
            "loaded": os.path.isdir(os.path.join(sysfs_root, "module", "amdgpu")),
            "kfd": os.path.exists(os.path.join(dev_root, "kfd")),
        },
        "intel": {"loaded": any(os.path.isdir(os.path.join(sysfs_root, "module", m)) for m in ("i915", "xe"))},
        "nouveau_loaded": os.path.isdir(os.path.join(sysfs_root, "module", "nouveau")),
    }
    nvidia_devs = [d for d in devices if d["vendor"] == "nvidia"]
    problems = []
    if nvidia_smi_output is None and run_nvidia_smi is not None and nvidia_devs:
        rc, out, err = run_nvidia_smi()
        if rc == 0:
            nvidia_smi_output = out
        else:
            problems.append(f"nvidia-smi failed (rc={rc}): {(err or out).strip()}")
    smi = parse_nvidia_smi(nvidia_smi_output) if nvidia_smi_output else []
    hints = runtime_hints(etc_root, paths)
    if nvidia_devs and not drivers["nvidia"]["loaded"]:
        problems.append(
            "{} NVIDIA GPU(s) on the PCI bus but the nvidia kernel driver is not loaded{}".format(
                len(nvidia_devs), " (nouveau is loaded)" if drivers["nouveau_loaded"] else ""
            )
        )
    unbound = [d["address"] for d in nvidia_devs if d["driver"] not in ("nvidia", None)]
    if unbound:
        problems.append(
            "NVIDIA devices bound to another driver: {}".format(
                ", ".join(
                    "{} ({})".format(a, next(d["driver"] for d in nvidia_devs if d["address"] == a)) for a in unbound
                )
            )
        )
    if smi and len(smi) != len(nvidia_devs):
        problems.append(f"nvidia-smi sees {len(smi)} GPU(s) but the PCI bus has {len(nvidia_devs)}")
    amd_devs = [d for d in devices if d["vendor"] == "amd"]
    if amd_devs and not drivers["amd"]["loaded"]:
        problems.append(f"{len(amd_devs)} AMD GPU(s) on the PCI bus but amdgpu is not loaded")
    needs_toolkit = bool(nvidia_devs) and not (hints["nvidia_ctk"] or hints["nvidia_container_runtime"])
    primary = None
    for vendor in ("nvidia", "amd", "habana", "intel"):
        if any(d["vendor"] == vendor for d in discrete):
            primary = vendor
            break
    return {
        "present": bool(discrete),
        "vendor": primary,
        "count": len(discrete),
        "counts": counts,
        "devices": devices,
        "nvidia_smi": smi,
        "drivers": drivers,
        "driver_loaded": bool(primary and drivers.get(primary, {}).get("loaded")),
        "container_runtime": dict(
            hints,
            needs_toolkit=needs_toolkit,
            runtime_class="nvidia" if nvidia_devs else None,
            device_plugin_resource=DEFAULT_TAINT_KEYS.get(primary) if primary else None,
        ),
        "problems": problems,
        "scan_error": error,
    }


# ---------------------------------------------------------------------------------------------------------------
# cluster side
# ---------------------------------------------------------------------------------------------------------------
def resource_vendor(name):
    if "/" not in name:
        return None  # cpu, memory, pods, ephemeral-storage, hugepages-*
    for prefix, vendor in RESOURCE_VENDORS:
        if name.startswith(prefix):
            return vendor
    return None


def _label_int(labels, key):
    try:
        return int(labels.get(key))
    except (TypeError, ValueError):
        return None


def node_record(node):
    """Normalize one Node object."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    labels = meta.get("labels") or {}
    alloc = status.get("allocatable") or {}
    cap = status.get("capacity") or {}
    sources = []

    # extended resources
    gpu_resources = {}
    for name, qty in alloc.items():
        vendor = resource_vendor(name)
        if vendor:
            gpu_resources[name] = _qty_int(qty)
    cap_resources = {name: _qty_int(qty) for name, qty in cap.items() if resource_vendor(name)}
    if not cap:
        cap_resources = dict(gpu_resources)  # some providers report allocatable only

    vendor_scores = {}

    def vote(vendor, source):
        vendor_scores[vendor] = vendor_scores.get(vendor, 0) + 1
        if source not in sources:
            sources.append(source)

    has_amd = has_intel = False
    for key, val in labels.items():
        if key.startswith("feature.node.kubernetes.io/pci-"):
            match = NFD_PCI.match(key)
            if match and str(val).lower() == "true":
                pci_class, vid = match.group(1), match.group(2)
                if vid in VENDORS and (pci_class is None or pci_class in GPU_CLASSES):
                    if vid == "8086" and pci_class in ("0300", None):
                        # Intel integrated graphics (0300) and pci-8086.present are on nearly every Intel host
                        continue
                    vote(VENDORS[vid], "nfd")
        elif key.startswith("amd.com/gpu."):
            has_amd = True
        elif key.startswith("gpu.intel.com/"):
            has_intel = True
    if labels.get("nvidia.com/gpu.present") == "true":
        vote("nvidia", "gpu-operator")
    if "nvidia.com/gpu.product" in labels or "nvidia.com/gpu.count" in labels:
        vote("nvidia", "gpu-feature-discovery")
    if has_amd:
        vote("amd", "amd-labeller")
    if has_intel or labels.get("intel.feature.node.kubernetes.io/gpu") == "true":
        vote("intel", "intel-gpu-plugin")
    cloud = labels.get("cloud.google.com/gke-accelerator") or labels.get("k8s.amazonaws.com/accelerator")
    if cloud:
        vote(_cloud_vendor(cloud), "cloud")
    if labels.get("kops.k8s.io/gpu") in ("1", "true"):
        vote("nvidia", "kops")
    for name, qty in cap_resources.items():
        if qty > 0:
            vote(resource_vendor(name), "device-plugin")

    vendor = None
    if vendor_scores:
        vendor = sorted(vendor_scores.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]

    product = memory = family = None
    count = None
    mig = {"capable": None, "strategy": None, "devices": {}}
    sharing = {"strategy": None, "replicas": None, "shared": False}
    driver = {}
    if vendor == "nvidia":
        product = labels.get("nvidia.com/gpu.product")
        count = _label_int(labels, "nvidia.com/gpu.count")
        memory = _label_int(labels, "nvidia.com/gpu.memory")
        family = labels.get("nvidia.com/gpu.family")
        mig["capable"] = {"true": True, "false": False}.get(labels.get("nvidia.com/mig.capable"))
        mig["strategy"] = labels.get("nvidia.com/mig.strategy")
        for key, val in labels.items():
            match = MIG_LABEL.match(key)
            if match:
                with contextlib.suppress(ValueError):
                    mig["devices"][match.group(1)] = int(val)
        for name, qty in gpu_resources.items():
            if name.startswith("nvidia.com/mig-"):
                mig["devices"].setdefault(name[len("nvidia.com/mig-") :], qty)
        sharing["strategy"] = labels.get("nvidia.com/gpu.sharing-strategy")
        sharing["replicas"] = _label_int(labels, "nvidia.com/gpu.replicas")
        sharing["shared"] = bool((product or "").endswith("-SHARED")) or (sharing["replicas"] or 1) > 1
        for part in ("major", "minor", "revision"):
            if f"nvidia.com/cuda.driver-version.{part}" in labels or f"nvidia.com/cuda.driver.{part}" in labels:
                driver[part] = labels.get(
                    f"nvidia.com/cuda.driver-version.{part}", labels.get(f"nvidia.com/cuda.driver.{part}")
                )
        if "nvidia.com/cuda.driver-version.full" in labels:
            driver["full"] = labels["nvidia.com/cuda.driver-version.full"]
        if "nvidia.com/cuda.runtime-version.full" in labels:
            driver["cuda_runtime"] = labels["nvidia.com/cuda.runtime-version.full"]
        if not product and cloud:
            product = cloud
        if not product and labels.get("k8s.amazonaws.com/accelerator"):
            product = labels["k8s.amazonaws.com/accelerator"]
    elif vendor == "amd":
        product = labels.get("amd.com/gpu.product-name") or labels.get("amd.com/gpu.device-id")
        family = labels.get("amd.com/gpu.family")
        vram = labels.get("amd.com/gpu.vram") or ""
        match = re.match(r"^(\d+)([GM]?)$", vram)
        if match:
            # the AMD node labeller writes whole GiB with a "G" suffix (e.g. 192G)
            memory = int(match.group(1)) * (1 if match.group(2) == "M" else 1024)
        count = _label_int(labels, "amd.com/gpu.count")
    elif vendor == "intel":
        for key in sorted(labels):
            if key.startswith("gpu.intel.com/platform_") and key.endswith(".present"):
                product = product or key[len("gpu.intel.com/platform_") : -len(".present")]
            elif key.startswith("gpu.intel.com/device-id.") and key.endswith(".present"):
                product = product or key[len("gpu.intel.com/device-id.") : -len(".present")]
        cards = labels.get("gpu.intel.com/cards")
        count = len([c for c in cards.split(".") if c]) if cards else None
        if labels.get("gpu.intel.com/memory.max"):
            memory = _qty_int(labels["gpu.intel.com/memory.max"], Decimal(1) / Decimal(2**20), None)
    elif vendor is not None and cloud:
        product = cloud

    gpus_alloc = 0
    whole_key = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "habana": "habana.ai/gaudi"}.get(vendor)
    for name, qty in gpu_resources.items():
        if (
            (vendor == "intel" and name.startswith("gpu.intel.com/") and name.rsplit("/", 1)[-1] in ("i915", "xe"))
            or (whole_key and name == whole_key)
            or name.startswith("nvidia.com/mig-")
        ):
            gpus_alloc += qty
    capacity_gpus = sum(
        q
        for n, q in cap_resources.items()
        if n == whole_key or n.startswith("nvidia.com/mig-") or n.endswith(("/i915", "/xe"))
    )
    if count is None and vendor and capacity_gpus:
        if vendor == "nvidia" and sharing["shared"] and sharing["replicas"]:
            count = capacity_gpus // sharing["replicas"]
        elif not (vendor == "nvidia" and mig["devices"]):
            count = capacity_gpus

    conds = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    ready = (conds.get("Ready") or {}).get("status") == "True"
    cordoned = bool(spec.get("unschedulable"))
    taints = [
        {"key": t.get("key"), "value": t.get("value"), "effect": t.get("effect")}
        for t in spec.get("taints") or []
        if isinstance(t, dict)
    ]
    blocking = [
        t for t in taints if t["effect"] in ("NoSchedule", "NoExecute") and t["key"] not in _gpu_taint_keys(vendor)
    ]
    record = {
        "name": meta.get("name"),
        "gpu": vendor is not None,
        "vendor": vendor,
        "product": product,
        "family": family,
        "count": count,
        "memory": memory,
        "mig": mig if vendor == "nvidia" else None,
        "sharing": sharing if vendor == "nvidia" else None,
        "driver": driver or None,
        "cloud_accelerator": cloud,
        "sources": sources,
        "ready": ready,
        "cordoned": cordoned,
        "schedulable": ready and not cordoned,
        "taints": taints,
        "gpu_resources": gpu_resources,
        "allocatable": {
            "cpu": _qty_int(alloc.get("cpu"), 1000),
            "memory": _qty_int(alloc.get("memory")),
            "pods": _qty_int(alloc.get("pods")),
            "gpus": gpus_alloc,
        },
        "labels": {k: v for k, v in labels.items() if k.startswith(LABEL_PREFIXES_OF_INTEREST)},
        "problems": [],
    }
    _node_problems(record, capacity_gpus, blocking)
    return record


def _gpu_taint_keys(vendor):
    keys = set(DEFAULT_TAINT_KEYS.values())
    keys.update(("nvidia.com/gpu", "amd.com/gpu"))
    return keys


def _cloud_vendor(value):
    text = value.lower()
    if "amd" in text or "mi" in text.split("-")[:1] or text.startswith("instinct"):
        return "amd"
    if "gaudi" in text or "habana" in text:
        return "habana"
    return "nvidia"


def _node_problems(record, capacity_gpus, blocking):
    name = record["name"]
    if not record["gpu"]:
        return
    alloc = record["allocatable"]["gpus"]
    if alloc == 0:
        record["problems"].append(
            "{}: GPU hardware labelled ({}) but 0 allocatable {} (device plugin/driver missing)".format(
                name, ", ".join(record["sources"]), DEFAULT_TAINT_KEYS.get(record["vendor"], "GPU")
            )
        )
    elif (
        record["count"]
        and alloc < record["count"]
        and not (record["sharing"] or {}).get("shared")
        and not (record["mig"] or {}).get("devices")
    ):
        record["problems"].append("{}: {} GPU(s) labelled but only {} allocatable".format(name, record["count"], alloc))
    if alloc > 0 and record["cordoned"]:
        record["problems"].append(f"{name}: {alloc} GPU(s) allocatable but cordoned (spec.unschedulable)")
    if alloc > 0 and not record["ready"]:
        record["problems"].append(f"{name}: {alloc} GPU(s) allocatable but node is not Ready")
    for taint in blocking:
        record["problems"].append(
            "{}: taint {}{}:{} without toleration hint: GPU pods need an explicit toleration (the "
            "ExtendedResourceToleration admission plugin only tolerates taints keyed by the GPU resource, "
            "e.g. {})".format(
                name,
                taint["key"],
                "={}".format(taint["value"]) if taint.get("value") else "",
                taint["effect"],
                DEFAULT_TAINT_KEYS.get(record["vendor"], "nvidia.com/gpu"),
            )
        )


def summarize(records):
    """Totals over normalized node records."""
    totals = {
        "nodes": len(records),
        "gpu_nodes": 0,
        "schedulable_nodes": 0,
        "gpus": {},
        "gpus_schedulable": {},
        "cpu": 0,
        "memory": 0,
        "pods": 0,
        "products": {},
    }
    for rec in records:
        if rec["schedulable"]:
            totals["schedulable_nodes"] += 1
            totals["cpu"] += rec["allocatable"]["cpu"]
            totals["memory"] += rec["allocatable"]["memory"]
            totals["pods"] += rec["allocatable"]["pods"]
        if rec["gpu"]:
            totals["gpu_nodes"] += 1
            vendor = rec["vendor"]
            totals["gpus"][vendor] = totals["gpus"].get(vendor, 0) + rec["allocatable"]["gpus"]
            if rec["schedulable"]:
                totals["gpus_schedulable"][vendor] = (
                    totals["gpus_schedulable"].get(vendor, 0) + rec["allocatable"]["gpus"]
                )
            if rec["product"]:
                totals["products"][rec["product"]] = totals["products"].get(rec["product"], 0) + 1
    return totals


# ---------------------------------------------------------------------------------------------------------------
# label / taint reconciliation
# ---------------------------------------------------------------------------------------------------------------
_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def label_value(text):
    """Sanitize free text into a valid label value (<=63 chars, alnum at both ends)."""
    value = _LABEL_VALUE_BAD.sub("-", str(text or "")).strip("-_.")
    return value[:63].rstrip("-_.")


def desired_labels(record, label_name):
    """Labels datamill manages on a node: ``<label_name>=true`` plus ``.vendor`` / ``.product`` on GPU nodes."""
    if not record["gpu"]:
        return {}
    out = {label_name: "true", label_name + ".vendor": record["vendor"]}
    if record["product"]:
        out[label_name + ".product"] = label_value(record["product"])
    return out


def label_patch(node, record, label_name):
    """Return (patch or None, before, after) for labels. Our own stale labels on non-GPU nodes are removed."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    want = desired_labels(record, label_name)
    ours = {k: v for k, v in labels.items() if k == label_name or k.startswith(label_name + ".")}
    change = {}
    for key, val in want.items():
        if labels.get(key) != val:
            change[key] = val
    for key in ours:
        if key not in want:
            change[key] = None
    if not change:
        return None, ours, ours
    after = {k: v for k, v in dict(ours, **change).items() if v is not None}
    return {"metadata": {"labels": change}}, ours, after


def taint_patch(node, record, taint_key=None, taint_value="present", taint_effect="NoSchedule"):
    """Return (patch or None, before, after) adding the GPU taint on GPU nodes (never removes others)."""
    if not record["gpu"]:
        return None, None, None
    taints = list((node.get("spec") or {}).get("taints") or [])
    key = taint_key or DEFAULT_TAINT_KEYS.get(record["vendor"], "nvidia.com/gpu")
    want = (
        {"key": key, "value": taint_value, "effect": taint_effect}
        if taint_value
        else {"key": key, "effect": taint_effect}
    )
    for taint in taints:
        if (
            taint.get("key") == key
            and taint.get("effect") == taint_effect
            and (taint.get("value") or "") == (taint_value or "")
        ):
            return None, taints, taints
    new = [t for t in taints if not (t.get("key") == key and t.get("effect") == taint_effect)] + [want]
    meta = node.get("metadata") or {}
    patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "spec": {"taints": new}}
    return patch, taints, new
