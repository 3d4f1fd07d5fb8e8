"""The collection as users get it: Galaxy build, install into an empty path, ansible-doc, playbook syntax."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
INVENTORIES = sorted(p.name for p in (REPO_ROOT / "inventories").iterdir() if p.is_dir())


def _run(cmd, env=None, cwd=REPO_ROOT):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def built_tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("galaxy-build")
    _run([BIN / "ansible-galaxy", "collection", "build", "--output-path", out, "."])
    version = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]
    tarball = out / f"datamill-platform-{version}.tar.gz"
    assert tarball.is_file()
    return tarball


def test_tarball_ships_the_collection_and_no_local_state(built_tarball):
    with tarfile.open(built_tarball) as archive:
        names = archive.getnames()
    assert "MANIFEST.json" in names
    assert "meta/runtime.yml" in names
    assert "playbooks/site.yml" in names
    for module in MODULES:
        assert f"plugins/modules/{module}.py" in names
    leaked = [n for n in names if n.split("/")[0] in {".venv", ".collections", ".cache", ".sim", "build", ".git"}]
    assert leaked == []
    assert not [n for n in names if "__pycache__" in n or n.endswith(".tar.gz")]


def test_installed_tarball_documents_every_module(built_tarball, tmp_path):
    # A user's machine: no settings of this checkout, an empty collections path, nothing else installed.
    empty_cfg = tmp_path / "ansible.cfg"
    empty_cfg.write_text("[defaults]\n")
    dest = tmp_path / "collections"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(empty_cfg)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(dest)
    _run(
        [BIN / "ansible-galaxy", "collection", "install", "--no-deps", "-p", dest, built_tarball], env=env, cwd=tmp_path
    )
    installed = dest / "ansible_collections/datamill/platform"
    assert not installed.is_symlink() and (installed / "MANIFEST.json").is_file()
    assert (installed / "playbooks/site.yml").is_file()
    listed = _run([BIN / "ansible-doc", "-l", "datamill.platform"], env=env, cwd=tmp_path)
    assert MODULES, "the collection ships modules"
    for module in MODULES:
        assert f"datamill.platform.{module}" in listed


def test_action_group_lists_real_modules():
    runtime = yaml.safe_load((REPO_ROOT / "meta/runtime.yml").read_text())
    for member in runtime["action_groups"]["kube"]:
        assert member in MODULES, f"meta/runtime.yml action group 'kube' names missing module {member}"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_site_syntax_check(inventory):
    _run([BIN / "ansible-playbook", "site.yml", "-i", f"inventories/{inventory}", "--syntax-check"])
