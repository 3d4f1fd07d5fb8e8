"""Helpers for the cluster role tests: run real ansible-playbook against temp inventories.

Roles that touch a host run with ``connection: local`` and a path prefix (``k8s_local_root`` /
``k3s_cluster_root``) so nothing is written outside the test's temp directory. Cloud roles run against fake
``kops``/``aws``/``gcloud`` scripts that log their arguments and keep state in a directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    rc: int
    out: str

    def recap(self) -> dict[str, dict[str, int]]:
        return {
            m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
            for m in RECAP.finditer(self.out)
        }

    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap().values())


def run_playbook(
    tmp_path: Path,
    playbook: str,
    inventory: dict,
    extra: dict | None = None,
    *,
    args: tuple[str, ...] = (),
    env: dict | None = None,
) -> Run:
    book = tmp_path / "play.yml"
    book.write_text(playbook)
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory))
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra or {}))
    full_env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / ".ansible-tmp"),
        HOME=str(tmp_path / "home"),
    )
    full_env.update(env or {})
    (tmp_path / "home").mkdir(exist_ok=True)
    cmd = [str(ANSIBLE_PLAYBOOK), str(book), "-i", str(inv), "-e", f"@{extra_file}", *args]
    proc = subprocess.run(cmd, check=False, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=600)
    return Run(proc.returncode, proc.stdout + proc.stderr)


def local_inventory(**hostvars) -> dict:
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **hostvars}
    return {"all": {"hosts": {"localhost": host}, "children": {"k8s_local": {"hosts": {"localhost": None}}}}}


FAKE_CLI = r"""#!/usr/bin/env python3
# Fake {name}: logs argv to $FAKE_LOG and answers from state files in $FAKE_STATE.
import json, os, sys
args = sys.argv[1:]
state = os.environ["FAKE_STATE"]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["{name}"] + args) + "\n")
def has(key):
    return os.path.exists(os.path.join(state, key))
def put(key, text=""):
    with open(os.path.join(state, key), "w") as handle:
        handle.write(text)
{body}
"""


def fake_cli(bindir: Path, name: str, body: str) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / name
    path.write_text(FAKE_CLI.replace("{name}", name).replace("{body}", body))
    path.chmod(0o755)
    return path


def read_log(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
