"""Tests of tools/bootstrap.py: version ranges, collection fallback from the PyPI bundle, links, get-pip seed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("bootstrap", REPO_ROOT / "tools" / "bootstrap.py")
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("6.2.0", ">=6.2.0,<7.0.0", True),
        ("6.1.9", ">=6.2.0,<7.0.0", False),
        ("7.0.0", ">=6.2.0,<7.0.0", False),
        ("6.2", ">=6.2.0", True),
        ("6.10.0", ">6.9.0", True),
        ("6.2.0", "*", True),
        ("6.2.0", "6.2.0", True),
        ("6.2.1", "==6.2.0", False),
        ("6.2.0", "!=6.2.0", False),
        ("6.2.0-beta1", ">=6.2.0", True),
    ],
)
def test_version_satisfies(version, spec, expected):
    assert bootstrap.version_satisfies(version, spec) is expected


def test_version_range_garbage_is_an_error():
    with pytest.raises(ValueError, match="~6"):
        bootstrap.version_satisfies("6.2.0", "~6")


def test_read_requirements_normalises_and_validates():
    got = bootstrap.read_collection_requirements(
        {"collections": ["a.b", {"name": "kubernetes.core", "version": ">=6"}]}
    )
    assert got == [{"name": "a.b", "version": "*"}, {"name": "kubernetes.core", "version": ">=6"}]
    with pytest.raises(bootstrap.BootstrapError, match="'kubernetes'"):
        bootstrap.read_collection_requirements({"collections": ["kubernetes"]})
    with pytest.raises(bootstrap.BootstrapError, match="collections"):
        bootstrap.read_collection_requirements(["kubernetes.core"])


def test_project_requirements_file_is_valid_and_pins_kubernetes_core():
    import yaml

    reqs = bootstrap.read_collection_requirements(yaml.safe_load((REPO_ROOT / "requirements.yml").read_text()))
    by_name = {r["name"]: r["version"] for r in reqs}
    assert "kubernetes.core" in by_name
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    # galaxy.yml dependencies and requirements.yml must agree, or a Galaxy install differs from a checkout.
    assert galaxy["dependencies"]["kubernetes.core"] == by_name["kubernetes.core"]


def _fake_bundle(tmp_path: Path, collections: dict[str, str]) -> Path:
    wheel = tmp_path / "ansible-99.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, version in collections.items():
            ns, coll = name.split(".")
            prefix = f"ansible_collections/{ns}/{coll}/"
            archive.writestr(prefix + "MANIFEST.json", json.dumps({"collection_info": {"version": version}}))
            archive.writestr(prefix + "plugins/modules/thing.py", "# module\n")
            archive.writestr(prefix + "plugins/", "")
    return wheel


def test_extract_from_bundle_copies_matching_collections(tmp_path):
    wheel = _fake_bundle(tmp_path, {"kubernetes.core": "6.2.0", "other.thing": "1.0.0"})
    dest = tmp_path / "colls"
    copied = bootstrap.extract_from_bundle(wheel, [{"name": "kubernetes.core", "version": ">=6.2.0,<7"}], dest)
    assert copied == ["kubernetes.core 6.2.0"]
    assert (dest / "ansible_collections/kubernetes/core/plugins/modules/thing.py").is_file()
    assert not (dest / "ansible_collections/other").exists()
    assert bootstrap.installed_version(dest, "kubernetes.core") == "6.2.0"
    assert bootstrap.missing_requirements(dest, [{"name": "kubernetes.core", "version": ">=6"}]) == []
    assert bootstrap.missing_requirements(dest, [{"name": "kubernetes.core", "version": ">=7"}]) == [
        {"name": "kubernetes.core", "version": ">=7"}
    ]


def test_extract_from_bundle_names_every_unsatisfiable_collection(tmp_path):
    wheel = _fake_bundle(tmp_path, {"kubernetes.core": "5.0.0"})
    with pytest.raises(bootstrap.BootstrapError) as err:
        bootstrap.extract_from_bundle(
            wheel,
            [{"name": "kubernetes.core", "version": ">=6.2.0"}, {"name": "amazon.aws", "version": "*"}],
            tmp_path / "colls",
        )
    message = str(err.value)
    assert "kubernetes.core: ansible-99.0.0-py3-none-any.whl bundles 5.0.0, requirements.yml wants >=6.2.0" in message
    assert "amazon.aws: not bundled" in message


def test_link_checkout_is_idempotent_and_refuses_to_clobber(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    colls = tmp_path / "repo" / ".collections"
    assert bootstrap.link_checkout(colls, repo) is True
    link = colls / "ansible_collections/datamill/platform"
    assert link.resolve() == repo.resolve()
    assert not os.path.isabs(os.readlink(link)), "relative link survives moving the checkout"
    assert bootstrap.link_checkout(colls, repo) is False
    link.unlink()
    link.mkdir()
    with pytest.raises(bootstrap.BootstrapError, match="not a link"):
        bootstrap.link_checkout(colls, repo)


def test_ansible_test_pip_version_reads_source(tmp_path):
    internal = tmp_path / "_internal"
    internal.mkdir()
    (internal / "python_requirements.py").write_text("    return dict(\n        pip='25.1',\n    )\n")
    assert bootstrap.ansible_test_pip_version(tmp_path) == "25.1"
    assert bootstrap.ansible_test_pip_version(None) == bootstrap.DEFAULT_PIP_VERSION


def test_seed_get_pip_writes_once_and_shim_drops_flags(tmp_path):
    path = bootstrap.seed_get_pip(tmp_path, "24.2")
    assert path == tmp_path / "get_pip_24_2.py"
    assert bootstrap.seed_get_pip(tmp_path, "24.2") is None, "an existing cache file is never overwritten"
    # Run the shim with a fake interpreter that records its calls instead of installing anything.
    log = tmp_path / "calls.log"
    fake = tmp_path / "fakepython"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    code = path.read_text().replace("sys.executable", repr(str(fake)))
    script = tmp_path / "shim.py"
    script.write_text(code)
    subprocess.run([sys.executable, str(script), "pip==24.2", "--no-setuptools", "--no-wheel", "-q"], check=True)
    assert log.read_text().splitlines() == ["-m ensurepip --upgrade", "-m pip install pip==24.2 -q"]


def test_setup_linked_this_checkout():
    link = REPO_ROOT / ".collections/ansible_collections/datamill/platform"
    assert link.resolve() == REPO_ROOT
    assert (REPO_ROOT / ".collections/ansible_collections/kubernetes/core/MANIFEST.json").is_file()
