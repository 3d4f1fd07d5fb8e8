"""Run Ansible from integration tests the way users do: real ``ansible-playbook`` with the checkout's settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
RECAP_RE = re.compile(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment of a test run: this checkout's ansible.cfg, no colours, plus ``extra``."""
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **extra)


def run_module_output(module: str, args: dict[str, Any], tmp_path: Path, *, check: bool = False, diff: bool = False):
    """Run one module task through ansible-playbook; return (registered result, playbook output)."""
    out = tmp_path / f"result-{time.monotonic_ns()}.json"
    play = [
        {
            "name": "Run one module",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {"name": "Module under test", module: args, "register": "datamill_result", "ignore_errors": True},
                {
                    "name": "Save the result",
                    "ansible.builtin.copy": {"content": "{{ datamill_result | to_json }}", "dest": str(out)},
                    "check_mode": False,
                },
            ],
        }
    ]
    book = tmp_path / f"play-{time.monotonic_ns()}.yml"
    book.write_text(json.dumps(play))
    cmd = [str(ANSIBLE_PLAYBOOK), str(book), *(["--check"] if check else []), *(["--diff"] if diff else [])]
    proc = subprocess.run(cmd, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert out.exists(), f"playbook did not save a result (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(out.read_text()), proc.stdout


def run_module(module: str, args: dict[str, Any], tmp_path: Path, *, check: bool = False, diff: bool = False):
    """Run one module task through ansible-playbook; return its registered result."""
    return run_module_output(module, args, tmp_path, check=check, diff=diff)[0]


def run_sim_playbook(cluster, playbook: str, *extra: str, timeout: int = 1500, env: dict[str, str] | None = None):
    """Run ``playbook`` with ``inventories/sim`` against the test cluster; return (rc, stdout + stderr)."""
    cmd = [
        str(ANSIBLE_PLAYBOOK),
        "-i",
        "inventories/sim",
        playbook,
        "-e",
        f"datamill_kubeconfig={cluster.kubeconfig}",
        "-e",
        "component_wait_timeout=180",
        *extra,
    ]
    proc = subprocess.run(
        cmd, cwd=REPO, env=env or ansible_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def recap(output: str) -> dict[str, int]:
    """The last PLAY RECAP line for localhost as numbers."""
    found = RECAP_RE.findall(output)
    assert found, output[-3000:]
    ok, changed, unreachable, failed = (int(x) for x in found[-1])
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}
