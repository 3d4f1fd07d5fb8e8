"""roles/controller_tools: checksum-verified Helm install, air-gap source, idempotence, clear refusals.

The real Helm download needs the internet; these tests use the role's air-gap path with a locally made tarball
and its checksum, which exercises the same verification, unpacking and idempotence.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = """---
- name: Install controller tools
  hosts: localhost
  connection: local
  gather_facts: true
  gather_subset: [min]
  roles:
    - datamill.platform.controller_tools
  tasks:
    - name: Show the published binary
      ansible.builtin.debug:
        msg: "HELM={{ controller_tools_helm_binary }}"
"""


def _platform() -> str:
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    return f"{platform.system().lower()}-{arch}"


def _fake_release(directory: Path, version: str) -> tuple[Path, str]:
    plat = _platform()
    tarball = directory / f"helm-v{version}-{plat}.tar.gz"
    script = b"#!/bin/sh\necho 'fake helm " + version.encode() + b"'\n"
    with tarfile.open(tarball, "w:gz") as archive:
        info = tarfile.TarInfo(f"{plat}/helm")
        info.size, info.mode = len(script), 0o755
        archive.addfile(info, io.BytesIO(script))
    return tarball, hashlib.sha256(tarball.read_bytes()).hexdigest()


def _play(tmp_path: Path, extra: dict) -> subprocess.CompletedProcess:
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    extra = dict(extra, ansible_python_interpreter=sys.executable)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        str(book),
        "-e",
        json.dumps(extra),
    ]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)


def _changed(output: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


@pytest.fixture
def release(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    tarball, sha = _fake_release(bundle, "9.9.9")
    extra = {
        "controller_tools_helm_version": "9.9.9",
        "controller_tools_helm_checksums": {"9.9.9": {_platform(): sha}},
        "controller_tools_source_dir": str(bundle),
        "controller_tools_cache_dir": str(tmp_path / "cache"),
        "controller_tools_install_dir": str(tmp_path / "bin"),
    }
    return tarball, sha, extra


def test_installs_from_bundle_then_changes_nothing(tmp_path, release):
    extra = release[2]
    first = _play(tmp_path, extra)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _changed(first.stdout) > 0
    binary = tmp_path / "bin" / "helm-v9.9.9" / "helm"
    assert f"HELM={binary}" in first.stdout
    assert subprocess.run([binary], capture_output=True, text=True, check=True).stdout.strip() == "fake helm 9.9.9"
    second = _play(tmp_path, extra)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _changed(second.stdout) == 0


def test_refuses_tampered_tarball(tmp_path, release):
    tarball, sha, extra = release
    tarball.write_bytes(tarball.read_bytes() + b"tampered")
    result = _play(tmp_path, extra)
    assert result.returncode != 0
    assert f"pins {sha} for Helm 9.9.9" in result.stdout
    assert not (tmp_path / "bin" / "helm-v9.9.9" / "helm").exists()


def test_refuses_version_without_checksum(tmp_path, release):
    extra = release[2]
    result = _play(tmp_path, dict(extra, controller_tools_helm_version="9.9.8"))
    assert result.returncode != 0
    assert "controller_tools_helm_checksums has no sha256 for Helm 9.9.8" in result.stdout
    assert "set controller_tools_helm_version to one of 9.9.9" in result.stdout
