"""Prepare a checkout of datamill.platform for use and for tests.

`make setup` runs this with the virtual environment's Python after the pip requirements are installed.
It does three things, each idempotent:

1. Installs the Galaxy collections listed in ``requirements.yml`` into ``.collections/``.  Galaxy is tried
   first (with a bounded timeout); when it cannot be reached, each collection is taken from the ``ansible``
   community package on PyPI, which bundles it, provided the bundled version satisfies the range pinned in
   ``requirements.yml``.  A collection that neither source can satisfy is an error naming it.
2. Links this checkout into ``.collections/ansible_collections/datamill/platform`` so playbooks in the
   checkout resolve ``datamill.platform.*`` exactly as they would after a Galaxy install.
3. Seeds ansible-test's pip bootstrap cache (``~/.ansible/test/cache/get_pip_<version>.py``) with a small
   script that uses ``ensurepip`` and then pip from the package index, for machines that cannot reach the
   host ansible-test downloads its get-pip script from.  An existing cache file is never overwritten.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = "ansible==12.3.0"
DEFAULT_PIP_VERSION = "24.2"

GET_PIP_SHIM = '''\
"""get-pip stand-in written by datamill.platform's `make setup` (tools/bootstrap.py).

ansible-test normally downloads get-pip from a host that offline machines cannot reach.  This script
bootstraps pip with the standard library's ensurepip, then installs the requested packages from the
package index, which such machines do reach.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
'''


class BootstrapError(Exception):
    """A setup step failed in a way the user must act on."""


def parse_version(text: str) -> tuple[int, ...]:
    """Turn ``6.2.0`` into ``(6, 2, 0)``; pre-release suffixes are ignored for ordering."""
    parts = []
    for piece in text.strip().split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    if not parts:
        raise ValueError(f"not a version: {text!r}")
    return tuple(parts)


def version_satisfies(version: str, spec: str) -> bool:
    """Whether ``version`` meets a Galaxy requirement range such as ``>=6.0.0,<7.0.0`` (``*`` = any)."""
    spec = (spec or "*").strip()
    if spec == "*":
        return True
    have = parse_version(version)
    ops = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        "!=": lambda a, b: a != b,
        "==": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
    }
    for raw in spec.split(","):
        clause = raw.strip()
        match = re.match(r"(>=|<=|!=|==|>|<)?\s*(\S+)$", clause)
        if not match:
            raise ValueError(f"cannot read version range clause {clause!r} in {spec!r}")
        op, ref = match.group(1) or "==", match.group(2)
        width = max(len(have), len(parse_version(ref)))
        left = have + (0,) * (width - len(have))
        right = parse_version(ref) + (0,) * (width - len(parse_version(ref)))
        if not ops[op](left, right):
            return False
    return True


def read_collection_requirements(data: dict) -> list[dict]:
    """Normalise the ``collections:`` list of a requirements.yml document to ``[{name, version}]``."""
    if not isinstance(data, dict) or not isinstance(data.get("collections"), list):
        raise BootstrapError("requirements.yml must be a mapping with a 'collections' list")
    result = []
    for raw in data["collections"]:
        entry = {"name": raw} if isinstance(raw, str) else raw
        name = entry.get("name", "")
        if not re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", name):
            raise BootstrapError(f"requirements.yml: collection name {name!r} is not 'namespace.name'")
        result.append({"name": name, "version": str(entry.get("version", "*"))})
    return result


def installed_version(collections_dir: Path, name: str) -> str | None:
    """Version of ``name`` installed under ``collections_dir/ansible_collections``, or None."""
    namespace, coll = name.split(".")
    root = collections_dir / "ansible_collections" / namespace / coll
    manifest = root / "MANIFEST.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())["collection_info"]["version"]
    galaxy = root / "galaxy.yml"
    if galaxy.is_file():
        match = re.search(r"^version:\s*['\"]?([^'\"\s]+)", galaxy.read_text(), re.M)
        if match:
            return match.group(1)
    return None


def missing_requirements(collections_dir: Path, requirements: list[dict]) -> list[dict]:
    """The requirements not already met by what is installed in ``collections_dir``."""
    missing = []
    for req in requirements:
        have = installed_version(collections_dir, req["name"])
        if have is None or not version_satisfies(have, req["version"]):
            missing.append(req)
    return missing


def extract_from_bundle(wheel: Path, requirements: list[dict], collections_dir: Path) -> list[str]:
    """Copy each required collection out of the ``ansible`` wheel; return 'name version' for each copied.

    Raises BootstrapError naming every collection that is absent from the wheel or bundled at a version
    outside the pinned range.
    """
    problems, copied = [], []
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        for req in requirements:
            namespace, coll = req["name"].split(".")
            prefix = f"ansible_collections/{namespace}/{coll}/"
            try:
                manifest = json.loads(archive.read(prefix + "MANIFEST.json"))
            except KeyError:
                problems.append(f"{req['name']}: not bundled in {wheel.name}")
                continue
            version = manifest["collection_info"]["version"]
            if not version_satisfies(version, req["version"]):
                problems.append(
                    f"{req['name']}: {wheel.name} bundles {version}, requirements.yml wants {req['version']}"
                )
                continue
            target = collections_dir / "ansible_collections" / namespace / coll
            if target.exists() or target.is_symlink():
                shutil.rmtree(target) if not target.is_symlink() else target.unlink()
            for member in names:
                if member.startswith(prefix) and not member.endswith("/"):
                    dest = collections_dir / member
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(archive.read(member))
            copied.append(f"{req['name']} {version}")
    if problems:
        raise BootstrapError("cannot satisfy collections from the bundle:\n  " + "\n  ".join(problems))
    return copied


def link_checkout(collections_dir: Path, repo: Path, namespace: str = "datamill", name: str = "platform") -> bool:
    """Make ``collections_dir/ansible_collections/<ns>/<name>`` a link to the checkout; True if it changed."""
    link = collections_dir / "ansible_collections" / namespace / name
    link.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(repo, link.parent)
    if link.is_symlink() and os.readlink(link) == target:
        return False
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        raise BootstrapError(f"{link} exists and is not a link; remove it and run `make setup` again")
    link.symlink_to(target)
    return True


def ansible_test_pip_version(ansible_test_dir: Path | None) -> str:
    """The pip version ansible-test bootstraps into its venvs (read from its source; a known default)."""
    if ansible_test_dir is not None:
        source = ansible_test_dir / "_internal" / "python_requirements.py"
        if source.is_file():
            match = re.search(r"\bpip\s*=\s*'(\d+(?:\.\d+)*)'", source.read_text())
            if match:
                return match.group(1)
    return DEFAULT_PIP_VERSION


def seed_get_pip(cache_dir: Path, pip_version: str) -> Path | None:
    """Write the get-pip stand-in for ``pip_version`` unless a script is already cached; return it if written."""
    path = cache_dir / f"get_pip_{pip_version.replace('.', '_')}.py"
    if path.exists():
        return None
    cache_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(GET_PIP_SHIM)
    return path


def galaxy_install(requirements_file: Path, collections_dir: Path, timeout: int) -> tuple[bool, str]:
    """Try ``ansible-galaxy collection install``; return (ok, last lines of output)."""
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    cmd = [
        str(galaxy),
        "collection",
        "install",
        "-r",
        str(requirements_file),
        "-p",
        str(collections_dir),
        "--timeout",
        str(timeout),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    return proc.returncode == 0, tail


def download_bundle(spec: str, dest: Path) -> Path:
    """``pip download`` the ``ansible`` wheel (no dependencies) into ``dest`` and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = spec.rsplit("==", maxsplit=1)[-1]
    for existing in dest.glob("ansible-*.whl"):
        if existing.name.startswith(f"ansible-{wanted}-"):
            return existing
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BootstrapError(f"pip download {spec} failed:\n{proc.stderr.strip()[-800:]}")
    wheels = sorted(dest.glob(f"ansible-{wanted}-*.whl"))
    if not wheels:
        raise BootstrapError(f"pip download {spec} produced no wheel in {dest}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", default=str(REPO / "requirements.yml"))
    parser.add_argument("--collections-dir", default=str(REPO / ".collections"))
    parser.add_argument(
        "--bundle",
        default=os.environ.get("DATAMILL_ANSIBLE_BUNDLE", DEFAULT_BUNDLE),
        help="pip spec of the ansible package used when Galaxy is unreachable",
    )
    parser.add_argument("--galaxy-timeout", type=int, default=int(os.environ.get("DATAMILL_GALAXY_TIMEOUT", "20")))
    parser.add_argument(
        "--offline",
        action="store_true",
        default=os.environ.get("DATAMILL_OFFLINE") == "1",
        help="skip Galaxy and use the bundle directly",
    )
    parser.add_argument("--pip-cache-dir", default=os.path.expanduser("~/.ansible/test/cache"))
    args = parser.parse_args(argv)

    import yaml  # installed by requirements.txt before this runs

    collections_dir = Path(args.collections_dir)
    requirements = read_collection_requirements(yaml.safe_load(Path(args.requirements).read_text()))
    missing = missing_requirements(collections_dir, requirements)
    if not missing:
        print("collections: already satisfied (" + ", ".join(r["name"] for r in requirements) + ")")
    else:
        ok, tail = (
            (False, "skipped (--offline)")
            if args.offline
            else galaxy_install(Path(args.requirements), collections_dir, args.galaxy_timeout)
        )
        if ok:
            print("collections: installed from Galaxy")
        else:
            print(
                f"collections: Galaxy unavailable ({tail.splitlines()[-1] if tail else 'no output'}); "
                f"using the {args.bundle} bundle from PyPI"
            )
            wheel = download_bundle(args.bundle, REPO / ".cache" / "wheels")
            for line in extract_from_bundle(
                wheel, missing_requirements(collections_dir, requirements), collections_dir
            ):
                print(f"collections: {line} (from {wheel.name})")
    if link_checkout(collections_dir, REPO):
        print(f"collections: linked checkout as {collections_dir}/ansible_collections/datamill/platform")

    try:
        import ansible_test

        ansible_test_dir = Path(ansible_test.__file__).parent
    except ImportError:
        ansible_test_dir = None
    written = seed_get_pip(Path(args.pip_cache_dir), ansible_test_pip_version(ansible_test_dir))
    if written:
        print(f"ansible-test: seeded pip bootstrap script {written}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BootstrapError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        sys.exit(1)
