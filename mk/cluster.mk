# Test control plane (issue 3): pinned upstream binaries + kwok simulated nodes. See docs/test-cluster.md.
CLUSTER_PY ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
CLUSTER_TOOL := $(CLUSTER_PY) tools/cluster/datamill_testcluster.py
CLUSTER_FLEET ?= default
SIM_PLAYBOOK ?= $(firstword $(wildcard site.yml playbooks/site.yml) site.yml)
CLUSTER_CRDS ?= strimzi-1.2.0 cert-manager cloudnative-pg-1.30.0 prometheus-operator-0.93.1 \
	rabbitmq-cluster-operator-2.22.3 flink-kubernetes-operator-1.15.0 spark-operator-2.5.2 \
	kserve-0.20.0 eck-3.5.0 gpu-operator-26.7.0 node-feature-discovery-0.19.0 dask-kubernetes \
	superset-operator-0.2.0 apicurio-registry-operator

.PHONY: cluster-bins cluster-up cluster-down cluster-status cluster-test cluster-bench sim

## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kwokctl (skips existing)
cluster-bins:
	@if [ -n "$${DATAMILL_CLUSTER_BINS:-}" ]; then echo "cluster-bins: using prebuilt binaries in $${DATAMILL_CLUSTER_BINS}"; \
	else tools/cluster/build_bins.sh; fi

## Start the simulated cluster (state and kubeconfig in .sim/)
cluster-up: cluster-bins
	$(CLUSTER_TOOL) up

cluster-down:
	$(CLUSTER_TOOL) down

cluster-status:
	$(CLUSTER_TOOL) status

## Control-plane tests only (unit + integration)
cluster-test: cluster-bins
	$(CLUSTER_PY) -m pytest tests/unit/cluster tests/integration/test_control_plane.py

cluster-bench: cluster-bins
	$(CLUSTER_PY) benchmarks/cluster_bench.py

## Offline demo / rehearsal: cluster + default fleet + upstream CRDs, then the whole site against it while
## `operators` plays the operators (marks the custom resources the site creates as reconciled)
sim: cluster-bins
	$(CLUSTER_TOOL) up --fleet $(CLUSTER_FLEET) $(foreach c,$(CLUSTER_CRDS),--crds $(c))
	$(CLUSTER_TOOL) operators > "$${DATAMILL_SIM_DIR:-.sim}/logs/operators.log" 2>&1 & ops=$$!; \
	trap 'kill $$ops 2>/dev/null || true' EXIT; \
	ANSIBLE_CONFIG=$(CURDIR)/ansible.cfg .venv/bin/ansible-playbook -i inventories/sim $(SIM_PLAYBOOK)
