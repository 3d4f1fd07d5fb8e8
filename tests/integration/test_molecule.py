"""Every Molecule scenario in extensions/molecule runs its full `molecule test` sequence.

Scenarios that need what this machine lacks (internet, systemd, a cloud account) decide that themselves and
print the reason; the layer scenario converges the storage and ingestion roles against the test control plane.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = REPO_ROOT / "extensions"
SCENARIOS = sorted(p.parent.name for p in (EXTENSIONS / "molecule").glob("*/molecule.yml"))

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, tmp_path, kube_cluster):
    # kube_cluster: the binaries exist (or the missing-binaries failure is reported once, clearly); scenarios
    # that need a cluster start their own from the same binaries.
    env = dict(
        os.environ,
        DATAMILL_REPO=str(REPO_ROOT),
        DATAMILL_MOLECULE_STATE=str(tmp_path / "state"),
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "ephemeral"),
        ANSIBLE_NOCOLOR="1",
        PY_COLORS="0",
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), "test", "-s", scenario],
        cwd=EXTENSIONS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
