"""Play the operators of the storage and ingestion layers in the test cluster (no operator runs there).

``SimulatedOperators`` polls for the custom resources the layers create and marks them ready the way each
operator would (status conditions), in a background thread, while ``ansible-playbook`` runs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime


# (group, version, plural) -> status that operator writes when the resource is ready
def _cond(kind, now):
    # Full metav1.Condition: several CRDs require every field.
    return {
        "type": kind,
        "status": "True",
        "lastTransitionTime": now,
        "lastUpdateTime": now,
        "reason": "Simulated",
        "message": "marked ready by the test's simulated operator",
    }


# (group, version, plural) -> status the operator writes when the resource is ready
READY_STATUS = {
    ("kafka.strimzi.io", "v1", "kafkas"): lambda now: {"conditions": [_cond("Ready", now)], "observedGeneration": 1},
    ("postgresql.cnpg.io", "v1", "clusters"): lambda now: {
        "conditions": [_cond("Ready", now)],
        "phase": "Cluster in healthy state",
    },
    ("rabbitmq.com", "v1beta1", "rabbitmqclusters"): lambda now: {
        "conditions": [_cond("AllReplicasReady", now), _cond("ClusterAvailable", now)],
        "observedGeneration": 1,
    },
    ("registry.apicur.io", "v1", "apicurioregistries3"): lambda now: {
        "conditions": [_cond("Ready", now)],
        "observedGeneration": 1,
    },
}


class SimulatedOperators:
    """Background thread: every ``interval`` seconds mark not-yet-ready CRs of ``kinds`` ready."""

    def __init__(self, api_client, interval=0.5, skip=()):
        from kubernetes import client

        self.api = client.CustomObjectsApi(api_client)
        self.interval = interval
        self.skip = set(skip)  # names never marked ready (to simulate a broken operator)
        self.marked = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def tick(self):
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for (group, version, plural), status in READY_STATUS.items():
            try:
                items = self.api.list_cluster_custom_object(group, version, plural)["items"]
            except Exception:  # CRD not installed in this test
                continue
            for obj in items:
                meta = obj["metadata"]
                if meta["name"] in self.skip or (obj.get("status") or {}).get("conditions"):
                    continue
                body = {"status": status(now)}
                if "observedGeneration" in body["status"]:
                    body["status"]["observedGeneration"] = meta.get("generation", 1)
                self.api.patch_namespaced_custom_object_status(
                    group, version, meta["namespace"], plural, meta["name"], body
                )
                self.marked.append(f"{plural}/{meta['namespace']}/{meta['name']}")

    def _run(self):
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # the cluster is busy; try again next tick
                self.tick()
            self._stop.wait(self.interval)


def wait_for(predicate, timeout=30.0, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def main(argv=None):
    """Run the simulated operators for ``--duration`` seconds (molecule's prepare starts it in the background)."""
    import argparse

    from kubernetes import config

    parser = argparse.ArgumentParser(description="Mark storage/ingestion custom resources ready, like operators")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--duration", type=float, default=1800.0)
    args = parser.parse_args(argv)
    with SimulatedOperators(config.new_client_from_config(config_file=args.kubeconfig)):
        time.sleep(args.duration)


if __name__ == "__main__":
    main()
